// The visual pipeline editor: node types from node-types.ts, a zustand store with undo history,
// validation drawn on the nodes, the compiled recipe beside the canvas, save with the project, run.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ReactFlow, Background, Controls, type NodeChange, type EdgeChange, type Connection, type Edge } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useStore } from 'zustand';
import type { PipelineInfo, Json } from '../../../../contract/ipc';
import type { ProjectViewProps } from '../../App';
import { navigate } from '../../App';
import { useQuery, useStudio } from '../../api/use-studio';
import { ConfirmButton, EmptyState, ErrorNote, errMessage } from '../../components/ui';
import { createPipelineStore, type PipelineStore } from './pipeline-store';
import { compilePipeline, problemsByNode, PALETTE } from './compile';
import { nodeType, type ParamDef, type ParamValue } from './node-types';
import { asPipelineDoc, type PipelineDoc } from './pipeline-doc';
import { TEMPLATES, templateById } from './templates';
import { PipelineNodeView, type PipelineFlowNode } from './PipelineNodeView';
import { calibrationDatasets, labelDataset } from '../projects/project-data';

const nodeTypes = { qs: PipelineNodeView };

export function PipelineEditor({ project }: ProjectViewProps) {
  const studio = useStudio();
  const pipelines = useQuery('pipelines.list', { projectId: project.id });
  const [currentId, setCurrentId] = useState<string | null>(null);
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
  const dirty = useStore(store, (s) => s.savedDoc !== s.history.present);
  const canUndo = useStore(store, (s) => s.history.past.length > 0);
  const canRedo = useStore(store, (s) => s.history.future.length > 0);
  const compiled = useMemo(() => compilePipeline(doc), [doc]);
  const problems = useMemo(() => problemsByNode(compiled.problems), [compiled]);
  const [saveErr, setSaveErr] = useState<string | null>(null);

  const save = useCallback(async () => {
    setSaveErr(null);
    try {
      const d = store.getState().history.present;
      await studio.invoke('pipelines.save', { projectId, id: info.id, name: info.name, graph: { ...(d as unknown as { [k: string]: Json }), name: info.name } });
      store.getState().markSaved();
      onSaved();
    } catch (e) { setSaveErr(errMessage(e)); }
  }, [store, studio, projectId, info.id, info.name, onSaved]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) return;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === 'z' && !e.shiftKey) { e.preventDefault(); store.getState().undo(); }
      else if (mod && ((e.key.toLowerCase() === 'z' && e.shiftKey) || e.key.toLowerCase() === 'y')) { e.preventDefault(); store.getState().redo(); }
      else if (mod && e.key.toLowerCase() === 's') { e.preventDefault(); void save(); }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [store, save]);

  const nodes: PipelineFlowNode[] = doc.nodes.map((n) => ({ id: n.id, type: 'qs', position: n.position, selected: n.id === selected, data: { type: n.type, params: n.params, problems: problems.get(n.id) ?? [] } }));
  const edges: Edge[] = doc.edges.map((e) => {
    const loop = doc.nodes.find((n) => n.id === e.source)?.type === 'qat-update' && doc.nodes.find((n) => n.id === e.target)?.type === 'qat-forward';
    return { id: e.id, source: e.source, target: e.target, type: 'smoothstep', animated: loop, label: loop ? 'next step' : undefined, style: loop ? { stroke: '#7c3aed', strokeDasharray: '6 4' } : undefined };
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
    const s = store.getState();
    const removed: string[] = [];
    for (const c of changes) {
      if (c.type === 'position' && c.position) s.moveNode(c.id, c.position, !c.dragging);
      else if (c.type === 'position' && c.dragging === false) {
        const n = s.history.present.nodes.find((x) => x.id === c.id);
        if (n) s.moveNode(c.id, n.position, true);
      } else if (c.type === 'select') { if (c.selected) s.select(c.id); else if (s.selected === c.id) s.select(null); }
      else if (c.type === 'remove') removed.push(c.id);
    }
    if (removed.length) { for (const id of removed) pending.nodes.add(id); scheduleRemoval(); }
  }, [store, pending, scheduleRemoval]);
  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    const removed = changes.filter((c) => c.type === 'remove').map((c) => c.id);
    if (removed.length) { for (const id of removed) pending.edges.add(id); scheduleRemoval(); }
  }, [pending, scheduleRemoval]);
  const onConnect = useCallback((c: Connection) => { if (c.source && c.target) store.getState().connect(c.source, c.target); }, [store]);

  const sel = doc.nodes.find((n) => n.id === selected);
  const graphProblems = problems.get('') ?? [];

  return (
    <div className="qs-split" style={{ gridTemplateColumns: '150px 1fr 300px' }}>
      <div className="qs-side qs-palette" data-testid="palette">
        <div className="qs-label">Add a node</div>
        {PALETTE.map((t) => (
          <button key={t.id} title={t.description} onClick={() => store.getState().addNode(t.id, { x: 80 + Math.random() * 200, y: 320 + Math.random() * 80 })}>
            <span className={`qs-swatch qs-stage-${t.stage}`} />{t.title}
          </button>
        ))}
        <p className="qs-muted" style={{ fontSize: 12 }}>Drag from a node's bottom handle to the next node's top handle. Delete removes the selection; Ctrl+Z / Ctrl+Shift+Z undo and redo; Ctrl+S saves.</p>
      </div>
      <div className="qs-canvas" data-testid="pipeline-canvas">
        <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} onNodesChange={onNodesChange} onEdgesChange={onEdgesChange} onConnect={onConnect}
          onPaneClick={() => store.getState().select(null)} fitView fitViewOptions={{ padding: 0.12, maxZoom: 1.1 }} deleteKeyCode={['Delete', 'Backspace']} minZoom={0.2}>
          <Background gap={18} color="#e2e8f0" />
          <Controls showInteractive={false} position="top-right" />
        </ReactFlow>
      </div>
      <div className="qs-side">
        <div className="qs-card">
          <div className="qs-row">
            <button className="qs-btn-secondary qs-btn-small" disabled={!canUndo} onClick={() => store.getState().undo()} data-testid="undo">Undo</button>
            <button className="qs-btn-secondary qs-btn-small" disabled={!canRedo} onClick={() => store.getState().redo()} data-testid="redo">Redo</button>
            <button className="qs-btn-small" onClick={save} data-testid="save-pipeline" disabled={!dirty}>{dirty ? 'Save' : 'Saved'}</button>
          </div>
          <ErrorNote error={saveErr} />
          {graphProblems.map((p) => <ErrorNote key={p} error={p} testId="graph-problem" />)}
        </div>
        {sel ? <Inspector store={store} nodeId={sel.id} /> : <p className="qs-muted" style={{ fontSize: 13 }}>Select a node to edit its parameters.</p>}
        <RunCard projectId={projectId} projectDir={projectDir} pipelineId={info.id} doc={doc} compiled={compiled} save={save} dirty={dirty} />
      </div>
    </div>
  );
}

