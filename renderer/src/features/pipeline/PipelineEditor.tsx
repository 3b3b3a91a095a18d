// The visual pipeline editor: node types from node-types.ts, a zustand store with undo history,
// validation drawn on the nodes, the compiled recipe beside the canvas, run. Edits are saved to the
// project by themselves (half a second after the last change, and at once when the editor closes), so
// switching tabs or pipelines never loses them; the open pipeline is remembered per project.
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { ReactFlow, Background, Controls, MiniMap, type NodeChange, type EdgeChange, type Connection, type Edge, type ReactFlowInstance } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useStore } from 'zustand';
import type { PipelineInfo, Json } from '../../../../contract/ipc';
import type { ProjectViewProps } from '../../routing';
import { navigate } from '../../routing';
import { useQuery, useStudio } from '../../api/use-studio';
import { ConfirmButton, EmptyState, ErrorNote, errMessage } from '../../components/ui';
import { NodesDrawn } from '../../components/NodesDrawn';
import { createPipelineStore, type PipelineStore } from './pipeline-store';
import { compilePipeline, problemsByNode, PALETTE, type CompileResult } from './compile';
import { nodeType, type ParamDef, type ParamValue } from './node-types';
import { asPipelineDoc, type PipelineDoc } from './pipeline-doc';
import { TEMPLATES, templateById } from './templates';
import { PipelineNodeView, type PipelineFlowNode } from './PipelineNodeView';
import { calibrationDatasets, labelDataset } from '../projects/project-data';
import { excludeProblems } from './exclude-check';
import { rememberedPipeline, rememberPipeline } from './pipeline-memory';
import type { PipelineFlowNode as FlowNode } from './PipelineNodeView';

const nodeTypes = { qs: PipelineNodeView };
const fileSlug = (s: string) => s.normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'model';

