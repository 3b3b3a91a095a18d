// Sensitivity view: run a sensitivity analysis of the project's model with a pipeline's recipe, then a
// sortable table of every quantized node and activation tensor — output error when only it is
// quantized (isolated), when only it is left in float, and its cumulative per-layer error — coloured
// by isolated error, with a one-click fix that leaves a node in float in the pipeline.
import { useCallback, useMemo, useState } from 'react';
import type { ProjectViewProps } from '../../routing';
import { useQuery, useStudio, useStudioEvents } from '../../api/use-studio';
import { EmptyState, ErrorNote, ProgressBar, errMessage } from '../../components/ui';
import { calibrationDatasets } from '../projects/project-data';
import { compilePipeline } from '../pipeline/compile';
import { asPipelineDoc } from '../pipeline/pipeline-doc';
import { asSensitivityResult, excludedNodes, fmtSqnr, heat, runWarnings, sortRows, withExcluded, type SortKey } from './sensitivity-table';

export function SensitivityView({ project }: ProjectViewProps) {
  const studio = useStudio();
  const models = useQuery('models.list', { projectId: project.id });
  const datasets = useQuery('datasets.list', { projectId: project.id });
  const pipelines = useQuery('pipelines.list', { projectId: project.id });
  const runs = useQuery('runs.list', { projectId: project.id });
  const [pipelineId, setPipelineId] = useState('');
  const [datasetId, setDatasetId] = useState('');
  const [evalId, setEvalId] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const [live, setLive] = useState<{ runId: string; fraction: number; message?: string } | null>(null);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'rank', desc: false });
  const [fixed, setFixed] = useState<string | null>(null);

  const model = models.data?.[0];
  const cal = calibrationDatasets(datasets.data ?? []);
  const ds = cal.find((d) => d.id === datasetId) ?? cal[0];
  const pipeline = pipelines.data?.find((p) => p.id === pipelineId) ?? pipelines.data?.[0];
  const doc = pipeline ? asPipelineDoc(pipeline.graph) : undefined;
  const compiled = doc ? compilePipeline(doc) : undefined;
  const analyses = (runs.data ?? []).filter((r) => r.kind === 'analyze');
  const latest = analyses.find((r) => r.status === 'succeeded');
  const result = asSensitivityResult(latest?.result);
  const running = analyses.find((r) => r.status === 'queued' || r.status === 'running');
  const excluded = excludedNodes(doc);
  // The latest quantize run's quality warnings (report.warnings): which layers/tensors to look at first.
  const lastQuantize = (runs.data ?? []).find((r) => r.kind === 'quantize' && r.status === 'succeeded');
  const warnings = runWarnings(lastQuantize?.result);

  useStudioEvents(useCallback((e) => {
    if (e.event === 'run.progress' && (live?.runId === e.payload.runId || running?.id === e.payload.runId)) setLive({ runId: e.payload.runId, fraction: e.payload.fraction, message: e.payload.message });
    if (e.event === 'run.status' && e.payload.projectId === project.id) { runs.reload(); if (e.payload.status !== 'running' && e.payload.status !== 'queued') setLive(null); }
  }, [live?.runId, running?.id, project.id, runs]));

  const start = async () => {
    setErr(null); setFixed(null);
    if (!model || !ds) return;
    try {
      const recipe = compiled?.ok ? compiled.recipe : {};
      const run = await studio.invoke('analysis.start', { projectId: project.id, modelId: model.id, datasetId: ds.id, recipe: recipe as Record<string, never>, ...(evalId ? { evalDatasetId: evalId } : {}), ...(pipeline ? { pipelineId: pipeline.id } : {}) });
      setLive({ runId: run.id, fraction: 0 });
      runs.reload();
    } catch (e) { setErr(errMessage(e)); }
  };

  const exclude = async (node: string) => {
    if (!pipeline || !doc) return;
    const next = withExcluded(doc, node);
    if (!next.changed) return;
    try {
      await studio.invoke('pipelines.save', { projectId: project.id, id: pipeline.id, name: pipeline.name, graph: next.doc as unknown as Record<string, never> });
      pipelines.reload();
      setFixed(`${node} is now left in float in pipeline “${pipeline.name}”. Run the pipeline again to see the effect.`);
    } catch (e) { setErr(errMessage(e)); }
  };

  const rows = useMemo(() => (result ? sortRows(result.entries, sort.key, sort.desc) : []), [result, sort]);
  const header = (key: SortKey, label: string) => (
    <th className={key === 'name' ? '' : 'num'}>
      <button className="qs-link" data-testid={`sens-sort-${key}`} onClick={() => setSort((s) => ({ key, desc: s.key === key ? !s.desc : false }))}>{label}{sort.key === key ? (sort.desc ? ' ▼' : ' ▲') : ''}</button>
    </th>
  );

  if (!model) return <EmptyState title="No model yet" testId="sens-empty">Import a model in Overview first.</EmptyState>;
  return (
    <div className="qs-page" data-testid="sensitivity-view">
      <h2>Sensitivity</h2>
      <p className="qs-muted">For every quantized node and activation tensor: the model's output when <b>only it</b> is quantized (isolated) and when only it is left in float, beside its cumulative per-layer error. Calibration runs once; the variants run in parallel.</p>
      <div className="qs-row" style={{ gap: 12, flexWrap: 'wrap', alignItems: 'end' }}>
        <label>Pipeline (recipe)<br />
          <select data-testid="sens-pipeline" value={pipeline?.id ?? ''} onChange={(e) => setPipelineId(e.target.value)}>
            {(pipelines.data ?? []).map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
            {!pipelines.data?.length && <option value="">default recipe</option>}
          </select>
        </label>
        <label>Calibration data<br />
          <select data-testid="sens-dataset" value={ds?.id ?? ''} onChange={(e) => setDatasetId(e.target.value)}>
            {cal.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
          </select>
        </label>
        <label>Evaluation data<br />
          <select data-testid="sens-eval" value={evalId} onChange={(e) => setEvalId(e.target.value)}>
            <option value="">held-out 20 % of the calibration data</option>
            {cal.filter((d) => d.id !== ds?.id).map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
          </select>
        </label>
        <button className="qs-btn" data-testid="sens-start" disabled={!ds || !!running} onClick={start}>{running ? 'Analysing…' : 'Analyse sensitivity'}</button>
      </div>
      {compiled && !compiled.ok && <p className="qs-muted">The pipeline has problems; the analysis uses the default recipe.</p>}
      {!ds && <p className="qs-muted">Add a calibration dataset (.npy) first.</p>}
      <ErrorNote error={err} testId="sens-error" />
      {running && <div data-testid="sens-progress"><ProgressBar fraction={live?.fraction ?? running.progress} /> <span className="qs-muted">{live?.message ?? running.message}</span>
        <button className="qs-btn-secondary" data-testid="sens-cancel" onClick={() => studio.invoke('runs.cancel', { id: running.id }).then(() => runs.reload(), (e) => setErr(errMessage(e)))}>Cancel</button></div>}
      {fixed && <p data-testid="sens-fixed" className="qs-note">{fixed}</p>}
      {warnings.length > 0 && (
        <div className="qs-note" data-testid="sens-warnings">
          <b>Latest run “{lastQuantize?.id}”:</b>
          <ul>{warnings.map((w, i) => <li key={i}>{w.message}</li>)}</ul>
        </div>
      )}
      {result && (
        <>
          <p data-testid="sens-summary">Measured on {result.evaluation.description}; calibration on {result.calibrationSamples} sample(s). All quantized: output {fmtSqnr(result.allQuantized)}. {result.timing.tasks} variants, {(result.timing.wallMs / 1000).toFixed(1)} s with {result.timing.workers} worker(s).</p>
          <table className="qs-table" data-testid="sens-table">
            <thead><tr>{header('rank', '#')}<th>Kind</th>{header('name', 'Node / tensor')}{header('isolated', 'Only it quantized (isolated)')}{header('onlyFloat', 'Only it in float')}{header('cumulative', 'Cumulative layer SQNR')}<th>Fix</th></tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.kind}:${r.name}`} data-testid="sens-row" data-name={r.name} style={{ background: `rgba(220, 38, 38, ${(0.45 * heat(r)).toFixed(3)})` }}>
                  <td className="num">{result.entries.indexOf(r) + 1}</td>
                  <td>{r.kind === 'weight' ? `weight${r.opType ? ` (${r.opType})` : ''}` : 'activation'}</td>
                  <td><code>{r.name}</code></td>
                  <td className="num">{fmtSqnr(r.onlyQuantized)}</td>
                  <td className="num">{fmtSqnr(r.onlyFloat)}</td>
                  <td className="num">{typeof r.cumulativeSqnrDb === 'number' ? `${r.cumulativeSqnrDb.toFixed(1)} dB` : '—'}</td>
                  <td>{r.kind === 'weight' && pipeline && (excluded.has(r.name)
                    ? <span className="qs-muted" data-testid="sens-excluded">left in float</span>
                    : <button className="qs-btn-secondary" data-testid="sens-exclude" onClick={() => exclude(r.name)}>Leave in float</button>)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {!result && !running && <EmptyState title="No analysis yet" testId="sens-none">Choose the data and start an analysis.</EmptyState>}
    </div>
  );
}
