// Sensitivity view: run a sensitivity analysis of the project's model with a pipeline's recipe, then a
// sortable table of every quantized node and activation tensor — output error when only it is
// quantized (isolated), when only it is left in float, and its cumulative per-layer error — coloured
// by isolated error, with one-click fixes that edit the pipeline: leave a node in float, raise a weight
// to int8 (weight-only MatMulNBits below 8 bits; otherwise the view says why not), switch the rounding
// algorithm (RTN / GPTQ / AWQ, recipe-wide); the last two analyse again with the edited recipe.
import { useCallback, useMemo, useState } from 'react';
import type { ProjectViewProps } from '../../routing';
import { useQuery, useStudio, useStudioEvents } from '../../api/use-studio';
import { EmptyState, ErrorNote, ProgressBar, errMessage } from '../../components/ui';
import { calibrationDatasets } from '../projects/project-data';
import { compilePipeline } from '../pipeline/compile';
import { asPipelineDoc, type PipelineDoc } from '../pipeline/pipeline-doc';
import { asSensitivityResult, currentRounding, excludedNodes, fmtSqnr, heat, int8Fix, int8LayerNames, ROUNDING_ALGORITHMS, runWarnings, sortRows, withExcluded, withInt8Layer, withRounding, type Rounding, type SortKey } from './sensitivity-table';
import { defaultParams } from '../pipeline/node-types';

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

  const start = async (recipeOverride?: object) => {
    setErr(null); if (!recipeOverride) setFixed(null);
    if (!model || !ds) return;
    try {
      const recipe = recipeOverride ?? (compiled?.ok ? compiled.recipe : {});
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

  // Fixes that change how a layer is quantized: saved to the pipeline, then the analysis runs again
  // with the edited recipe so the table shows their effect.
  const saveAndReanalyse = async (next: PipelineDoc, message: string) => {
    if (!pipeline) return;
    const c = compilePipeline(next);
    if (!c.ok) { setErr(`The edited pipeline has problems: ${c.problems.map((p) => p.message).join(' ')}`); return; }
    try {
      await studio.invoke('pipelines.save', { projectId: project.id, id: pipeline.id, name: pipeline.name, graph: next as unknown as Record<string, never> });
      pipelines.reload();
      setFixed(message);
      await start(c.recipe);
    } catch (e) { setErr(errMessage(e)); }
  };
  const raiseToInt8 = async (node: string) => {
    if (!doc) return;
    const next = withInt8Layer(doc, node);
    if (next.changed) await saveAndReanalyse(next.doc, `${node} is now stored at 8 bits (MatMulNBits bits=8) in pipeline “${pipeline?.name}”; analysing again.`);
  };
  const switchRounding = async (to: Rounding) => {
    if (!doc) return;
    const next = withRounding(doc, to, defaultParams);
    if (next.changed) await saveAndReanalyse(next.doc, `Pipeline “${pipeline?.name}” now rounds every layer with ${to.toUpperCase()}; analysing again.`);
  };
  const int8 = int8Fix(doc);
  const int8Layers = int8LayerNames(doc);
  const weightOnly = doc?.nodes.find((n) => n.type === 'quant-params')?.params.activationDtype === 'none';
  const rounding = currentRounding(doc);

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
        <button className="qs-btn" data-testid="sens-start" disabled={!ds || !!running} onClick={() => start()}>{running ? 'Analysing…' : 'Analyse sensitivity'}</button>
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
          {pipeline && weightOnly && (
            <div className="qs-row" style={{ gap: 8, alignItems: 'center', margin: '6px 0' }}>
              <span>Weights rounded with <b data-testid="sens-rounding">{rounding.toUpperCase()}</b> (every layer; the engine rounds a model with one algorithm). Switch to</span>
              {ROUNDING_ALGORITHMS.filter((a) => a !== rounding).map((a) => (
                <button key={a} className="qs-btn-secondary qs-btn-small" data-testid={`sens-switch-${a}`} disabled={!!running} onClick={() => switchRounding(a)}>{a.toUpperCase()}</button>
              ))}
              <span className="qs-muted">and analyse again.</span>
            </div>
          )}
          {pipeline && !int8.ok && <p className="qs-muted" data-testid="sens-int8-note" style={{ fontSize: 12.5 }}>Raise to int8: not offered, {int8.why}.</p>}
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
                    : <>
                      {int8.ok && (int8Layers.has(r.name)
                        ? <span className="qs-muted" data-testid="sens-int8">int8 </span>
                        : <button className="qs-btn-secondary" data-testid="sens-raise-int8" disabled={!!running} onClick={() => raiseToInt8(r.name)}>Raise to int8</button>)}
                      <button className="qs-btn-secondary" data-testid="sens-exclude" onClick={() => exclude(r.name)}>Leave in float</button>
                    </>)}</td>
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
