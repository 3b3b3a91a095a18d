// The model graph (dagre layout, drawn with xyflow), coloured by quantization state — predicted from
// a pipeline's recipe or read from a run's report — or by per-layer error once a run exists.
// Shape-arithmetic chains are folded into one expandable node each (shape-chains.ts). Large graphs
// (10k nodes) stay usable: a linear-time layout above dagre's limit, every node's size and handles
// given up front (nothing waits for the DOM to measure 10k nodes), only what is in view rendered.
import { Fragment, useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { ReactFlow, Background, Controls, MiniMap, Handle, Position, BaseEdge, type Node, type NodeChange, type Edge, type EdgeProps, type NodeProps, type ReactFlowInstance } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import type { GraphView as GraphData, GraphNode } from '../../../../contract/ipc';
import type { ProjectViewProps } from '../../routing';
import { navigate } from '../../routing';
import { useQuery } from '../../api/use-studio';
import { SUPPORTED_OP_TYPES } from '../../../../contract/recipe';
import { EmptyState, ErrorNote, fmtNum } from '../../components/ui';
import { NodesDrawn } from '../../components/NodesDrawn';
import { layoutGraph, NODE_W, NODE_H } from './graph-layout';
import { collapseShapeGroups, findShapeGroups, SHAPE_GROUP_OP, type CollapsedGraph, type ShapeGroup } from './shape-chains';
import { STATE_COLOURS, errorColour, errorsFromReport, statesFromRecipe, statesFromReport, type QuantState } from './quant-state';
import { parseRunReport } from '../runs/run-report';
import { compilePipeline } from '../pipeline/compile';
import { asPipelineDoc } from '../pipeline/pipeline-doc';
import { useTensorSelection } from '../tensors/selection';
import { useStudio } from '../../api/use-studio';
import { rememberedPipeline } from '../pipeline/pipeline-memory';
import { excludedNames, toggleExcluded } from '../pipeline/exclude-toggle';
import type { Json, PipelineInfo } from '../../../../contract/ipc';

type OpNode = Node<{ op: string; name: string; colour: string; io: boolean; sqnr?: number; match?: boolean; group?: boolean }, 'op'>;

/** Above this many drawn nodes only those in view are rendered (React Flow's onlyRenderVisibleElements). */
const RENDER_VISIBLE_ABOVE = 1000;
/** Every node is drawn NODE_W × NODE_H (border-box) with its handles at the middle of the top and bottom edges. */
const NODE_HANDLES = [
  { type: 'target' as const, position: Position.Top, x: NODE_W / 2, y: 0, width: 1, height: 1 },
  { type: 'source' as const, position: Position.Bottom, x: NODE_W / 2, y: NODE_H, width: 1, height: 1 },
];
const GROUP_COLOUR = '#64748b';

function OpNodeView({ data, selected }: NodeProps<OpNode>) {
  return (
    <div className={`qs-gnode${data.io ? ' io' : ''}${data.group ? ' group' : ''}${selected ? ' selected' : ''}${data.match ? ' match' : ''}`} style={{ background: data.io ? undefined : data.colour, width: NODE_W, height: NODE_H, boxSizing: 'border-box' }} data-testid="graph-node" data-op={data.op} data-id={data.group ? undefined : data.name}>
      <Handle type="target" position={Position.Top} style={{ opacity: 0 }} />
      <div className="op">{data.op}{data.sqnr !== undefined ? ` · ${data.sqnr.toFixed(1)} dB` : ''}</div>
      <div className="nm">{data.name}</div>
      <Handle type="source" position={Position.Bottom} style={{ opacity: 0 }} />
    </div>
  );
}
const nodeTypes = { op: OpNodeView };

/**
 * A connection that skips ranks straight down (a residual, a mask read far below) would be drawn
 * through the nodes between its ends and vanish into the main path: it bows out to the right instead.
 */
function SkipEdge({ sourceX, sourceY, targetX, targetY, style, markerEnd, label, labelStyle, labelBgStyle, labelBgPadding }: EdgeProps) {
  const bow = NODE_W * 0.75 + Math.min(120, (targetY - sourceY) / 20);
  const path = `M ${sourceX},${sourceY} C ${sourceX + bow},${sourceY + 40} ${targetX + bow},${targetY - 40} ${targetX},${targetY}`;
  return <BaseEdge path={path} style={style} markerEnd={markerEnd} label={label} labelX={(sourceX + targetX) / 2 + bow * 0.75} labelY={(sourceY + targetY) / 2} labelStyle={labelStyle} labelBgStyle={labelBgStyle} labelBgPadding={labelBgPadding} />;
}
const edgeTypes = { skip: SkipEdge };
/** Vertical distance beyond which a straight-down connection passes other nodes. */
const SKIP_DY = 2 * (NODE_H + 36);

export function GraphView({ project }: ProjectViewProps) {
  const models = useQuery('models.list', { projectId: project.id });
  const [modelId, setModelId] = useState<string | null>(null);
  const model = models.data?.find((m) => m.id === modelId) ?? models.data?.[0];
  const graph = useQuery('graph.view', model ? { modelId: model.id } : null);
  const pipelines = useQuery('pipelines.list', { projectId: project.id });
  const runs = useQuery('runs.list', { projectId: project.id });
  const [source, setSource] = useState<string>('auto');
  const [mode, setMode] = useState<'state' | 'error'>('state');
  const [selected, setSelected] = useState<string | null>(null);
  const [query, setQuery] = useState('');
  const [hit, setHit] = useState(0);
  const [drawn, setDrawn] = useState(false);
  const [collapse, setCollapse] = useState(true);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => new Set());
  /** A node to centre on once the layout that draws it exists (after expanding its group). */
  const [centreOn, setCentreOn] = useState<string | null>(null);
  const rf = useRef<ReactFlowInstance<OpNode, Edge> | null>(null);
  // The flow is controlled and its nodes are rebuilt when colours, search or selection change; React Flow
  // hides (and re-measures) a node given without `measured`, so the sizes it reported are passed back
  // (one re-render per batch of new sizes: React Flow counts the nodes as drawn only once they come back).
  const measuredRef = useRef(new Map<string, { width: number; height: number }>());
  const [measureTick, remeasured] = useReducer((x: number) => x + 1, 0);
  const onNodesChange = useCallback((changes: NodeChange<OpNode>[]) => {
    let changed = false;
    for (const c of changes) {
      if (c.type !== 'dimensions' || !c.dimensions) continue;
      const was = measuredRef.current.get(c.id);
      if (was?.width === c.dimensions.width && was.height === c.dimensions.height) continue;
      measuredRef.current.set(c.id, { width: c.dimensions.width, height: c.dimensions.height });
      changed = true;
    }
    if (changed) remeasured();
  }, []);

  const done = (runs.data ?? []).filter((r) => r.status === 'succeeded' && r.result);
  // Auto: the latest run's report; before any run, the pipeline open in the editor (else the first).
  const openPipeline = pipelines.data?.find((p) => p.id === rememberedPipeline(project.id)) ?? pipelines.data?.[0];
  const src = source === 'auto' ? (done[0] ? `run:${done[0].id}` : openPipeline ? `pipe:${openPipeline.id}` : 'none') : source;
  const report = src.startsWith('run:') ? parseRunReport(done.find((r) => `run:${r.id}` === src)?.result) : null;

  const groups = useMemo<ShapeGroup[]>(() => (graph.data ? findShapeGroups(graph.data) : []), [graph.data]);
  // What is drawn: the graph with the shape-arithmetic groups folded (unless expanded, or folding is off).
  const view = useMemo<CollapsedGraph | null>(() => {
    const g = graph.data;
    if (!g) return null;
    return collapse ? collapseShapeGroups(g, groups, expanded) : { nodes: g.nodes, edges: g.edges, groupOf: new Map(), groups: new Map() };
  }, [graph.data, groups, collapse, expanded]);
  const layout = useMemo(() => (view ? layoutGraph({ nodes: view.nodes.map((n) => ({ id: n.id, width: NODE_W, height: NODE_H })), edges: view.edges }) : null), [view]);
  const { states, errors } = useMemo(() => {
    const g = graph.data;
    if (!g) return { states: new Map<string, QuantState>(), errors: new Map<string, number>() };
    if (report) return { states: statesFromReport(g.nodes, report), errors: errorsFromReport(g.nodes, report) };
    const pipe = src.startsWith('pipe:') ? pipelines.data?.find((p) => `pipe:${p.id}` === src) : undefined;
    const doc = pipe ? asPipelineDoc(pipe.graph) : undefined;
    const c = doc ? compilePipeline(doc) : undefined;
    return { states: c?.ok ? statesFromRecipe(g.nodes, c.recipe) : new Map<string, QuantState>(), errors: new Map<string, number>() };
  }, [graph.data, report, src, pipelines.data]);

  // Search by node name, op type or the name of a tensor it reads or writes (as Netron's find).
  const q = query.trim().toLowerCase();
  const matches = useMemo(() => (q && graph.data ? graph.data.nodes.filter((n) => n.opType !== 'Input' && n.opType !== 'Output' && (n.name.toLowerCase().includes(q) || n.opType.toLowerCase() === q || n.outputs.some((o) => o.toLowerCase().includes(q)) || n.inputs.some((i) => i.toLowerCase() === q))) : []), [q, graph.data]);
  // A folded group is marked when one of its members matches.
  const matchIds = useMemo(() => new Set(matches.flatMap((n) => { const gid = view?.groupOf.get(n.id); return gid ? [n.id, gid] : [n.id]; })), [matches, view]);
  const goTo = (i: number) => {
    if (!matches.length || !layout) return;
    const k = ((i % matches.length) + matches.length) % matches.length;
    const n = matches[k]!;
    setHit(k);
    setSelected(n.id);
    // A match inside a folded group: unfold it, then centre once the new layout draws the node.
    const gid = view?.groupOf.get(n.id);
    if (gid) setExpanded((e) => new Set([...e, gid]));
    setCentreOn(n.id);
  };
  useEffect(() => {
    if (!centreOn || !layout || !rf.current) return;
    const p = layout.positions.get(centreOn);
    if (!p) return;
    setCentreOn(null);
    void rf.current.setCenter(p.x + NODE_W / 2, p.y + NODE_H / 2, { zoom: Math.max(1, rf.current.getZoom()), duration: 250 });
  }, [centreOn, layout]);
  const shapeOf = useMemo(() => new Map((graph.data?.tensors ?? []).map((t) => [t.name, t.shape.length ? `[${t.shape.map((d) => d ?? '?').join(',')}]` : ''])), [graph.data]);

  if (models.data?.length === 0) return <EmptyState title="No model in this project">Import an ONNX model on the Overview tab to see its graph.</EmptyState>;
  const g = graph.data;
  const effectiveMode = mode === 'error' && errors.size ? 'error' : 'state';
  // Built when what they show changes; search hits and the selection then replace only their own
  // node objects (React Flow reuses the rest as they are: 10k fresh nodes per keystroke would be felt).
  const baseNodes: OpNode[] = useMemo(() => (view && layout ? view.nodes.map((n) => {
    const group = n.opType === SHAPE_GROUP_OP && view.groups.has(n.id);
    const st = states.get(n.id) ?? 'float';
    const e = errors.get(n.id);
    const colour = group ? GROUP_COLOUR : effectiveMode === 'error' ? (e !== undefined ? errorColour(e) : STATE_COLOURS.float) : STATE_COLOURS[st];
    // Size and handles given, so the node counts as drawn before the DOM measures it (off-screen ones never are).
    const measured = measuredRef.current.get(n.id) ?? { width: NODE_W, height: NODE_H };
    return { id: n.id, type: 'op', position: layout.positions.get(n.id) ?? { x: 0, y: 0 }, selected: false, draggable: false, width: measured.width, height: measured.height, measured, handles: NODE_HANDLES,
      data: { op: n.opType, name: n.name || n.outputs[0] || '', colour, io: n.opType === 'Input' || n.opType === 'Output', sqnr: effectiveMode === 'error' ? e : undefined, match: false, group } };
  }) : []), [view, layout, states, errors, effectiveMode, measureTick]); // eslint-disable-line react-hooks/exhaustive-deps
  const nodes: OpNode[] = useMemo(() => (selected || matchIds.size
    ? baseNodes.map((n) => (n.id === selected || matchIds.has(n.id) ? { ...n, selected: n.id === selected, data: { ...n.data, match: matchIds.has(n.id) } } : n))
    : baseNodes), [baseNodes, selected, matchIds]);
  // Tensor shapes on the edges (as Netron draws them), small so they do not cover the nodes.
  const edges: Edge[] = useMemo(() => (view && layout ? view.edges.map((e, i) => {
    const a = layout.positions.get(e.source), b = layout.positions.get(e.target);
    const skip = a && b && b.y - a.y > SKIP_DY && Math.abs(b.x - a.x) < NODE_W / 2;
    return { id: `e${i}`, source: e.source, target: e.target, ...(skip ? { type: 'skip' } : {}), style: { stroke: '#94a3b8' }, label: shapeOf.get(e.tensor) || undefined, labelStyle: { fontSize: 9, fill: '#64748b' }, labelBgStyle: { fillOpacity: 0.8 }, labelBgPadding: [2, 1] as [number, number] };
  }) : []), [view, layout, shapeOf]);
  const counts = new Map<QuantState, number>();
  // Operators only, as the node count beside it: the drawn Input/Output boxes are not float operators.
  const ioIds = new Set(g?.nodes.filter((n) => n.opType === 'Input' || n.opType === 'Output').map((n) => n.id));
  for (const [id, st] of states) if (!ioIds.has(id)) counts.set(st, (counts.get(st) ?? 0) + 1);
  const selNode = g?.nodes.find((n) => n.id === selected);
  const selGroup = selected ? view?.groups.get(selected) : undefined;
  const foldedNodes = view ? [...view.groups.values()].reduce((k, gr) => k + gr.members.length, 0) : 0;

  return (
    <div>
      <div className="qs-toolbar">
        {(models.data?.length ?? 0) > 1 && (
          <select className="qs-input" value={model?.id} onChange={(e) => setModelId(e.target.value)}>{models.data!.map((m) => <option key={m.id} value={m.id}>{m.name}</option>)}</select>
        )}
        <span className="qs-label" style={{ margin: 0 }}>Colour by</span>
        <select className="qs-input" data-testid="graph-source" value={src} onChange={(e) => setSource(e.target.value)}>
          <option value="none">Nothing (float model)</option>
          {pipelines.data?.map((p) => <option key={p.id} value={`pipe:${p.id}`}>Recipe of pipeline “{p.name}”</option>)}
          {done.map((r, i) => <option key={r.id} value={`run:${r.id}`}>Run #{done.length - i} ({new Date(r.createdAt).toLocaleTimeString()})</option>)}
        </select>
        <select className="qs-input" data-testid="graph-mode" value={effectiveMode} onChange={(e) => setMode(e.target.value as 'state' | 'error')}>
          <option value="state">Quantization state</option>
          <option value="error" disabled={!errors.size}>Per-layer error{errors.size ? '' : ' (needs a run)'}</option>
        </select>
        <div className="qs-legend" data-testid="graph-legend">
          {effectiveMode === 'state' ? (Object.keys(STATE_COLOURS) as QuantState[]).map((s) => <span key={s}><span className="qs-swatch" style={{ background: STATE_COLOURS[s] }} />{s} {counts.get(s) ? `(${counts.get(s)})` : ''}</span>)
            : <span><span className="qs-swatch" style={{ background: errorColour(5) }} />&lt;10 dB <span className="qs-swatch" style={{ background: errorColour(22) }} />~22 dB <span className="qs-swatch" style={{ background: errorColour(40) }} />≥35 dB SQNR</span>}
        </div>
        {/* Operators counted as the model table counts them; the drawn Input/Output boxes are said apart. */}
        {g && (() => {
          const ops = g.nodes.filter((n) => n.opType !== 'Input' && n.opType !== 'Output').length;
          // The graph view draws Constant nodes as the weights they are: say so, so the count adds up to the model table's.
          const folded = (model?.nodeCount ?? ops) - ops;
          return <span className="qs-muted" style={{ fontSize: 12 }} data-testid="graph-count">opset {g.opset} · {ops} nodes{folded > 0 ? ` + ${folded} Constant folded into weights = ${model!.nodeCount} in the model` : ''}</span>;
        })()}
        {groups.length > 0 && (
          <label className="qs-muted" style={{ fontSize: 12 }} title="Shape → Gather → Unsqueeze → Concat chains that compute sizes for Reshape, Expand and masks, drawn as one node each (click one to expand it)">
            <input type="checkbox" data-testid="collapse-shapes" checked={collapse} onChange={(e) => { setCollapse(e.target.checked); setExpanded(new Set()); }} /> Fold shape arithmetic
            {collapse && view && view.groups.size > 0 && <span data-testid="graph-folded" data-groups={view.groups.size} data-nodes={foldedNodes}> ({foldedNodes} nodes in {view.groups.size})</span>}
          </label>
        )}
        {g && (
          <span className="qs-row" style={{ gap: 6 }}>
            <input className="qs-input" data-testid="graph-search" style={{ width: 200 }} placeholder="Find a node, op or tensor…" aria-label="Find in the graph" value={query}
              onChange={(e) => { setQuery(e.target.value); setHit(0); }} onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); goTo(e.shiftKey ? hit - 1 : matches[hit]?.id === selected ? hit + 1 : hit); } }} />
            {q && <span className="qs-muted" style={{ fontSize: 12 }} data-testid="graph-search-count">{matches.length ? `${hit + 1} of ${matches.length}` : 'no match'}</span>}
            {q && matches.length > 1 && <button className="qs-btn-secondary qs-btn-small" data-testid="graph-search-next" onClick={() => goTo(matches[hit]?.id === selected ? hit + 1 : hit)}>Next</button>}
          </span>
        )}
      </div>
      <ErrorNote error={graph.error ?? models.error} />
      <div className="qs-split qs-graph-split">
        <div className="qs-canvas" data-testid="graph-canvas" data-ready={drawn}>
          {graph.loading && !g && <p className="qs-muted" style={{ padding: 16 }}>Reading the model…</p>}
          {g && (
            <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} edgeTypes={edgeTypes} onNodesChange={onNodesChange} onInit={(i) => { rf.current = i; }} onNodeClick={(_, n) => setSelected(n.id)} onPaneClick={() => setSelected(null)}
              onlyRenderVisibleElements={nodes.length > RENDER_VISIBLE_ABOVE} nodesConnectable={false} nodesDraggable={false} fitView fitViewOptions={{ padding: 0.05, maxZoom: 1, nodes: nodes.slice(0, 9).map((n) => ({ id: n.id })) }} minZoom={0.05}>
              <Background gap={20} color="#eef2f7" />
              <Controls showInteractive={false} position="top-right" />
              {/* Above that size the overview is sub-pixel slivers (and 10k rectangles redrawn on every move): left out. */}
              {nodes.length <= RENDER_VISIBLE_ABOVE && <MiniMap pannable zoomable position="bottom-right" style={{ width: 140, height: 100 }} nodeColor={(n) => (n.data as OpNode['data']).match ? '#f43f5e' : (n.data as OpNode['data']).colour} />}
              <NodesDrawn onChange={setDrawn} />
            </ReactFlow>
          )}
        </div>
        <div className="qs-side">
          {selGroup && g ? <GroupDetails group={selGroup} graph={g} onExpand={() => { setExpanded((e) => new Set([...e, selGroup.id])); setSelected(null); }} />
            : selNode && g && model ? <NodeDetails node={selNode} graph={g} modelId={model.id} projectId={project.id} state={states.get(selNode.id)} sqnr={errors.get(selNode.id)}
            pipeline={pipelines.data?.find((p) => p.id === rememberedPipeline(project.id)) ?? pipelines.data?.[0]} onPipelineSaved={pipelines.reload} />
            : <EmptyState title="Click a node">Its inputs, weights and outputs appear here with shapes and dtypes; open any tensor's histogram from there.</EmptyState>}
        </div>
      </div>
    </div>
  );
}