export function PipelineEditor({ project }: ProjectViewProps) {
  const studio = useStudio();
  const pipelines = useQuery('pipelines.list', { projectId: project.id });
  const [currentId, setCurrentIdState] = useState<string | null>(() => rememberedPipeline(project.id));
  const setCurrentId = (id: string | null) => { setCurrentIdState(id); rememberPipeline(project.id, id); };
  const [err, setErr] = useState<string | null>(null);
  const current = pipelines.data?.find((p) => p.id === currentId) ?? pipelines.data?.[0];

  const createFromTemplate = async (templateId: string) => {
    setErr(null);
    try {
      const doc = templateById(templateId)!.build();
      const saved = await studio.invoke('pipelines.save', { projectId: project.id, name: doc.name, graph: doc as unknown as { [k: string]: Json } });
      setCurrentId(saved.id);
      pipelines.reload();
    } catch (e) { setErr(errMessage(e)); }
  };

  return (
    <div>
      <div className="qs-toolbar">
        <span className="qs-label" style={{ margin: 0 }}>Pipeline</span>
        <select className="qs-input" data-testid="pipeline-select" value={current?.id ?? ''} onChange={(e) => setCurrentId(e.target.value)} disabled={!pipelines.data?.length}>
          {pipelines.data?.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
        </select>
        <span className="qs-label" style={{ margin: '0 0 0 12px' }}>New from template</span>
        {TEMPLATES.map((t) => (
          <button key={t.id} className="qs-btn-secondary qs-btn-small" title={t.summary} data-testid={`template-${t.id}`} onClick={() => createFromTemplate(t.id)}>{t.title}</button>
        ))}
      </div>
      <ErrorNote error={err ?? pipelines.error} />
      {pipelines.data?.length === 0 && (
        <EmptyState title="No pipeline yet" testId="pipeline-empty">Start from a template above: PTQ for CNNs, SmoothQuant or W4A16 GPTQ/AWQ for language models, QAT when PTQ loses too much.</EmptyState>
      )}
      {current && <PipelineMeta key={`meta-${current.id}`} info={current} onChanged={() => { setCurrentId(null); pipelines.reload(); }} />}
      {current && <EditorFor key={current.id} info={current} projectId={project.id} projectDir={project.dir} onSaved={pipelines.reload} />}
    </div>
  );
}

/** Rename or delete the open pipeline (delete asks twice). */
function PipelineMeta({ info, onChanged }: { info: PipelineInfo; onChanged: () => void }) {
  const studio = useStudio();
  const [name, setName] = useState(info.name);
  const [err, setErr] = useState<string | null>(null);
  const rename = async () => {
    setErr(null);
    try { await studio.invoke('pipelines.save', { projectId: info.projectId, id: info.id, name: name.trim(), graph: { ...info.graph, name: name.trim() } }); onChanged(); } catch (e) { setErr(errMessage(e)); }
  };
  const remove = async () => {
    setErr(null);
    try { await studio.invoke('pipelines.delete', { id: info.id }); onChanged(); } catch (e) { setErr(errMessage(e)); }
  };
  return (
    <div className="qs-row" style={{ marginBottom: 8 }}>
      <input className="qs-input" aria-label="Pipeline name" value={name} onChange={(e) => setName(e.target.value)} style={{ width: 220 }} />
      <button className="qs-btn-secondary qs-btn-small" disabled={!name.trim() || name.trim() === info.name} onClick={rename}>Rename</button>
      <ConfirmButton className="qs-btn-secondary qs-btn-small" label="Delete pipeline" confirmLabel="Click again to delete" onConfirm={remove} />
      <ErrorNote error={err} />
    </div>
  );
}

function EditorFor({ info, projectId, projectDir, onSaved }: { info: PipelineInfo; projectId: string; projectDir: string; onSaved: () => void }) {
  const studio = useStudio();
  const store = useMemo<PipelineStore>(() => createPipelineStore(asPipelineDoc(info.graph) ?? templateById('ptq')!.build()), [info.id]);
  const doc = useStore(store, (s) => s.history.present);
  const selected = useStore(store, (s) => s.selected);
  const selectedEdge = useStore(store, (s) => s.selectedEdge);
  const dirty = useStore(store, (s) => s.savedDoc !== s.history.present);
  const canUndo = useStore(store, (s) => s.history.past.length > 0);
  const canRedo = useStore(store, (s) => s.history.future.length > 0);
  const modelNodes = useModelNodeNames(projectId);
  const compiledRaw = useMemo(() => compilePipeline(doc), [doc]);
  // Exclude names are checked against the model's node names here (the compiler does not know the model).
  const extra = useMemo(() => excludeProblems(doc, modelNodes), [doc, modelNodes]);
  const compiled = useMemo<CompileResult>(() => (extra.length && compiledRaw.ok ? { ok: false, problems: extra } : compiledRaw), [compiledRaw, extra]);
  const problems = useMemo(() => problemsByNode([...(compiledRaw.ok ? [] : compiledRaw.problems), ...extra]), [compiledRaw, extra]);
  const [saveErr, setSaveErr] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const save = useCallback(async () => {
    const d = store.getState().history.present;
    if (store.getState().savedDoc === d) return;
    setSaveErr(null);
    setSaving(true);
    try {
      await studio.invoke('pipelines.save', { projectId, id: info.id, name: info.name, graph: { ...(d as unknown as { [k: string]: Json }), name: info.name } });
      // What was sent is saved; edits made while it was on the wire stay unsaved (and autosave again).
      store.getState().markSaved(d);
      onSaved();
    } catch (e) { setSaveErr(`Not saved: ${errMessage(e)}`); } finally { setSaving(false); }
  }, [store, studio, projectId, info.id, info.name, onSaved]);

  // Autosave: half a second after the last edit; and whatever is unsaved when the editor closes
  // (tab switch, other pipeline, other project) is sent before it goes.
  useEffect(() => {
    if (!dirty) return;
    const t = setTimeout(() => void save(), 500);
    return () => clearTimeout(t);
  }, [doc, dirty, save]);
  const saveRef = useRef(save);
  saveRef.current = save;
  useEffect(() => () => { void saveRef.current(); }, []);
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => { e.preventDefault(); };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      // Save works from every field (the inspector's inputs included) and never reaches the browser's "Save page".
      if (mod && e.key.toLowerCase() === 's') { e.preventDefault(); void save(); return; }
      const target = e.target as HTMLElement | null;
      if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
      if (mod && e.key.toLowerCase() === 'z' && !e.shiftKey) { e.preventDefault(); store.getState().undo(); }
      else if (mod && ((e.key.toLowerCase() === 'z' && e.shiftKey) || e.key.toLowerCase() === 'y')) { e.preventDefault(); store.getState().redo(); }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [store, save]);

  const rf = useRef<ReactFlowInstance<FlowNode, Edge> | null>(null);
  const measuredRef = useRef(new Map<string, { width: number; height: number }>());
  // Every node drawn and measured (React Flow hides a node until then): the palette waits for it, so a
  // new node is placed by the real sizes of the others, and the canvas says so (data-ready) for tests.
  const [drawn, setDrawn] = useState(false);
  // New sizes must come back to React Flow in `nodes` before it counts the nodes as drawn: re-render once per batch.
  const [, remeasured] = useReducer((x: number) => x + 1, 0);
  const addFromPalette = (type: string) => {
    // Near the top-left of what is visible, at the first spot no other node covers.
    const el = document.querySelector('[data-testid="pipeline-canvas"]')?.getBoundingClientRect();
    const near = rf.current && el ? rf.current.screenToFlowPosition({ x: el.left + 24, y: el.top + 24 }) : undefined;
    const id = store.getState().addNode(type, undefined, near, measuredRef.current);
    const n = store.getState().history.present.nodes.find((x) => x.id === id);
    if (n && rf.current) void rf.current.setCenter(n.position.x + 105, n.position.y + 60, { zoom: rf.current.getZoom(), duration: 200 });
  };
  const layout = () => {
    store.getState().layout(measuredRef.current);
    requestAnimationFrame(() => void rf.current?.fitView({ padding: 0.12, maxZoom: 1.1, duration: 200 }));
  };

  // The flow is controlled: React Flow rebuilds its nodes from these objects on every render and takes
  // their size from `measured`, hiding a node until it has one. Without the sizes it reported, every
  // edit would hide all nodes until they are measured again (clicks in between miss).
  const nodes: PipelineFlowNode[] = doc.nodes.map((n) => {
    const measured = measuredRef.current.get(n.id);
    return { id: n.id, type: 'qs', position: n.position, selected: n.id === selected, ...(measured ? { measured } : {}), data: { type: n.type, params: n.params, problems: problems.get(n.id) ?? [] } };
  });
  const edges: Edge[] = doc.edges.map((e) => {
    const loop = doc.nodes.find((n) => n.id === e.source)?.type === 'qat-update' && doc.nodes.find((n) => n.id === e.target)?.type === 'qat-forward';
    const sel = e.id === selectedEdge;
    return {
      id: e.id, source: e.source, target: e.target, type: 'smoothstep', animated: loop, selected: sel, interactionWidth: 24, label: loop ? 'next step' : undefined,
      style: sel ? { stroke: '#f43f5e', strokeWidth: 3 } : loop ? { stroke: '#7c3aed', strokeDasharray: '6 4' } : undefined,
    };
  });

  // One Delete key press reports node and edge removals in separate callbacks: gather them and
  // apply them together so a single Ctrl+Z brings everything back.
  const pending = useMemo(() => ({ nodes: new Set<string>(), edges: new Set<string>(), scheduled: false }), [store]);
  const scheduleRemoval = useCallback(() => {
    if (pending.scheduled) return;
    pending.scheduled = true;
    queueMicrotask(() => {
      pending.scheduled = false;
      const nodes = [...pending.nodes], edges = [...pending.edges];
      pending.nodes.clear(); pending.edges.clear();
      store.getState().removeElements(nodes, edges);
    });
  }, [pending, store]);

  const onNodesChange = useCallback((changes: NodeChange<PipelineFlowNode>[]) => {
    // Read the state afresh for every change: one click on another node reports "B selected" and
    // "A deselected" in one batch, and a snapshot taken before the batch would clear B again.
    const st = () => store.getState();
    const removed: string[] = [];
    let resized = false;
    for (const c of changes) {
      if (c.type === 'position' && c.position) st().moveNode(c.id, c.position, !c.dragging);
      else if (c.type === 'position' && c.dragging === false) {
        const n = st().history.present.nodes.find((x) => x.id === c.id);
        if (n) st().moveNode(c.id, n.position, true);
      } else if (c.type === 'dimensions' && c.dimensions) {
        const was = measuredRef.current.get(c.id);
        if (was?.width !== c.dimensions.width || was.height !== c.dimensions.height) { measuredRef.current.set(c.id, { width: c.dimensions.width, height: c.dimensions.height }); resized = true; }
      }
      else if (c.type === 'select') { if (c.selected) st().select(c.id); else if (st().selected === c.id) st().select(null); }
      else if (c.type === 'remove') removed.push(c.id);
    }
    if (removed.length) { for (const id of removed) pending.nodes.add(id); scheduleRemoval(); }
    if (resized) remeasured();
  }, [store, pending, scheduleRemoval]);
  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    for (const c of changes) {
      if (c.type === 'select') { if (c.selected) store.getState().selectEdge(c.id); else if (store.getState().selectedEdge === c.id) store.getState().selectEdge(null); }
    }
    const removed = changes.filter((c) => c.type === 'remove').map((c) => c.id);
    if (removed.length) { for (const id of removed) pending.edges.add(id); scheduleRemoval(); }
  }, [store, pending, scheduleRemoval]);
  const onConnect = useCallback((c: Connection) => { if (c.source && c.target) store.getState().connect(c.source, c.target); }, [store]);

  const sel = doc.nodes.find((n) => n.id === selected);
  const selEdge = doc.edges.find((e) => e.id === selectedEdge);
  const graphProblems = problems.get('') ?? [];
  const title = (id: string) => { const n = doc.nodes.find((x) => x.id === id); return nodeType(n?.type ?? '')?.title ?? id; };

  return (
    <div className="qs-split qs-editor-grid">
      <div className="qs-side qs-palette" data-testid="palette">
        <div className="qs-label">Add a node</div>
        {PALETTE.map((t) => (
          <button key={t.id} title={t.description} data-testid={`palette-${t.id}`} disabled={!drawn} onClick={() => addFromPalette(t.id)}>
            <span className={`qs-swatch qs-stage-${t.stage}`} />{t.title}
          </button>
        ))}
        <p className="qs-muted" style={{ fontSize: 12 }}>Drag from a node's bottom handle to the next node's top handle. Click a connection to select it. Delete removes the selection; Ctrl+Z / Ctrl+Shift+Z undo and redo. Changes save by themselves (Ctrl+S saves at once).</p>
      </div>
      <div className="qs-canvas" data-testid="pipeline-canvas" data-ready={drawn}>
        <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} onNodesChange={onNodesChange} onEdgesChange={onEdgesChange} onConnect={onConnect}
          onInit={(i) => { rf.current = i; }} onPaneClick={() => { store.getState().select(null); store.getState().selectEdge(null); }}
          fitView fitViewOptions={{ padding: 0.12, maxZoom: 1.1 }} deleteKeyCode={['Delete', 'Backspace']} minZoom={0.2}>
          <Background gap={18} color="#e2e8f0" />
          <Controls showInteractive={false} position="top-right" />
          <MiniMap pannable zoomable position="bottom-right" style={{ width: 120, height: 80 }} nodeColor="#94a3b8" />
          <NodesDrawn onChange={setDrawn} />
        </ReactFlow>
        <button className="qs-btn-secondary qs-btn-small qs-canvas-action" data-testid="auto-layout" title="Lay the pipeline out top to bottom (one undo step)" onClick={layout}>Auto-layout</button>
      </div>
      <div className="qs-side">
        <div className="qs-card">
          <div className="qs-row">
            <button className="qs-btn-secondary qs-btn-small" disabled={!canUndo} onClick={() => store.getState().undo()} data-testid="undo">Undo</button>
            <button className="qs-btn-secondary qs-btn-small" disabled={!canRedo} onClick={() => store.getState().redo()} data-testid="redo">Redo</button>
            <button className="qs-btn-small" onClick={save} data-testid="save-pipeline" disabled={!dirty || saving}>{saving ? 'Saving…' : dirty ? 'Save' : 'Saved'}</button>
            <span className={`qs-save-state ${dirty ? 'dirty' : ''}`} data-testid="save-state" role="status">{saving ? 'Saving…' : dirty ? 'Unsaved changes' : 'All changes saved'}</span>
          </div>
          <ErrorNote error={saveErr} testId="save-error" />
          {graphProblems.map((p) => <ErrorNote key={p} error={p} testId="graph-problem" />)}
        </div>
        {sel ? <Inspector store={store} nodeId={sel.id} modelNodes={modelNodes} problems={problems.get(sel.id) ?? []} />
          : selEdge ? (
            <div className="qs-card" data-testid="edge-inspector">
              <h3>Connection</h3>
              <p style={{ fontSize: 13, marginTop: 0 }}>{title(selEdge.source)} → {title(selEdge.target)}</p>
              <button className="qs-btn-secondary qs-btn-small" data-testid="remove-edge" onClick={() => store.getState().removeEdges([selEdge.id])}>Remove connection</button>
            </div>
          ) : <p className="qs-muted" style={{ fontSize: 13 }}>Select a node to edit its parameters, or a connection to remove it.</p>}
        <RunCard projectId={projectId} projectDir={projectDir} pipelineId={info.id} pipelineName={info.name} doc={doc} compiled={compiled} save={save} dirty={dirty} />
      </div>
    </div>
  );
}