function Inspector({ store, nodeId }: { store: PipelineStore; nodeId: string }) {
  const node = useStore(store, (s) => s.history.present.nodes.find((n) => n.id === nodeId));
  if (!node) return null;
  const t = nodeType(node.type);
  return (
    <div className="qs-card" data-testid="inspector">
      <h3>{t?.title ?? node.type}</h3>
      <p className="qs-muted" style={{ fontSize: 12.5, marginTop: 0 }}>{t?.description}</p>
      {(t?.parameters ?? []).filter((p) => !p.visible || p.visible(node.params)).map((p) => (
        <ParamControl key={p.key} def={p} value={node.params[p.key] ?? p.default} onChange={(v) => store.getState().setParam(node.id, p.key, v)} />
      ))}
      <button className="qs-btn-secondary qs-btn-small" style={{ marginTop: 8 }} onClick={() => store.getState().removeNodes([node.id])}>Remove node</button>
    </div>
  );
}

function ParamControl({ def, value, onChange }: { def: ParamDef; value: ParamValue; onChange: (v: ParamValue) => void }) {
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
      {def.kind === 'text' && <input id={id} className="qs-input" value={String(value)} onChange={(e) => onChange(e.target.value)} />}
    </div>
  );
}

function RunCard({ projectId, projectDir, pipelineId, compiled, save, dirty }: { projectId: string; projectDir: string; pipelineId: string; doc: PipelineDoc; compiled: ReturnType<typeof compilePipeline>; save: () => Promise<void>; dirty: boolean }) {
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
      const params: { [k: string]: Json } = { modelId: model.id, recipe, outputName: compiled.options.exportFileName ?? 'model.quant.onnx' };
      if (ds) { params.datasetId = ds.id; if (typeof ds.options.input === 'string') params.inputName = ds.options.input; }
      if (labels) params.labelsDatasetId = labels.id;
      await studio.invoke('runs.start', { projectId, pipelineId, kind: 'quantize', params });
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