/** A folded shape-arithmetic group: what it holds, and a button to draw its members again. */
function GroupDetails({ group, graph, onExpand }: { group: ShapeGroup; graph: GraphData; onExpand: () => void }) {
  const members = new Set(group.members);
  const names = graph.nodes.filter((n) => members.has(n.id)).map((n) => n.name || n.id);
  return (
    <div className="qs-card" data-testid="group-details">
      <h3>Shape arithmetic <span className="qs-muted" style={{ fontWeight: 400 }}>{group.members.length} nodes</span></h3>
      <p className="qs-muted" style={{ fontSize: 12.5, marginTop: 0 }}>Computes sizes (not data) for the node it feeds; never quantized. {Object.entries(group.ops).map(([op, k]) => `${op} ×${k}`).join(', ')}.</p>
      <button className="qs-btn-secondary qs-btn-small" data-testid="expand-group" onClick={onExpand}>Expand</button>
      <ul className="qs-mono" style={{ fontSize: 11.5, paddingLeft: 16, maxHeight: 240, overflow: 'auto' }}>{names.map((n) => <li key={n} className="qs-ellipsis" title={n}>{n}</li>)}</ul>
    </div>
  );
}

/** min / max / std of a weight, measured by the engine on its real values. */
function WeightStats({ modelId, tensor }: { modelId: string; tensor: string }) {
  const st = useQuery('tensors.stats', { modelId, tensor });
  if (st.error) return <div className="qs-muted">{st.error.message}</div>;
  if (!st.data) return null;
  return <div className="qs-muted qs-ellipsis" style={{ fontSize: 11.5 }} data-testid="weight-stats">[{fmtNum(st.data.min)}, {fmtNum(st.data.max)}] σ {fmtNum(st.data.std)}</div>;
}