/** The project's first model's node names (for the exclude check); null until known or without a model. */
function useModelNodeNames(projectId: string): Set<string> | null {
  const models = useQuery('models.list', { projectId });
  const model = models.data?.[0];
  const graph = useQuery('graph.view', model ? { modelId: model.id } : null);
  return useMemo(() => (graph.data ? new Set(graph.data.nodes.map((n) => n.name).filter(Boolean)) : null), [graph.data]);
}

function Inspector({ store, nodeId, modelNodes, problems }: { store: PipelineStore; nodeId: string; modelNodes: Set<string> | null; problems: string[] }) {
  const node = useStore(store, (s) => s.history.present.nodes.find((n) => n.id === nodeId));
  if (!node) return null;
  const t = nodeType(node.type);
  return (
    <div className="qs-card" data-testid="inspector">
      <h3>{t?.title ?? node.type}</h3>
      <p className="qs-muted" style={{ fontSize: 12.5, marginTop: 0 }}>{t?.description}</p>
      {problems.map((p) => <ErrorNote key={p} error={p} testId="inspector-problem" />)}
      {(t?.parameters ?? []).filter((p) => !p.visible || p.visible(node.params)).map((p) => (
        <ParamControl key={p.key} def={p} value={node.params[p.key] ?? p.default} onChange={(v) => store.getState().setParam(node.id, p.key, v)} suggestions={p.key === 'exclude' ? modelNodes : null} />
      ))}
      <button className="qs-btn-secondary qs-btn-small" style={{ marginTop: 8 }} onClick={() => store.getState().removeNodes([node.id])}>Remove node</button>
    </div>
  );
}

