// Runs: live progress with stage and cancel; a finished run's results (per-layer error, size,
// accuracy, latency vs FP32); several runs compared side by side; export of the quantized model.
import { Fragment, useCallback, useEffect, useMemo, useState } from 'react';
import type { RunEvaluation, RunInfo, RunNotes, StudioEvent } from '../../../../contract/ipc';
import type { ProjectViewProps } from '../../routing';
import { useQuery, useStudio, useStudioEvents } from '../../api/use-studio';
import { ConfirmButton, EmptyState, ErrorNote, ProgressBar, errMessage, fmtBytes, fmtNum } from '../../components/ui';
import { Plot } from '../../components/Plot';
import { metricKeys, parseRunReport, type MixedPrecisionView, type RunReport } from './run-report';
import { evalMetricKey, formatMetric, metricDef, metricHeader } from './metric-format';
import { addPoint, curveFromMetrics, pointFromProgress, smooth, type LossPoint } from './loss-curve';
import { etaMs, fmtDuration, stageLabel } from './stage-names';
import { buildCompare, compareCsv, compareJson, downloadText, formatCell, recipeDiff, slug } from './compare-table';
import { runHtmlReport } from './run-html-report';

interface Live { stage: string; fraction: number; message?: string }
type SortKey = 'started' | 'name' | 'status' | 'duration';

/** A clock that ticks every second while `on` (elapsed time and ETA of running runs). */
function useNow(on: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [on]);
  return now;
}