/** Leave the node in float (or quantize it again) in the project's open pipeline: its exclude list, saved at once. */
function ExcludeToggle({ node, pipeline, onSaved }: { node: GraphNode; pipeline: PipelineInfo; onSaved: () => void }) {
  const studio = useStudio();
  const [err, setErr] = useState<string | null>(null);
  const doc = asPipelineDoc(pipeline.graph);
  if (!doc || !node.name || !doc.nodes.some((n) => n.type === 'quant-params')) return null;
  const excluded = excludedNames(doc).includes(node.name);
  const toggle = async () => {
    setErr(null);
    const next = toggleExcluded(doc, node.name)!;
    try { await studio.invoke('pipelines.save', { projectId: pipeline.projectId, id: pipeline.id, name: pipeline.name, graph: next as unknown as { [k: string]: Json } }); onSaved(); } catch (e) { setErr((e as Error).message); }
  };
  return (
    <div style={{ margin: '8px 0' }}>
      <button className="qs-btn-secondary qs-btn-small" data-testid="toggle-exclude" onClick={toggle}>{excluded ? `Quantize it again in “${pipeline.name}”` : `Leave in float in “${pipeline.name}”`}</button>
      {excluded && <span className="qs-muted" style={{ fontSize: 12, marginLeft: 6 }} data-testid="excluded-note">excluded by the pipeline</span>}
      <ErrorNote error={err} />
    </div>
  );
}

