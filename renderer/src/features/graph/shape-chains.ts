// Shape arithmetic collapsed, as Netron-like viewers do: exporters surround every Reshape, Expand or
// attention mask with Shape -> Gather -> Unsqueeze -> Concat chains that compute sizes, not data, and
// make a transformer's graph several times taller than its layers. A node is shape arithmetic when it
// is a Shape/Size node, or an integer-bookkeeping op whose every non-weight input comes from shape
// arithmetic; connected runs of such nodes are drawn as one expandable node. Pure (tests share it).
import type { GraphNode, GraphView } from '../../../../contract/ipc';

/** Ops that appear in shape computations (applied to shape values they stay shape values). */
const SHAPE_OPS = new Set(['Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Slice', 'Cast', 'Reshape', 'Mul', 'Add', 'Sub', 'Div', 'Neg', 'Floor', 'Ceil',
  'Range', 'ConstantOfShape', 'Equal', 'Less', 'Greater', 'Not', 'Where', 'Expand', 'ReduceProd', 'Min', 'Max', 'Identity']);

/** Opcode drawn for a collapsed group. */
export const SHAPE_GROUP_OP = 'Shape ops';

export interface ShapeGroup {
  /** `shapes:<id of its first member>`. */
  id: string;
  /** Member node ids in model order. */
  members: string[];
  /** Op type -> how many members have it. */
  ops: Record<string, number>;
}

/** Groups of two or more connected shape-arithmetic nodes, in model order. */
export function findShapeGroups(g: Pick<GraphView, 'nodes' | 'edges'>): ShapeGroup[] {
  const producer = new Map<string, string>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n.id);
  const shape = new Set<string>();
  const isShape = (n: GraphNode): boolean => {
    if (n.opType === 'Shape' || n.opType === 'Size') return !n.domain;
    if (n.domain || !SHAPE_OPS.has(n.opType)) return false;
    const data = n.inputs.filter((i) => i && !n.weights.includes(i));
    return data.length > 0 && data.every((i) => shape.has(producer.get(i) ?? ''));
  };
  // Model order is topological in valid ONNX, so one pass usually settles it; repeat until it does.
  for (let changed = true; changed;) {
    changed = false;
    for (const n of g.nodes) if (!shape.has(n.id) && isShape(n)) { shape.add(n.id); changed = true; }
  }
  // Connected components over edges between shape nodes (union-find).
  const parent = new Map<string, string>();
  const find = (x: string): string => { let r = x; while (parent.get(r) !== r) r = parent.get(r)!; parent.set(x, r); return r; };
  for (const id of shape) parent.set(id, id);
  for (const e of g.edges) if (shape.has(e.source) && shape.has(e.target)) { const a = find(e.source), b = find(e.target); if (a !== b) parent.set(b, a); }
  const byRoot = new Map<string, GraphNode[]>();
  for (const n of g.nodes) {
    if (!shape.has(n.id)) continue;
    const r = find(n.id);
    const list = byRoot.get(r);
    if (list) list.push(n); else byRoot.set(r, [n]);
  }
  const groups: ShapeGroup[] = [];
  for (const members of byRoot.values()) {
    if (members.length < 2) continue;
    const ops: Record<string, number> = {};
    for (const m of members) ops[m.opType] = (ops[m.opType] ?? 0) + 1;
    groups.push({ id: `shapes:${members[0]!.id}`, members: members.map((m) => m.id), ops });
  }
  const order = new Map(g.nodes.map((n, i) => [n.id, i]));
  return groups.sort((a, b) => order.get(a.members[0]!)! - order.get(b.members[0]!)!);
}

export interface CollapsedGraph {
  nodes: GraphNode[];
  edges: GraphView['edges'];
  /** Member id -> the id of the collapsed group drawn in its place (collapsed groups only). */
  groupOf: Map<string, string>;
  /** Drawn group node id -> its group. */
  groups: Map<string, ShapeGroup>;
}

/** The graph as drawn: every group not in `expanded` replaced by one node; edges re-pointed and de-duplicated. */
export function collapseShapeGroups(g: Pick<GraphView, 'nodes' | 'edges'>, groups: ShapeGroup[], expanded: ReadonlySet<string>): CollapsedGraph {
  const groupOf = new Map<string, string>();
  const drawnGroups = new Map<string, ShapeGroup>();
  for (const gr of groups) {
    if (expanded.has(gr.id)) continue;
    drawnGroups.set(gr.id, gr);
    for (const m of gr.members) groupOf.set(m, gr.id);
  }
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  // Tensors read outside their group, per group.
  const leaving = new Map<string, Set<string>>();
  for (const e of g.edges) {
    const gid = groupOf.get(e.source);
    if (gid && groupOf.get(e.target) !== gid) { const set = leaving.get(gid) ?? new Set<string>(); set.add(e.tensor); leaving.set(gid, set); }
  }
  const nodes: GraphNode[] = [];
  for (const n of g.nodes) {
    const gid = groupOf.get(n.id);
    if (!gid) { nodes.push(n); continue; }
    const gr = drawnGroups.get(gid)!;
    if (gr.members[0] !== n.id) continue; // drawn once, where its first member was
    const inside = gr.members.map((id) => byId.get(id)!);
    const produced = new Set(inside.flatMap((x) => x.outputs));
    // The group reads what its members read from outside it and writes what is read outside it.
    const inputs = [...new Set(inside.flatMap((x) => x.inputs.filter((i) => i && !produced.has(i) && !x.weights.includes(i))))];
    nodes.push({ id: gid, name: `${gr.members.length} nodes`, opType: SHAPE_GROUP_OP, domain: '', inputs, outputs: [...(leaving.get(gid) ?? [])], weights: [], attributes: {} });
  }
  const seen = new Set<string>();
  const edges: GraphView['edges'] = [];
  for (const e of g.edges) {
    const source = groupOf.get(e.source) ?? e.source, target = groupOf.get(e.target) ?? e.target;
    const key = `${source}\u0000${target}`;
    if (source === target || seen.has(key)) continue;
    seen.add(key);
    edges.push({ source, target, tensor: e.tensor });
  }
  return { nodes, edges, groupOf, groups: drawnGroups };
}