export function RunsView({ project }: ProjectViewProps) {
  const studio = useStudio();
  const runs = useQuery('runs.list', { projectId: project.id });
  const notes = useQuery('runs.notes', { projectId: project.id });
  const [live, setLive] = useState<Record<string, Live>>({});
  const [selected, setSelected] = useState<string | null>(null);
  const [compare, setCompare] = useState<string[]>([]);
  const [err, setErr] = useState<Record<string, string>>({});
  const [curves, setCurves] = useState<Record<string, LossPoint[]>>({});
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'started', desc: true });
  const onEvent = useCallback((e: StudioEvent) => {
    if (e.event === 'run.progress') {
      const { runId } = e.payload;
      setLive((l) => ({ ...l, [runId]: { stage: e.payload.stage, fraction: e.payload.fraction, message: e.payload.message } }));
      const p = pointFromProgress(e.payload.stage, e.payload.metrics);
      if (p) setCurves((c) => ({ ...c, [runId]: addPoint(c[runId] ?? [], p) }));
    }
    if (e.event === 'run.status' && e.payload.projectId === project.id) { runs.reload(); notes.reload(); }
  }, [project.id, runs.reload, notes.reload]);
  useStudioEvents(onEvent);

  const all = runs.data ?? [];
  const noteOf = useMemo(() => new Map((notes.data ?? []).map((n) => [n.runId, n])), [notes.data]);
  // "#3" is the run's place in the project's history (oldest = #1), whatever the sort or filter.
  const numberOf = useMemo(() => new Map(all.map((r, i) => [r.id, all.length - i])), [all]);
  const nameOf = (r: RunInfo) => noteOf.get(r.id)?.name || runTitle(r);
  const label = (r: RunInfo) => `#${numberOf.get(r.id) ?? '?'} ${nameOf(r)}`;
  const anyRunning = all.some((r) => r.status === 'running' || r.status === 'queued');
  const now = useNow(anyRunning);
  const durationOf = (r: RunInfo) => (r.startedAt ? (r.finishedAt ? Date.parse(r.finishedAt) : now) - Date.parse(r.startedAt) : 0);
  const q = filter.trim().toLowerCase();
  const list = all
    .filter((r) => !q || [nameOf(r), runTitle(r), r.status, ...(noteOf.get(r.id)?.tags ?? []), noteOf.get(r.id)?.notes ?? ''].some((x) => x.toLowerCase().includes(q)))
    .sort((a, b) => {
      const d = sort.key === 'name' ? nameOf(a).localeCompare(nameOf(b)) : sort.key === 'status' ? a.status.localeCompare(b.status)
        : sort.key === 'duration' ? durationOf(a) - durationOf(b) : Date.parse(a.createdAt) - Date.parse(b.createdAt) || (numberOf.get(a.id)! - numberOf.get(b.id)!);
      return sort.desc ? -d : d;
    });
  const finished = all.filter((r) => r.status === 'succeeded');
  const sel = all.find((r) => r.id === selected) ?? finished[0];
  const cancel = async (id: string) => {
    try { await studio.invoke('runs.cancel', { id }); runs.reload(); } catch (e) { setErr((x) => ({ ...x, [id]: errMessage(e) })); }
  };
  const onDeleted = (id: string) => { setCompare((c) => c.filter((x) => x !== id)); setSelected(null); runs.reload(); notes.reload(); };
  const th = (key: SortKey, text: string, style?: React.CSSProperties) => (
    <th style={style} aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button className="qs-sort" data-testid={`sort-${key}`} onClick={() => setSort((s) => ({ key, desc: s.key === key ? !s.desc : key === 'started' || key === 'duration' }))}>
        {text}{sort.key === key ? (sort.desc ? ' ▾' : ' ▴') : ''}
      </button>
    </th>
  );

  return (
    <div>
      <ErrorNote error={runs.error} />
      {all.length === 0 && <EmptyState title="No runs yet" testId="runs-empty">Open the Pipeline tab, pick a template, and press Run pipeline. Runs appear here with live progress.</EmptyState>}
      {all.length > 0 && (
        <div className="qs-card">
          <div className="qs-row" style={{ justifyContent: 'space-between', marginBottom: 6 }}>
            <input className="qs-input" style={{ width: 280 }} data-testid="run-filter" placeholder="Filter by name, tag, status, recipe…" aria-label="Filter runs" value={filter} onChange={(e) => setFilter(e.target.value)} />
            <span className="qs-muted" style={{ fontSize: 12 }}>{list.length === all.length ? `${all.length} runs` : `${list.length} of ${all.length} runs`}</span>
          </div>
          <table className="qs-table2" data-testid="run-list">
            <thead><tr><th>Compare</th>{th('name', 'Run')}{th('status', 'Status')}<th style={{ width: 260 }}>Progress</th>{th('started', 'Started')}{th('duration', 'Duration')}<th /></tr></thead>
            <tbody>
              {list.map((r) => {
                const running = r.status === 'running' || r.status === 'queued';
                const l = running ? live[r.id] : undefined;
                const fraction = l?.fraction ?? (r.status === 'succeeded' ? 1 : r.progress);
                const elapsed = durationOf(r);
                const eta = running && r.startedAt ? etaMs(elapsed, fraction) : undefined;
                const tags = noteOf.get(r.id)?.tags ?? [];
                return (
                  <tr key={r.id} className={sel?.id === r.id ? 'selected' : ''} data-testid="run-row" data-status={r.status} data-run-id={r.id} onClick={() => setSelected(r.id)} style={{ cursor: 'pointer' }}>
                    <td><input type="checkbox" aria-label="compare" data-testid="compare-check" disabled={r.status !== 'succeeded'} checked={compare.includes(r.id)} onClick={(e) => e.stopPropagation()}
                      onChange={(e) => setCompare((c) => (e.target.checked ? [...c, r.id] : c.filter((x) => x !== r.id)))} /></td>
                    <td>
                      <div data-testid="run-name"><strong>#{numberOf.get(r.id)}</strong> {nameOf(r)}</div>
                      {noteOf.get(r.id)?.name && <div className="qs-muted" style={{ fontSize: 12 }}>{runTitle(r)}</div>}
                      {tags.length > 0 && <div>{tags.map((t) => <span key={t} className="qs-tag" data-testid="run-tag">{t}</span>)}</div>}
                    </td>
                    <td><span className={`qs-badge ${r.status}`} data-testid="run-status">{r.status}</span></td>
                    <td>
                      <ProgressBar fraction={fraction} testId="run-progress" />
                      <div className="qs-muted" style={{ fontSize: 12 }} data-testid="run-stage">{stageText(l?.stage ?? r.stage, l?.message ?? r.message)}</div>
                      {r.error && (r.status === 'cancelled' ? <div className="qs-muted" style={{ fontSize: 12 }}>{r.error.message}</div> : <ErrorNote error={r.error.message} />)}
                      {(r.status === 'failed' || r.status === 'cancelled') && <RunLog runId={r.id} />}
                      {err[r.id] && <ErrorNote error={err[r.id]} />}
                    </td>
                    <td className="qs-muted" style={{ fontSize: 12 }}>{new Date(r.createdAt).toLocaleTimeString()}</td>
                    <td className="qs-muted" style={{ fontSize: 12 }} data-testid="run-time">
                      {r.startedAt ? fmtDuration(elapsed) : '—'}{running && r.startedAt ? ' elapsed' : ''}
                      {running && <div data-testid="run-eta">{eta !== undefined ? `~${fmtDuration(eta)} left` : 'estimating…'}</div>}
                    </td>
                    <td>{running && <button className="qs-btn-danger qs-btn-small" data-testid="cancel-run" onClick={(e) => { e.stopPropagation(); void cancel(r.id); }}>Cancel</button>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {list.length === 0 && <p className="qs-muted" style={{ fontSize: 12.5 }}>No run matches “{filter}”.</p>}
          {finished.length >= 2 && compare.length < 2 && <p className="qs-muted" style={{ fontSize: 12.5, margin: '8px 0 0' }}>Tick two or more finished runs to compare them.</p>}
        </div>
      )}
      {all.filter((r) => (r.status === 'running' || r.status === 'queued') && isQat(r)).map((r) => (
        <div className="qs-card" key={r.id}><QatLossCurve run={r} live={curves[r.id] ?? []} title={`QAT loss — ${label(r)} (live)`} /></div>
      ))}
      {compare.length >= 2 && <CompareRuns runs={compare.map((id) => all.find((r) => r.id === id)!).filter(Boolean)} label={label} projectName={project.name} />}
      {sel && sel.status !== 'running' && sel.status !== 'queued' && (
        <RunManage key={`m-${sel.id}`} run={sel} notes={noteOf.get(sel.id)} title={label(sel)} onChanged={() => notes.reload()} onDeleted={() => onDeleted(sel.id)} />
      )}
      {sel && sel.status === 'succeeded' && <RunResults key={sel.id} run={sel} projectId={project.id} projectName={project.name} title={label(sel)} runName={nameOf(sel)} notes={noteOf.get(sel.id)} live={curves[sel.id] ?? []} />}
    </div>
  );
}

/** Rename, tag, annotate or delete a finished run (delete asks twice and takes its files with it). */
function RunManage({ run, notes, title, onChanged, onDeleted }: { run: RunInfo; notes?: RunNotes; title: string; onChanged: () => void; onDeleted: () => void }) {
  const studio = useStudio();
  const [name, setName] = useState(notes?.name ?? '');
  const [tags, setTags] = useState((notes?.tags ?? []).join(', '));
  const [text, setText] = useState(notes?.notes ?? '');
  const [err, setErr] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const changed = name.trim() !== (notes?.name ?? '') || tags !== (notes?.tags ?? []).join(', ') || text !== (notes?.notes ?? '');
  const save = async () => {
    setErr(null); setSaved(false);
    try {
      await studio.invoke('runs.annotate', { id: run.id, name: name.trim(), notes: text, tags: tags.split(',').map((t) => t.trim()).filter(Boolean).slice(0, 20) });
      setSaved(true);
      onChanged();
    } catch (e) { setErr(errMessage(e)); }
  };
  const remove = async () => {
    setErr(null);
    try { await studio.invoke('runs.delete', { id: run.id }); onDeleted(); } catch (e) { setErr(errMessage(e)); }
  };
  return (
    <div className="qs-card" data-testid="run-manage">
      <div className="qs-row" style={{ justifyContent: 'space-between' }}>
        <h2 style={{ margin: 0 }}>{title}</h2>
        <ConfirmButton testId="delete-run" className="qs-btn-secondary qs-btn-small" label="Delete run" confirmLabel="Click again: delete the run and its files" onConfirm={remove} />
      </div>
      <div className="qs-row" style={{ marginTop: 8, alignItems: 'flex-end' }}>
        <div className="qs-field"><label className="qs-label" htmlFor="run-name">Name</label><input id="run-name" data-testid="run-name-input" className="qs-input" style={{ width: 240 }} value={name} placeholder={notes?.pipelineName ?? 'Run name'} onChange={(e) => setName(e.target.value)} /></div>
        <div className="qs-field"><label className="qs-label" htmlFor="run-tags">Tags (comma-separated)</label><input id="run-tags" data-testid="run-tags-input" className="qs-input" style={{ width: 200 }} value={tags} onChange={(e) => setTags(e.target.value)} /></div>
        <div className="qs-field qs-grow"><label className="qs-label" htmlFor="run-notes">Notes</label><textarea id="run-notes" data-testid="run-notes-input" className="qs-input" rows={1} value={text} onChange={(e) => setText(e.target.value)} /></div>
        <button className="qs-btn-small" data-testid="save-run-notes" disabled={!changed} onClick={save}>Save</button>
        {saved && !changed && <span style={{ color: 'var(--qs-ok)', fontSize: 12 }}>Saved</span>}
      </div>
      <ErrorNote error={err} testId="run-manage-error" />
    </div>
  );
}

function runTitle(r: RunInfo): string {
  type R = { weights?: { dtype?: string; granularity?: string | { group?: number } }; activations?: { dtype?: string; calibration?: { method?: string } } | null; algorithms?: { name?: string }[] };
  const recipe = (r.params as { recipe?: R }).recipe;
  if (!recipe) return r.kind;
  const g = recipe.weights?.granularity;
  const gran = typeof g === 'object' ? `g${g.group}` : g === 'tensor' ? 'tensor' : 'channel';
  const w = `${recipe.weights?.dtype ?? 'int8'}/${gran}`;
  const a = recipe.activations === null ? 'weight-only' : `${recipe.activations?.dtype ?? 'uint8'} ${recipe.activations?.calibration?.method ?? 'minmax'}`;
  const algs = (recipe.algorithms ?? []).map((x) => x.name).filter((n) => n && n !== 'rtn').join('+');
  return `W ${w} · A ${a}${algs ? ` · ${algs}` : ''}`;
}

function isQat(r: RunInfo): boolean {
  const recipe = (r.params as { recipe?: { algorithms?: { name?: string }[] } }).recipe;
  return Array.isArray(recipe?.algorithms) && recipe.algorithms.some((a) => a?.name === 'qat');
}

/** Loss (and eval metric, when the job measured one) per QAT step: live from the run's progress
 *  events, from its stored per-step metrics once it has finished. */
function QatLossCurve({ run, live, title }: { run: RunInfo; live: LossPoint[]; title: string }) {
  const done = run.status !== 'running' && run.status !== 'queued';
  const stored = useQuery('metrics.list', done ? { runId: run.id } : null);
  const points = useMemo(() => {
    const s = done && stored.data ? curveFromMetrics(stored.data) : [];
    return s.length ? s : live;
  }, [done, stored.data, live]);
  const withMetric = points.filter((p) => p.metric !== undefined);
  const planned = (run.params as { recipe?: { algorithms?: { name?: string; steps?: number }[] } }).recipe?.algorithms?.find((a) => a?.name === 'qat')?.steps;
  const last = points[points.length - 1];
  return (
    <div data-testid="qat-loss-curve" data-points={points.length}>
      <div className="qs-row" style={{ justifyContent: 'space-between' }}>
        <h3 style={{ margin: 0 }}>{title}</h3>
        <span className="qs-muted" style={{ fontSize: 12.5 }} data-testid="qat-loss-summary">
          {last ? `step ${last.step} · loss ${formatMetric('qatFinalLoss', last.loss)}${last.metric !== undefined ? ` · top-1 ${formatMetric('top1', last.metric)}` : ''}` : 'Waiting for the first training step…'}
        </span>
      </div>
      {points.length > 0 && (
        <Plot testId="qat-loss-plot" data={[
          { type: 'scatter', mode: points.length > 40 ? 'lines' : 'lines+markers', name: 'loss per step', x: points.map((p) => p.step), y: points.map((p) => p.loss), line: { color: '#93c5fd', width: 1.5 }, marker: { size: 5 } },
          ...(points.length >= 10 ? [{ type: 'scatter', mode: 'lines', name: 'moving average (10)', x: points.map((p) => p.step), y: smooth(points), line: { color: '#1d4ed8', width: 2.5 } }] : []),
          ...(withMetric.length ? [{ type: 'scatter', mode: 'lines+markers', name: 'top-1 (fake-quant)', x: withMetric.map((p) => p.step), y: withMetric.map((p) => p.metric! * 100), yaxis: 'y2', line: { color: '#16a34a' } }] : []),
        ]} layout={{
          // While it runs, the axis spans the planned steps so the curve grows across it.
          xaxis: { title: { text: 'step' }, rangemode: 'tozero', ...(!done && typeof planned === 'number' && planned > 1 ? { range: [0, planned] } : {}) }, yaxis: { title: { text: 'loss' }, rangemode: 'tozero' },
          ...(withMetric.length ? { yaxis2: { overlaying: 'y', side: 'right', title: { text: 'top-1 %' }, showgrid: false } } : {}),
          margin: { l: 56, r: withMetric.length ? 56 : 16, t: 16, b: 44 },
        }} style={{ height: 260 }} />
      )}
    </div>
  );
}

function stageText(stage: string, message: string | undefined): string {
  if (!message || message === stage) return stage;
  return message.startsWith(stage) ? message : `${stage} — ${message}`;
}

function latency(report: RunReport): { fp32?: number; quant?: number } {
  const m = report.metrics;
  const find = (re: RegExp) => Object.entries(m).find(([k]) => re.test(k))?.[1];
  return { fp32: find(/latency.*(fp32|float|base|original)/i), quant: find(/latency.*(quant|int)/i) ?? find(/^latency(Ms)?$/i) };
}

function RunResults({ run, projectId, projectName, title, runName, notes, live }: { run: RunInfo; projectId: string; projectName: string; title: string; runName: string; notes?: RunNotes; live: LossPoint[] }) {
  const studio = useStudio();
  const report = useMemo(() => parseRunReport(run.result), [run.result]);
  const artifacts = useQuery('artifacts.list', { projectId, runId: run.id });
  const app = useQuery('app.info', {});
  const models = useQuery('models.list', { projectId });
  const datasets = useQuery('datasets.list', { projectId });
  const facts = useQuery('datasets.inspect', { projectId });
  const pipeline = useQuery('pipelines.get', run.pipelineId ? { id: run.pipelineId } : null);
  const [evaluation, setEvaluation] = useState<RunEvaluation | null>(null);
  // Named after the project and the run, so two exports never come out as the same "model.int8.onnx".
  const defaultName = `${slug(projectName)}-${slug(runName)}.onnx`;
  const [dest, setDest] = useState(defaultName);
  const [exported, setExported] = useState<{ path: string; sizeBytes: number } | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const model = artifacts.data?.find((a) => a.kind === 'model') ?? artifacts.data?.[0];
  const chooseDest = async () => {
    try {
      const { path } = await studio.invoke('dialog.saveFile', { title: 'Export the quantized model', defaultName: model?.file.split('/').pop(), filters: [{ name: 'ONNX model', extensions: ['onnx'] }] });
      if (path) setDest(path);
    } catch (e) { setErr(errMessage(e)); }
  };
  // A bare file name goes where the placeholder says: the studio's exports folder, never the host's
  // working directory (a path with a folder is used as it is).
  const exportsDir = app.data ? `${app.data.dataDir.replace(/[\\/]+$/, '')}${app.data.dataDir.includes('\\') && !app.data.dataDir.includes('/') ? '\\' : '/'}exports` : null;
  const resolveDest = (v: string) => (/[\\/]/.test(v) || !exportsDir ? v : `${exportsDir}/${v}`);
  const doExport = async () => {
    setErr(null); setExported(null);
    if (!model) return;
    try { setExported(await studio.invoke('artifacts.export', { id: model.id, destPath: resolveDest(dest.trim()) })); } catch (e) { setErr(errMessage(e)); }
  };
  const usedDatasets = (datasets.data ?? []).filter((d) => d.id === run.params.datasetId || (typeof run.params.labels === 'string' && run.params.labels.endsWith(d.file)));
  const downloadReport = () => {
    if (!report) return;
    const f = (id: string) => { const x = facts.data?.find((y) => y.datasetId === id); return x?.shape ? `${x.samples} × [${x.shape.slice(1).join(', ')}] ${x.dtype}` : undefined; };
    const html = runHtmlReport({
      title, projectName, modelName: models.data?.find((m) => m.id === run.params.modelId)?.name, run, notes, pipelineName: pipeline.data?.name ?? notes?.pipelineName,
      report, result: run.result, datasets: usedDatasets.map((d) => ({ name: d.name, facts: f(d.id) })), evaluation, generatedAt: new Date().toISOString(),
    });
    downloadText(`${slug(projectName)}-${slug(runName)}.report.html`, html, 'text/html');
  };
  const latencyWanted = useMemo(() => {
    const g = pipeline.data?.graph as { nodes?: { type?: string; params?: { latency?: unknown } }[] } | undefined;
    return Boolean(g?.nodes?.some((n) => n.type === 'evaluate' && n.params?.latency !== false));
  }, [pipeline.data]);
  if (!report) return <div className="qs-card"><h2>{title}</h2><p className="qs-muted">This run produced no report.</p></div>;
  const lat = latency(report);
  const layers = report.layers.filter((l) => Number.isFinite(l.sqnrDb));
  return (
    <div className="qs-card" data-testid="run-results">
      <h2>Results — {title}</h2>
      <div className="qs-grid2">
        <dl className="qs-kv">
          {report.sizeBytes && <><dt>Size</dt><dd data-testid="result-size">{fmtBytes(report.sizeBytes.original)} → {fmtBytes(report.sizeBytes.quantized)} ({(report.sizeBytes.original / Math.max(1, report.sizeBytes.quantized)).toFixed(2)}× smaller)</dd></>}
          {Object.entries(report.metrics).map(([k, v]) => <Fragment key={k}><dt title={k}>{metricDef(k).label}</dt><dd data-metric={k}>{formatMetric(k, v)}</dd></Fragment>)}
          {lat.fp32 !== undefined && lat.quant !== undefined && <><dt>Latency vs FP32</dt><dd>{fmtNum(lat.quant)} ms vs {fmtNum(lat.fp32)} ms ({(lat.fp32 / lat.quant).toFixed(2)}×)</dd></>}
          {report.outputAgreement && <><dt>Output SQNR</dt><dd>{fmtNum(report.outputAgreement.sqnrDb, 2)} dB{report.outputAgreement.top1Agreement !== undefined ? `, top-1 agreement ${(report.outputAgreement.top1Agreement * 100).toFixed(1)} %` : ''}</dd></>}
          {report.evaluation && <><dt>Measured on</dt><dd data-testid="result-evaluation">{report.evaluation.description}</dd></>}
          <dt>Quantized</dt><dd>{report.quantized.length} nodes{report.skipped.length ? `, ${report.skipped.length} left in float` : ''}</dd>
          {report.device && <><dt>Device</dt><dd>{report.device}</dd></>}
          {Object.keys(report.timingsMs).length > 0 && <><dt>Stages</dt><dd data-testid="result-stages">{Object.entries(report.timingsMs).map(([k, v]) => <span key={k} title={k} className="qs-stage-time">{stageLabel(k)} {(v / 1000).toFixed(2)} s</span>)}</dd></>}
        </dl>
        <div>
          <h3>Export</h3>
          {!model && <p className="qs-muted">No model artifact was recorded for this run.</p>}
          {model && (
            <>
              <div className="qs-row">
                <input className="qs-input qs-grow" data-testid="export-path" placeholder={exportsDir ? `file name (saved in ${exportsDir}) or a full path` : 'file name or a full path'} value={dest} onChange={(e) => setDest(e.target.value)} aria-label="Export path" title={exportsDir ? `A bare file name is saved in ${exportsDir}` : undefined} />
                {studio.host === 'electron' && <button className="qs-btn-secondary" onClick={chooseDest}>Choose…</button>}
                <button data-testid="export-model" disabled={!dest.trim()} onClick={doExport}>Export</button>
              </div>
              <ErrorNote error={err} testId="export-error" />
              {exportsDir && !/[\\/]/.test(dest.trim()) && dest.trim() && <p className="qs-muted qs-mono" style={{ fontSize: 12 }} data-testid="export-dest">→ {resolveDest(dest.trim())}</p>}
              {studio.host === 'browser' && <p className="qs-muted" style={{ fontSize: 12.5 }}>Or <a data-testid="download-model" href={`/download/artifact/${encodeURIComponent(model.id)}`} download={defaultName}>download it</a> through the browser.</p>}
              {exported && <p data-testid="export-summary" style={{ color: 'var(--qs-ok)', fontSize: 13 }}>Wrote {fmtBytes(exported.sizeBytes)} to <span className="qs-mono">{exported.path}</span> (atomically: temp file, then rename).</p>}
            </>
          )}
        </div>
      </div>
      {isQat(run) && <div style={{ margin: '12px 0' }}><QatLossCurve run={run} live={live} title="QAT loss curve" /></div>}
      <div className="qs-row" style={{ margin: '8px 0' }}>
        <button className="qs-btn-secondary qs-btn-small" data-testid="download-report" onClick={downloadReport}>Download report (HTML)</button>
        <span className="qs-muted" style={{ fontSize: 12 }}>One self-contained file: recipe, data, metrics, per-layer error, ranges, plots{evaluation ? ', latency' : ''}.</span>
      </div>
      {report.warnings.length > 0 && (
        <div className="qs-note" data-testid="run-warnings" style={{ color: 'var(--qs-warn)' }}>
          {report.warnings.map((w) => <p key={w.message} style={{ margin: '4px 0' }}><strong>Warning:</strong> {w.message}</p>)}
        </div>
      )}
      {report.mixedPrecision && <MixedPrecisionResult mp={report.mixedPrecision} />}
      <EvaluationPanel runId={run.id} auto={latencyWanted} onMeasured={setEvaluation} />
      {report.notices.map((n) => <p key={n} className="qs-muted" style={{ fontSize: 12.5 }}>Note: {n}</p>)}
      {layers.length > 0 && (
        <>
          <Plot testId="layer-chart" data={[{ type: 'bar', x: layers.map((l) => l.node || l.tensor), y: layers.map((l) => l.sqnrDb), marker: { color: layers.map((l) => (l.sqnrDb < 15 ? '#dc2626' : l.sqnrDb < 25 ? '#f59e0b' : '#16a34a')) }, name: 'SQNR (dB)' }]}
            layout={{ title: { text: 'Per-layer SQNR (higher is better)' }, yaxis: { title: { text: 'dB' } }, xaxis: { type: 'category', tickangle: -35, automargin: true, showticklabels: layers.length <= 24, title: { text: layers.length > 24 ? `${layers.length} layers in graph order (hover for names)` : '' } } }} style={{ height: 300 }} />
          <div style={{ maxHeight: 260, overflow: 'auto' }}>
            <table className="qs-table2" data-testid="layer-table">
              <thead><tr><th>Layer</th><th>Op</th><th className="num">SQNR dB</th><th className="num">Cosine</th><th className="num">MSE</th></tr></thead>
              <tbody>{layers.map((l) => <tr key={l.tensor + l.node}><td className="qs-mono">{l.node || l.tensor}</td><td>{l.opType}</td><td className="num">{fmtNum(l.sqnrDb, 2)}</td><td className="num">{fmtNum(l.cosine, 5)}</td><td className="num">{fmtNum(l.mse)}</td></tr>)}</tbody>
            </table>
          </div>
        </>
      )}
    </div>
  );
}

/** What a recipe target chose: whether it holds, which units left the recipe's precision, every decision in order. */
function MixedPrecisionResult({ mp }: { mp: MixedPrecisionView }) {
  const metric = (x: number) => (Number.isFinite(x) ? fmtNum(x, 4) : '—');
  return (
    <div data-testid="run-mixed-precision" style={{ margin: '8px 0' }}>
      <h3>Mixed precision — target {mp.target}</h3>
      <p data-testid="mp-outcome" style={{ color: mp.met ? 'var(--qs-ok)' : 'var(--qs-warn)', margin: '4px 0' }}>
        {mp.met ? 'Met' : 'Not met by any assignment tried; the best found was used'}: {mp.achieved} (fully quantized: {mp.start}).
        {mp.final && <> Written model: {mp.final.description} — {mp.final.met ? 'met' : 'not met'}.</>}
      </p>
      <p className="qs-muted" style={{ fontSize: 12.5, margin: '4px 0' }}>
        {mp.quantizedWeights} of {mp.weights} weighted layers quantized; {mp.raised.length ? `left the recipe's precision: ${mp.raised.map((r) => `${r.name} → ${r.precision}`).join(', ')}` : "every unit at the recipe's precision"}.
      </p>
      {mp.decisions.length > 0 && (
        <div style={{ maxHeight: 220, overflow: 'auto' }}>
          <table className="qs-table2" data-testid="mp-decisions">
            <thead><tr><th>Step</th><th>Unit</th><th>From</th><th>To</th><th className="num">Metric after</th><th>Meets</th><th>Measured on</th></tr></thead>
            <tbody>{mp.decisions.map((d, i) => <tr key={i}><td>{d.step}</td><td className="qs-mono">{d.name}</td><td>{d.from}</td><td>{d.to}</td><td className="num">{metric(d.metricAfter)}</td><td>{d.met ? 'yes' : 'no'}</td><td>{d.measuredOn === 'export' ? 'exported model' : 'search variant'}</td></tr>)}</tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function meanLayerSqnr(r: RunReport | null): number | null {
  const ls = r?.layers.filter((l) => Number.isFinite(l.sqnrDb)) ?? [];
  return ls.length ? ls.reduce((a, l) => a + l.sqnrDb, 0) / ls.length : null;
}

/** The run's log lines, on demand (failed and cancelled runs say why there). */
function RunLog({ runId }: { runId: string }) {
  const [open, setOpen] = useState(false);
  const logs = useQuery('runs.logs', open ? { id: runId } : null);
  return (
    <details onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)} onClick={(e) => e.stopPropagation()}>
      <summary className="qs-muted" style={{ fontSize: 12, cursor: 'pointer' }}>Log</summary>
      <pre className="qs-mono" style={{ maxHeight: 160, overflow: 'auto', whiteSpace: 'pre-wrap', background: '#f8fafc', padding: 6 }}>{logs.data?.map((l) => l.line).join('\n') || (logs.loading ? '…' : 'No log lines.')}</pre>
    </details>
  );
}

/** Latency and task metric against FP32; measured by itself when the pipeline's Evaluate node asks for latency. */
function EvaluationPanel({ runId, auto, onMeasured }: { runId: string; auto?: boolean; onMeasured?: (ev: RunEvaluation) => void }) {
  const studio = useStudio();
  const [ev, setEv] = useState<RunEvaluation | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const measure = async () => {
    setBusy(true); setErr(null);
    try { const v = await studio.invoke('runs.evaluate', { runId }); setEv(v); onMeasured?.(v); } catch (e) { setErr(errMessage(e)); } finally { setBusy(false); }
  };
  const [autoDone, setAutoDone] = useState(false);
  useEffect(() => {
    if (!auto || autoDone) return;
    setAutoDone(true);
    void measure();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [auto, autoDone]);
  const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
  return (
    <div style={{ margin: '12px 0' }}>
      <div className="qs-row">
        <h3 style={{ margin: 0 }}>Against FP32</h3>
        <button className="qs-btn-secondary qs-btn-small" data-testid="measure-run" disabled={busy} onClick={measure}>{busy ? 'Measuring…' : ev ? 'Measure again' : 'Measure latency and accuracy'}</button>
      </div>
      <ErrorNote error={err} />
      {ev && (
        <dl className="qs-kv" data-testid="run-evaluation" style={{ marginTop: 8 }}>
          <dt>Latency</dt><dd>{ev.quantMs.toFixed(2)} ms quantized vs {ev.fp32Ms.toFixed(2)} ms FP32 — <strong>{ev.speedup.toFixed(2)}×</strong> (fastest of {ev.runs ?? 'the'} interleaved runs each, batch {ev.batch}, {ev.threads} thread)</dd>
          {ev.fp32CpuMs !== undefined && ev.quantCpuMs !== undefined && ev.fp32MedianMs !== undefined && ev.quantMedianMs !== undefined && (
            <><dt>Cross-check</dt><dd className="qs-muted" style={{ fontSize: 12.5 }}>CPU time per run {ev.quantCpuMs.toFixed(2)} vs {ev.fp32CpuMs.toFixed(2)} ms ({(ev.fp32CpuMs / Math.max(1e-9, ev.quantCpuMs)).toFixed(2)}×); median wall time {ev.quantMedianMs.toFixed(2)} vs {ev.fp32MedianMs.toFixed(2)} ms (inflated when other processes load the machine)</dd></>
          )}
          {ev.metric && <><dt>{ev.metric.name}</dt><dd><strong>{ev.metric.name.includes('accuracy') ? pct(ev.metric.quant) : ev.metric.quant.toFixed(3)}</strong> quantized vs {ev.metric.name.includes('accuracy') ? pct(ev.metric.fp32) : ev.metric.fp32.toFixed(3)} FP32 on {ev.samples} samples</dd></>}
          {!ev.metric && <><dt>Task metric</dt><dd className="qs-muted">Attach labels (.npy, “Labels”) to measure accuracy.</dd></>}
        </dl>
      )}
    </div>
  );
}

function CompareRuns({ runs, label, projectName }: { runs: RunInfo[]; label: (r: RunInfo) => string; projectName: string }) {
  const studio = useStudio();
  const reports = runs.map((r) => parseRunReport(r.result));
  const [evals, setEvals] = useState<Record<string, RunEvaluation>>({});
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const measureAll = async () => {
    setBusy(true); setErr(null);
    try {
      for (const r of runs) {
        const ev = await studio.invoke('runs.evaluate', { runId: r.id });
        setEvals((x) => ({ ...x, [r.id]: ev }));
      }
    } catch (e) { setErr(errMessage(e)); } finally { setBusy(false); }
  };
  const table = buildCompare(runs.map((r, i) => ({ id: r.id, label: label(r), report: reports[i] ?? null, recipe: r.params.recipe, evaluation: evals[r.id] })));
  const diff = recipeDiff(runs.map((r) => r.params.recipe));
  const layerNames = [...new Set(reports.flatMap((r) => r?.layers.map((l) => l.node || l.tensor) ?? []))];
  const short = (r: RunInfo) => label(r).split(' ')[0]!;
  const fileBase = `${slug(projectName)}-compare-${runs.map((r) => short(r).replace('#', '')).join('-')}`;
  return (
    <div className="qs-card" data-testid="compare">
      <div className="qs-row" style={{ justifyContent: 'space-between' }}>
        <h2 style={{ margin: 0 }}>Compare {runs.length} runs</h2>
        <div className="qs-row">
          <button className="qs-btn-secondary qs-btn-small" data-testid="measure-all" disabled={busy} onClick={measureAll}>{busy ? 'Measuring…' : 'Measure latency and accuracy of each'}</button>
          <button className="qs-btn-secondary qs-btn-small" data-testid="export-csv" onClick={() => downloadText(`${fileBase}.csv`, compareCsv(table), 'text/csv')}>Export CSV</button>
          <button className="qs-btn-secondary qs-btn-small" data-testid="export-json" onClick={() => downloadText(`${fileBase}.json`, compareJson(table), 'application/json')}>Export JSON</button>
        </div>
      </div>
      <ErrorNote error={err} />
      <div style={{ overflowX: 'auto' }}>
        <table className="qs-table2" data-testid="compare-table">
          <thead><tr><th>Run</th>{table.columns.map((c) => <th key={c.id} className="num" data-col={c.id}>{c.header}</th>)}</tr></thead>
          <tbody>
            {table.rows.map((row) => (
              <tr key={row.id} className={row.baseline ? 'qs-baseline' : ''} data-testid={row.baseline ? 'compare-baseline' : 'compare-row'}>
                <td>{row.label}</td>
                {table.columns.map((c) => <td key={c.id} className="num" data-metric={c.format} data-col={c.id}>{formatCell(c, row.values[c.id])}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3 style={{ marginTop: 12 }}>Recipe differences</h3>
      {diff.length === 0 ? <p className="qs-muted" style={{ fontSize: 12.5 }} data-testid="recipe-diff-none">Same recipe in every run.</p> : (
        <table className="qs-table2" data-testid="recipe-diff">
          <thead><tr><th>Field</th>{runs.map((r) => <th key={r.id}>{short(r)}</th>)}</tr></thead>
          <tbody>{diff.map((d) => <tr key={d.field}><td className="qs-mono">{d.field}</td>{d.values.map((v, i) => <td key={i} className="qs-mono">{v}</td>)}</tr>)}</tbody>
        </table>
      )}
      <div className="qs-grid2">
        <Plot testId="compare-layers" data={runs.map((r, i) => ({ type: 'scatter', mode: 'lines+markers', name: short(r), x: layerNames, y: layerNames.map((n) => reports[i]?.layers.find((l) => (l.node || l.tensor) === n)?.sqnrDb ?? null) }))}
          layout={{ title: { text: 'Per-layer SQNR (dB)' }, xaxis: { type: 'category', tickangle: -35, automargin: true, showticklabels: layerNames.length <= 30 } }} />
        <Plot testId="compare-metrics" data={[
          { type: 'bar', name: 'Output SQNR (dB)', x: runs.map(short), y: reports.map((r) => r?.outputAgreement?.sqnrDb ?? null), marker: { color: '#2563eb' } },
          { type: 'bar', name: 'Mean layer SQNR (dB)', x: runs.map(short), y: reports.map((r) => meanLayerSqnr(r)), marker: { color: '#93c5fd' } },
          { type: 'scatter', mode: 'markers', name: 'Size (MiB)', x: runs.map(short), y: reports.map((r) => (r?.sizeBytes ? r.sizeBytes.quantized / 2 ** 20 : null)), yaxis: 'y2', marker: { color: '#ea580c', size: 13, symbol: 'diamond' } },
        ]} layout={{ title: { text: 'Error and size per run' }, barmode: 'group', xaxis: { type: 'category' }, yaxis: { title: { text: 'dB' } }, yaxis2: { overlaying: 'y', side: 'right', title: { text: 'MiB', standoff: 4 }, rangemode: 'tozero', showgrid: false }, margin: { l: 56, r: 64, t: 56, b: 44 } }} />
      </div>
    </div>
  );
}