function NodeDetails({ node, graph, modelId, projectId, state, sqnr, pipeline, onPipelineSaved }: { node: GraphNode; graph: GraphData; modelId: string; projectId: string; state?: QuantState; sqnr?: number; pipeline?: PipelineInfo; onPipelineSaved: () => void }) {
  const pick = useTensorSelection((s) => s.pick);
  const info = (name: string) => graph.tensors.find((t) => t.name === name);
  const open = (t: string) => { pick(modelId, t); navigate({ kind: 'project', projectId, tab: 'ranges' }); };
  const row = (name: string, role: string) => {
    const t = info(name);
    const histogram = (t?.kind === 'weight' || (t && t.dtype.startsWith('float')) || role === 'output' || role === 'input') && t?.kind !== 'input';
    const type = t && t.dtype !== 'unknown' ? `${t.dtype} [${t.shape.map((d) => d ?? '?').join(', ')}]` : 'activation';
    return (
      <tr key={role + name}>
        <td className="qs-muted">{role}</td>
        <td className="qs-tensor-cell">
          {/* One line per name, cut with an ellipsis; the full name is the tooltip. */}
          <div className="qs-mono qs-ellipsis" title={name} data-testid="tensor-name">{name}</div>
          <div className="qs-muted qs-ellipsis" style={{ fontSize: 11.5 }} title={type}>{type}</div>
          {t?.kind === 'weight' && <WeightStats modelId={modelId} tensor={name} />}
        </td>
        <td className="qs-tensor-action">{histogram ? <button className="qs-btn-secondary qs-btn-small" title={`Histogram and quantization grids of ${name}`} data-testid={`open-histogram-${role}`} onClick={() => open(name)}>Histogram</button> : null}</td>
      </tr>
    );
  };
  return (
    <div className="qs-card" data-testid="node-details">
      <h3 className="qs-ellipsis" title={node.name}>{node.opType} <span className="qs-muted" style={{ fontWeight: 400 }}>{node.name}</span></h3>
      {pipeline && (SUPPORTED_OP_TYPES as readonly string[]).includes(node.opType) && <ExcludeToggle node={node} pipeline={pipeline} onSaved={onPipelineSaved} />}
      <dl className="qs-kv">
        <dt>State</dt><dd data-testid="node-state">{state ?? 'float'}</dd>
        {sqnr !== undefined && <><dt>SQNR</dt><dd>{fmtNum(sqnr, 2)} dB</dd></>}
        {Object.entries(node.attributes).map(([k, v]) => <Fragment key={k}><dt>{k}</dt><dd className="qs-mono">{v}</dd></Fragment>)}
      </dl>
      <table className="qs-table2 qs-tensor-table" style={{ marginTop: 10 }} data-testid="node-tensors">
        <colgroup><col style={{ width: 58 }} /><col /><col style={{ width: 92 }} /></colgroup>
        <thead><tr><th>Role</th><th>Tensor · type</th><th /></tr></thead>
        <tbody>
          {node.inputs.filter(Boolean).map((i) => row(i, node.weights.includes(i) ? 'weight' : 'input'))}
          {node.outputs.filter(Boolean).map((o) => row(o, 'output'))}
        </tbody>
      </table>
    </div>
  );
}