function ParamControl({ def, value, onChange, suggestions }: { def: ParamDef; value: ParamValue; onChange: (v: ParamValue) => void; suggestions?: Set<string> | null }) {
  const id = `param-${def.key}`;
  return (
    <div className="qs-field" style={{ marginBottom: 8 }}>
      <label className="qs-label" htmlFor={id}>{def.label}{def.help ? ` — ${def.help}` : ''}</label>
      {def.kind === 'select' && (
        <select id={id} className="qs-input" value={String(value)} onChange={(e) => onChange(e.target.value)}>{def.options!.map((o) => <option key={o}>{o}</option>)}</select>
      )}
      {def.kind === 'number' && (
        <input id={id} className="qs-input" type="number" value={Number.isFinite(value as number) ? String(value) : ''} step={def.step ?? (def.int ? 1 : 'any')} min={def.min} max={def.max}
          onChange={(e) => onChange(e.target.value === '' ? NaN : Number(e.target.value))} />
      )}
      {def.kind === 'boolean' && <input id={id} type="checkbox" checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)} />}
      {def.kind === 'text' && <input id={id} className="qs-input" value={String(value)} onChange={(e) => onChange(e.target.value)} list={suggestions ? `${id}-names` : undefined} />}
      {def.kind === 'text' && suggestions && <datalist id={`${id}-names`}>{[...suggestions].slice(0, 2000).map((n) => <option key={n} value={n} />)}</datalist>}
    </div>
  );
}

