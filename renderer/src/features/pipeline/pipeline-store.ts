// The editor's state: one zustand store per open pipeline (createPipelineStore), with undo history.
// Actions are pure edits of the doc; saving is the view's job (through the IPC client), not the store's.
import { createStore } from 'zustand/vanilla';
import { defaultParams, nodeType, type ParamValue } from './node-types';
import { edgeId, type PipelineDoc, type PipelineNode } from './pipeline-doc';
import { canRedo, canUndo, initHistory, pushHistory, redo, replacePresent, undo, type History } from './history';
import { autoLayout, freePosition, type NodeSizes } from './pipeline-layout';

export interface PipelineState {
  history: History<PipelineDoc>;
  selected: string | null;
  /** The selected connection (an edge id); a node and an edge are never selected together. */
  selectedEdge: string | null;
  /** The doc last saved to the project, to show unsaved changes. */
  savedDoc: PipelineDoc | null;
  load(doc: PipelineDoc, saved?: boolean): void;
  /** Adds a node at `position`, or at the first free spot near `near` (never on top of another node, by their drawn `sizes` where known). */
  addNode(type: string, position?: { x: number; y: number }, near?: { x: number; y: number }, sizes?: NodeSizes): string;
  removeNodes(ids: string[]): void;
  removeEdges(ids: string[]): void;
  /** Nodes and edges deleted together (one keyboard Delete) as one undo step. */
  removeElements(nodeIds: string[], edgeIds: string[]): void;
  connect(source: string, target: string): void;
  setParam(nodeId: string, key: string, value: ParamValue): void;
  /** Live move while dragging (no undo step); commitMove records one step at the drop. */
  moveNode(nodeId: string, position: { x: number; y: number }, commit: boolean): void;
  select(id: string | null): void;
  selectEdge(id: string | null): void;
  /** Lay the whole graph out top to bottom (drawn `sizes` where known), as one undo step. */
  layout(sizes?: NodeSizes): void;
  undo(): void;
  redo(): void;
  /** Record `doc` (default: the present) as what the project now stores. */
  markSaved(doc?: PipelineDoc): void;
}

export type PipelineStore = ReturnType<typeof createPipelineStore>;

export function createPipelineStore(initial: PipelineDoc) {
  let dragOrigin: PipelineDoc | null = null;
  return createStore<PipelineState>()((set, get) => {
    const edit = (f: (d: PipelineDoc) => PipelineDoc) => set((s) => ({ history: pushHistory(s.history, f(s.history.present)) }));
    return {
      history: initHistory(initial),
      selected: null,
      selectedEdge: null,
      savedDoc: initial,
      load: (doc, saved = true) => set({ history: initHistory(doc), selected: null, selectedEdge: null, savedDoc: saved ? doc : null }),
      addNode: (type, position, near, sizes) => {
        if (!nodeType(type)) throw new Error(`Unknown node type '${type}'.`);
        const doc = get().history.present;
        let i = 1;
        while (doc.nodes.some((n) => n.id === `${type}-${i}`)) i++;
        const id = `${type}-${i}`;
        const node: PipelineNode = { id, type, position: position ?? freePosition(doc, type, near, sizes), params: defaultParams(type) };
        edit((d) => ({ ...d, nodes: [...d.nodes, node] }));
        set({ selected: id, selectedEdge: null });
        return id;
      },
      removeNodes: (ids) => get().removeElements(ids, []),
      removeEdges: (ids) => get().removeElements([], ids),
      removeElements: (nodeIds, edgeIds) => {
        const d = get().history.present;
        const nodes = d.nodes.filter((n) => !nodeIds.includes(n.id));
        const edges = d.edges.filter((e) => !edgeIds.includes(e.id) && !nodeIds.includes(e.source) && !nodeIds.includes(e.target));
        if (nodes.length === d.nodes.length && edges.length === d.edges.length) return;
        edit((doc) => ({ ...doc, nodes, edges }));
        if (nodeIds.includes(get().selected ?? '')) set({ selected: null });
        if (!edges.some((e) => e.id === get().selectedEdge)) set({ selectedEdge: null });
      },
      connect: (source, target) => {
        const d = get().history.present;
        if (source === target || d.edges.some((e) => e.source === source && e.target === target)) return;
        edit((doc) => ({ ...doc, edges: [...doc.edges, { id: edgeId(source, target), source, target }] }));
      },
      setParam: (nodeId, key, value) => edit((d) => ({ ...d, nodes: d.nodes.map((n) => (n.id === nodeId ? { ...n, params: { ...n.params, [key]: value } } : n)) })),
      moveNode: (nodeId, position, commit) => {
        const s = get();
        if (!dragOrigin) dragOrigin = s.history.present;
        const moved = { ...s.history.present, nodes: s.history.present.nodes.map((n) => (n.id === nodeId ? { ...n, position } : n)) };
        if (commit) {
          const origin = dragOrigin;
          dragOrigin = null;
          set({ history: pushHistory(replacePresent(s.history, origin), moved) });
        } else set({ history: replacePresent(s.history, moved) });
      },
      select: (id) => set(id === null ? { selected: null } : { selected: id, selectedEdge: null }),
      selectEdge: (id) => set(id === null ? { selectedEdge: null } : { selectedEdge: id, selected: null }),
      layout: (sizes) => edit((d) => autoLayout(d, sizes)),
      undo: () => set((s) => (canUndo(s.history) ? { history: undo(s.history) } : s)),
      redo: () => set((s) => (canRedo(s.history) ? { history: redo(s.history) } : s)),
      markSaved: (doc) => set((s) => ({ savedDoc: doc ?? s.history.present })),
    };
  });
}
