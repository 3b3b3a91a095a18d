// Runs: live progress with stage and cancel; a finished run's results (per-layer error, size,
// accuracy, latency vs FP32); several runs compared side by side; export of the quantized model.
import { Fragment, useCallback, useMemo, useState } from 'react';
import type { RunEvaluation, RunInfo, StudioEvent } from '../../../../contract/ipc';
import type { ProjectViewProps } from '../../routing';
import { useQuery, useStudio, useStudioEvents } from '../../api/use-studio';
import { EmptyState, ErrorNote, ProgressBar, errMessage, fmtBytes, fmtNum } from '../../components/ui';
import { Plot } from '../../components/Plot';
import { metricKeys, parseRunReport, type RunReport } from './run-report';
import { evalMetricKey, formatMetric, metricDef, metricHeader } from './metric-format';
import { addPoint, curveFromMetrics, pointFromProgress, smooth, type LossPoint } from './loss-curve';

interface Live { stage: string; fraction: number; message?: string }

export function RunsView({ project }: ProjectViewProps) {
  const studio = useStudio();
  const runs = useQuery('runs.list', { projectId: project.id });
  const [live, setLive] = useState<Record<string, Live>>({});
  const [selected, setSelected] = useState<string | null>(null);
  const [compare, setCompare] = useState<string[]>([]);
  const [err, setErr] = useState<Record<string, string>>({});
  const [curves, setCurves] = useState<Record<string, LossPoint[]>>({});
  const onEvent = useCallback((e: StudioEvent) => {
    if (e.event === 'run.progress') {
      const { runId } = e.payload;
      setLive((l) => ({ ...l, [runId]: { stage: e.payload.stage, fraction: e.payload.fraction, message: e.payload.message } }));
      const p = pointFromProgress(e.payload.stage, e.payload.metrics);
      if (p) setCurves((c) => ({ ...c, [runId]: addPoint(c[runId] ?? [], p) }));
    }
    if (e.event === 'run.status' && e.payload.projectId === project.id) runs.reload();
  }, [project.id, runs.reload]);
  useStudioEvents(onEvent);

  const list = runs.data ?? [];
  const finished = list.filter((r) => r.status === 'succeeded');
  const sel = list.find((r) => r.id === selected) ?? finished[0];
  const cancel = async (id: string) => {
    try { await studio.invoke('runs.cancel', { id }); runs.reload(); } catch (e) { setErr((x) => ({ ...x, [id]: errMessage(e) })); }
  };
  const label = (r: RunInfo) => `#${list.length - list.indexOf(r)} ${runTitle(r)}`;

  return (
    <div>
      <ErrorNote error={runs.error} />
      {list.length === 0 && <EmptyState title="No runs yet" testId="runs-empty">Open the Pipeline tab, pick a template, and press Run pipeline. Runs appear here with live progress.</EmptyState>}
      {list.length > 0 && (
        <div className="qs-card">
          <table className="qs-table2" data-testid="run-list">
            <thead><tr><th>Compare</th><th>Run</th><th>Status</th><th style={{ width: 260 }}>Progress</th><th>Time</th><th /></tr></thead>
            <tbody>
              {list.map((r) => {
                const l = r.status === 'running' || r.status === 'queued' ? live[r.id] : undefined;
                const fraction = l?.fraction ?? (r.status === 'succeeded' ? 1 : r.progress);
                return (
                  <tr key={r.id} className={sel?.id === r.id ? 'selected' : ''} data-testid="run-row" data-status={r.status} onClick={() => setSelected(r.id)} style={{ cursor: 'pointer' }}>
                    <td><input type="checkbox" aria-label="compare" data-testid="compare-check" disabled={r.status !== 'succeeded'} checked={compare.includes(r.id)} onClick={(e) => e.stopPropagation()}
                      onChange={(e) => setCompare((c) => (e.target.checked ? [...c, r.id] : c.filter((x) => x !== r.id)))} /></td>
                    <td>{label(r)}</td>
                    <td><span className={`qs-badge ${r.status}`} data-testid="run-status">{r.status}</span></td>
                    <td>
                      <ProgressBar fraction={fraction} testId="run-progress" />
                      <div className="qs-muted" style={{ fontSize: 12 }} data-testid="run-stage">{stageText(l?.stage ?? r.stage, l?.message ?? r.message)}</div>
                      {r.error && (r.status === 'cancelled' ? <div className="qs-muted" style={{ fontSize: 12 }}>{r.error.message}</div> : <ErrorNote error={r.error.message} />)}
                      {(r.status === 'failed' || r.status === 'cancelled') && <RunLog runId={r.id} />}
                      {err[r.id] && <ErrorNote error={err[r.id]} />}
                    </td>
                    <td className="qs-muted" style={{ fontSize: 12 }}>{new Date(r.createdAt).toLocaleTimeString()}{r.finishedAt && r.startedAt ? ` · ${((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)} s` : ''}</td>
                    <td>{(r.status === 'running' || r.status === 'queued') && <button className="qs-btn-danger qs-btn-small" data-testid="cancel-run" onClick={(e) => { e.stopPropagation(); void cancel(r.id); }}>Cancel</button>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {finished.length >= 2 && compare.length < 2 && <p className="qs-muted" style={{ fontSize: 12.5, margin: '8px 0 0' }}>Tick two or more finished runs to compare them.</p>}
        </div>
      )}
      {list.filter((r) => (r.status === 'running' || r.status === 'queued') && isQat(r)).map((r) => (
        <div className="qs-card" key={r.id}><QatLossCurve run={r} live={curves[r.id] ?? []} title={`QAT loss — ${label(r)} (live)`} /></div>
      ))}
      {compare.length >= 2 && <CompareRuns runs={compare.map((id) => list.find((r) => r.id === id)!).filter(Boolean)} label={label} />}
      {sel && sel.status === 'succeeded' && <RunResults key={sel.id} run={sel} projectId={project.id} title={label(sel)} live={curves[sel.id] ?? []} />}
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

function RunResults({ run, projectId, title, live }: { run: RunInfo; projectId: string; title: string; live: LossPoint[] }) {
  const studio = useStudio();
  const report = useMemo(() => parseRunReport(run.result), [run.result]);
  const artifacts = useQuery('artifacts.list', { projectId, runId: run.id });
  const [dest, setDest] = useState('');
  const [exported, setExported] = useState<{ path: string; sizeBytes: number } | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const model = artifacts.data?.find((a) => a.kind === 'model') ?? artifacts.data?.[0];
  const chooseDest = async () => {
    try {
      const { path } = await studio.invoke('dialog.saveFile', { title: 'Export the quantized model', defaultName: model?.file.split('/').pop(), filters: [{ name: 'ONNX model', extensions: ['onnx'] }] });
      if (path) setDest(path);
    } catch (e) { setErr(errMessage(e)); }
  };
  const doExport = async () => {
    setErr(null); setExported(null);
    if (!model) return;
    try { setExported(await studio.invoke('artifacts.export', { id: model.id, destPath: dest.trim() })); } catch (e) { setErr(errMessage(e)); }
  };
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
          <dt>Quantized</dt><dd>{report.quantized.length} nodes{report.skipped.length ? `, ${report.skipped.length} left in float` : ''}</dd>
          {report.device && <><dt>Device</dt><dd>{report.device}</dd></>}
          {Object.keys(report.timingsMs).length > 0 && <><dt>Stages</dt><dd>{Object.entries(report.timingsMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(2)} s`).join(' · ')}</dd></>}
        </dl>
        <div>
          <h3>Export</h3>
          {!model && <p className="qs-muted">No model artifact was recorded for this run.</p>}
          {model && (
            <>
              <div className="qs-row">
                <input className="qs-input qs-grow" data-testid="export-path" placeholder={studio.host === 'electron' ? '/path/to/model.int8.onnx' : 'file name (saved in the exports folder) or a path'} value={dest} onChange={(e) => setDest(e.target.value)} aria-label="Export path" />
                {studio.host === 'electron' && <button className="qs-btn-secondary" onClick={chooseDest}>Choose…</button>}
                <button data-testid="export-model" disabled={!dest.trim()} onClick={doExport}>Export</button>
              </div>
              <ErrorNote error={err} testId="export-error" />
              {studio.host === 'browser' && <p className="qs-muted" style={{ fontSize: 12.5 }}>Or <a href={`/download/artifact/${encodeURIComponent(model.id)}`} download>download it</a> through the browser.</p>}
              {exported && <p data-testid="export-summary" style={{ color: 'var(--qs-ok)', fontSize: 13 }}>Wrote {fmtBytes(exported.sizeBytes)} to <span className="qs-mono">{exported.path}</span> (atomically: temp file, then rename).</p>}
            </>
          )}
        </div>
      </div>
      {isQat(run) && <div style={{ margin: '12px 0' }}><QatLossCurve run={run} live={live} title="QAT loss curve" /></div>}
      <EvaluationPanel runId={run.id} />
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

function EvaluationPanel({ runId }: { runId: string }) {
  const studio = useStudio();
  const [ev, setEv] = useState<RunEvaluation | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const measure = async () => {
    setBusy(true); setErr(null);
    try { setEv(await studio.invoke('runs.evaluate', { runId })); } catch (e) { setErr(errMessage(e)); } finally { setBusy(false); }
  };
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

function CompareRuns({ runs, label }: { runs: RunInfo[]; label: (r: RunInfo) => string }) {
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
  const anyEval = runs.some((r) => evals[r.id]);
  const metricName = runs.map((r) => evals[r.id]?.metric?.name).find(Boolean);
  const keys = metricKeys(reports);
  const layerNames = [...new Set(reports.flatMap((r) => r?.layers.map((l) => l.node || l.tensor) ?? []))];
  const short = (r: RunInfo) => label(r).split(' ')[0]!;
  return (
    <div className="qs-card" data-testid="compare">
      <div className="qs-row" style={{ justifyContent: 'space-between' }}>
        <h2 style={{ margin: 0 }}>Compare {runs.length} runs</h2>
        <button className="qs-btn-secondary qs-btn-small" data-testid="measure-all" disabled={busy} onClick={measureAll}>{busy ? 'Measuring…' : 'Measure latency and accuracy of each'}</button>
      </div>
      <ErrorNote error={err} />
      <table className="qs-table2">
        <thead><tr><th>Run</th><th className="num">Size</th>{keys.map((k) => <th key={k} className="num" title={k}>{metricHeader(k)}</th>)}<th className="num">{metricHeader('outputSqnrDb')}</th><th className="num">{metricHeader('meanLayerSqnrDb')}</th><th className="num">{metricHeader('top1Agreement')}</th>{anyEval && <><th className="num">{metricHeader('speedup')}</th>{metricName && <th className="num">{metricHeader(evalMetricKey(metricName))}</th>}</>}</tr></thead>
        <tbody>
          {runs.map((r, i) => {
            const rep = reports[i];
            const ev = evals[r.id];
            return (
              <tr key={r.id}>
                <td>{label(r)}</td>
                <td className="num">{rep?.sizeBytes ? fmtBytes(rep.sizeBytes.quantized) : '—'}</td>
                {keys.map((k) => <td key={k} className="num" data-metric={k}>{formatMetric(k, rep?.metrics[k], { withUnit: false })}</td>)}
                <td className="num">{formatMetric('outputSqnrDb', rep?.outputAgreement?.sqnrDb, { withUnit: false })}</td>
                <td className="num">{formatMetric('meanLayerSqnrDb', meanLayerSqnr(rep), { withUnit: false })}</td>
                <td className="num">{formatMetric('top1Agreement', rep?.outputAgreement?.top1Agreement, { withUnit: false })}</td>
                {anyEval && <><td className="num">{formatMetric('speedup', ev?.speedup, { withUnit: false })}</td>{metricName && <td className="num">{formatMetric(evalMetricKey(ev?.metric?.name ?? metricName), ev?.metric?.quant, { withUnit: false })}</td>}</>}
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="qs-grid2">
        <Plot testId="compare-layers" data={runs.map((r, i) => ({ type: 'scatter', mode: 'lines+markers', name: short(r), x: layerNames, y: layerNames.map((n) => reports[i]?.layers.find((l) => (l.node || l.tensor) === n)?.sqnrDb ?? null) }))}
          layout={{ title: { text: 'Per-layer SQNR (dB)' }, xaxis: { type: 'category', tickangle: -35, automargin: true, showticklabels: layerNames.length <= 30 } }} />
        <Plot testId="compare-metrics" data={[
          { type: 'bar', name: 'Output SQNR (dB)', x: runs.map(short), y: reports.map((r) => r?.outputAgreement?.sqnrDb ?? null), marker: { color: '#2563eb' } },
          { type: 'bar', name: 'Mean layer SQNR (dB)', x: runs.map(short), y: reports.map((r) => meanLayerSqnr(r)), marker: { color: '#93c5fd' } },
          { type: 'scatter', mode: 'markers', name: 'Size (KiB)', x: runs.map(short), y: reports.map((r) => (r?.sizeBytes ? r.sizeBytes.quantized / 1024 : null)), yaxis: 'y2', marker: { color: '#ea580c', size: 13, symbol: 'diamond' } },
        ]} layout={{ title: { text: 'Error and size per run' }, barmode: 'group', xaxis: { type: 'category' }, yaxis: { title: { text: 'dB' } }, yaxis2: { overlaying: 'y', side: 'right', title: { text: 'KiB', standoff: 4 }, rangemode: 'tozero', showgrid: false }, margin: { l: 56, r: 64, t: 28, b: 44 } }} />
      </div>
    </div>
  );
}