function RunCard({ projectId, projectDir, pipelineId, pipelineName, compiled, save, dirty }: { projectId: string; projectDir: string; pipelineId: string; pipelineName: string; doc: PipelineDoc; compiled: ReturnType<typeof compilePipeline>; save: () => Promise<void>; dirty: boolean }) {
  const studio = useStudio();
  const models = useQuery('models.list', { projectId });
  const datasets = useQuery('datasets.list', { projectId });
  const hw = useQuery('hardware.info', {});
  const [datasetId, setDatasetId] = useState('');
  const [device, setDevice] = useState<'auto' | 'cpu' | 'cuda'>('auto');
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const cal = calibrationDatasets(datasets.data ?? []);
  const labels = labelDataset(datasets.data ?? []);
  const model = models.data?.[0];
  const ds = cal.find((d) => d.id === datasetId) ?? cal[0];
  const cuda = hw.data?.providers.some((p) => p.name === 'cuda' && p.available) ?? false;

  const run = async () => {
    setErr(null);
    if (!compiled.ok) { setErr('Fix the problems shown on the nodes first.'); return; }
    if (!model) { setErr('This project has no model: import one on the Overview tab.'); return; }
    setBusy(true);
    try {
      if (dirty) await save();
      const recipe = { ...compiled.recipe, device } as unknown as { [k: string]: Json };
      // The artifact (and so the browser download) is named after the model and the pipeline, unless
      // the Export node names it: never the same "model.int8.onnx" for every run.
      const named = compiled.options.exportFileName && compiled.options.exportFileName !== nodeType('export')?.parameters[0]?.default ? compiled.options.exportFileName : undefined;
      const params: { [k: string]: Json } = { modelId: model.id, recipe, outputName: named ?? `${fileSlug(model.name)}-${fileSlug(pipelineName)}.onnx` };
      if (ds) { params.datasetId = ds.id; if (typeof ds.options.input === 'string') params.inputName = ds.options.input; }
      if (labels) params.labelsDatasetId = labels.id;
      const started = await studio.invoke('runs.start', { projectId, pipelineId, kind: 'quantize', params });
      // The run keeps the name its pipeline has now (a later rename of the pipeline does not rewrite history).
      await studio.invoke('runs.annotate', { id: started.id, name: pipelineName }).catch(() => undefined);
      navigate({ kind: 'project', projectId, tab: 'runs' });
    } catch (e) { setErr(errMessage(e)); } finally { setBusy(false); }
  };

  return (
    <div className="qs-card" data-testid="run-card">
      <h3>Run</h3>
      <div className="qs-field" style={{ marginBottom: 8 }}>
        <span className="qs-label">Calibration data</span>
        {cal.length ? (
          <select className="qs-input" value={ds?.id} onChange={(e) => setDatasetId(e.target.value)}>{cal.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}</select>
        ) : <span className="qs-muted" style={{ fontSize: 12.5 }}>No .npy data attached: attach some on the Overview tab.</span>}
      </div>
      <div className="qs-field" style={{ marginBottom: 8 }}>
        <span className="qs-label">Device</span>
        <select className="qs-input" value={device} onChange={(e) => setDevice(e.target.value as 'auto' | 'cpu' | 'cuda')}>
          <option value="auto">Auto ({cuda ? 'GPU' : 'CPU'} detected)</option><option value="cpu">CPU</option><option value="cuda" disabled={!cuda}>CUDA GPU{cuda ? '' : ' (not available)'}</option>
        </select>
      </div>
      <button data-testid="run-pipeline" disabled={busy || !compiled.ok} onClick={run}>{busy ? 'Starting…' : 'Run pipeline'}</button>
      <ErrorNote error={err} testId="run-error" />
      <details style={{ marginTop: 10 }} open={compiled.ok}>
        <summary className="qs-label" style={{ cursor: 'pointer' }}>Compiled recipe</summary>
        {compiled.ok ? <pre className="qs-mono" data-testid="recipe-preview" style={{ whiteSpace: 'pre-wrap', maxHeight: 200, overflow: 'auto', background: '#f8fafc', padding: 8, borderRadius: 6 }}>{JSON.stringify(compiled.recipe, null, 2)}</pre>
          : <p className="qs-muted" style={{ fontSize: 12.5 }}>{compiled.problems.length} problem(s): the nodes in red say what to change.</p>}
      </details>
    </div>
  );
}
