// The Compare table as data: an FP32 baseline row and one row per run, one column per quantity (a
// metric the engine reports for both FP32 and the quantized model is ONE column: FP32's value in the
// baseline row, the quantized value in each run's row), every column formatted one way, plus the
// recipe fields that differ between the runs. CSV and JSON exports are made from the same rows.
import type { Json } from '../../../../contract/ipc';
import { metricKeys, type RunReport } from './run-report';
import { formatMetric, metricDef, unitSuffix } from './metric-format';

export interface CompareInput {
  id: string;
  label: string;
  report: RunReport | null;
  recipe: Json | undefined;
  evaluation?: { fp32Ms: number; quantMs: number; speedup: number; metric: { name: string; fp32: number; quant: number } | null };
}
export interface CompareColumn { id: string; header: string; /** metric-format key that formats it */ format: string }
export interface CompareRow { id: string; label: string; baseline: boolean; values: Record<string, number | null> }

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

function headerFor(formatKey: string, label?: string): string {
  const d = metricDef(formatKey);
  const u = unitSuffix(d.unit);
  const l = label ?? d.label;
  return u ? `${l} (${u})` : l;
}

export function buildCompare(runs: CompareInput[]): { columns: CompareColumn[]; rows: CompareRow[] } {
  const reports = runs.map((r) => r.report);
  const columns: CompareColumn[] = [{ id: 'sizeMiB', header: 'Size (MiB)', format: 'sizeMiB' }];
  const baseline: CompareRow = { id: 'fp32', label: 'FP32 (original model)', baseline: true, values: {} };
  const rows: CompareRow[] = runs.map((r) => ({ id: r.id, label: r.label, baseline: false, values: {} }));
  const firstReport = reports.find((r) => r?.sizeBytes);
  baseline.values.sizeMiB = firstReport?.sizeBytes ? firstReport.sizeBytes.original / 2 ** 20 : null;
  runs.forEach((r, i) => { rows[i]!.values.sizeMiB = r.report?.sizeBytes ? r.report.sizeBytes.quantized / 2 ** 20 : null; });

  const keys = metricKeys(reports);
  const done = new Set<string>();
  for (const k of keys) {
    if (done.has(k)) continue;
    const q = /^(.*)Quantized(Ms)?$/.exec(k);
    const f = /^(.*)Fp32(Ms)?$/.exec(k);
    const partner = q ? `${q[1]}Fp32${q[2] ?? ''}` : f ? `${f[1]}Quantized${f[2] ?? ''}` : undefined;
    const quantKey = q ? k : f && partner && keys.includes(partner) ? partner : f ? undefined : k;
    const fp32Key = f ? k : q && partner && keys.includes(partner) ? partner : undefined;
    done.add(k);
    if (partner) done.add(partner);
    const fmtKey = quantKey ?? fp32Key!;
    const label = metricDef(fmtKey).label.replace(/, (quantized|FP32)$/i, '');
    const id = `metric:${fmtKey}`;
    columns.push({ id, header: headerFor(fmtKey, label), format: fmtKey });
    // The FP32 figure is the same model measured the same way in every run: the first run's.
    baseline.values[id] = fp32Key ? reports.map((r) => r?.metrics[fp32Key]).find((v) => v !== undefined) ?? null : null;
    runs.forEach((r, i) => { rows[i]!.values[id] = quantKey ? r.report?.metrics[quantKey] ?? null : null; });
  }
  for (const [id, fmt, get] of [
    ['outputSqnrDb', 'outputSqnrDb', (r: RunReport | null) => r?.outputAgreement?.sqnrDb],
    ['meanLayerSqnrDb', 'meanLayerSqnrDb', (r: RunReport | null) => mean(r?.layers.map((l) => l.sqnrDb).filter(Number.isFinite) ?? [])],
    ['top1Agreement', 'top1Agreement', (r: RunReport | null) => r?.outputAgreement?.top1Agreement],
  ] as const) {
    const vals = reports.map((r) => get(r));
    if (vals.every((v) => v === undefined || v === null || !Number.isFinite(v))) continue;
    columns.push({ id, header: headerFor(fmt), format: fmt });
    baseline.values[id] = null;
    runs.forEach((_, i) => { rows[i]!.values[id] = Number.isFinite(vals[i] as number) ? (vals[i] as number) : null; });
  }
  const evals = runs.map((r) => r.evaluation);
  const anyEval = evals.find(Boolean);
  if (anyEval) {
    columns.push({ id: 'latencyMs', header: 'Latency, measured (ms)', format: 'latencyQuantizedMs' });
    columns.push({ id: 'speedup', header: headerFor('speedup'), format: 'speedup' });
    baseline.values.latencyMs = anyEval.fp32Ms;
    baseline.values.speedup = 1;
    runs.forEach((_, i) => { rows[i]!.values.latencyMs = evals[i]?.quantMs ?? null; rows[i]!.values.speedup = evals[i]?.speedup ?? null; });
    const metric = evals.find((e) => e?.metric)?.metric;
    if (metric) {
      const key = /accuracy|top-?1/i.test(metric.name) ? 'top1Measured' : 'perplexityMeasured';
      columns.push({ id: 'measured', header: headerFor(key, metric.name.replace(/^./, (c) => c.toUpperCase()) + ', measured'), format: key });
      baseline.values.measured = metric.fp32;
      runs.forEach((_, i) => { rows[i]!.values.measured = evals[i]?.metric?.quant ?? null; });
    }
  }
  return { columns, rows: [baseline, ...rows] };
}

export function formatCell(col: CompareColumn, v: number | null | undefined): string {
  if (col.format === 'sizeMiB') return v === null || v === undefined ? '—' : v.toFixed(2);
  return formatMetric(col.format, v, { withUnit: false });
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The table as CSV, values exactly as shown (one format per column, no units: they are in the header). */
export function compareCsv(t: { columns: CompareColumn[]; rows: CompareRow[] }): string {
  const lines = [['Run', ...t.columns.map((c) => c.header)].map(csvField).join(',')];
  for (const r of t.rows) lines.push([r.label, ...t.columns.map((c) => { const s = formatCell(c, r.values[c.id]); return s === '—' ? '' : s; })].map(csvField).join(','));
  return lines.join('\n') + '\n';
}

/** The table as JSON: one object per row, numbers as shown (null where there is none). */
export function compareJson(t: { columns: CompareColumn[]; rows: CompareRow[] }): string {
  return JSON.stringify(t.rows.map((r) => {
    const o: Record<string, string | number | boolean | null> = { run: r.label, baseline: r.baseline };
    for (const c of t.columns) { const s = formatCell(c, r.values[c.id]).replace(/,/g, ''); o[c.header] = s === '—' ? null : Number(s); }
    return o;
  }), null, 2);
}

/** Flatten a recipe to "weights.dtype" -> "int8" (arrays by index: "algorithms[0].name"). */
export function flattenRecipe(v: Json | undefined, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(v)) v.forEach((x, i) => flattenRecipe(x, `${prefix}[${i}]`, out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) flattenRecipe(x, prefix ? `${prefix}.${k}` : k, out);
  else if (v !== undefined) out.set(prefix, v === null ? 'none' : String(v));
  return out;
}

/** Recipe fields whose value differs between the runs (absent = "—"), in the recipe's order. */
export function recipeDiff(recipes: (Json | undefined)[]): { field: string; values: string[] }[] {
  const flat = recipes.map((r) => flattenRecipe(r));
  const fields: string[] = [];
  for (const f of flat) for (const k of f.keys()) if (!fields.includes(k)) fields.push(k);
  return fields.map((field) => ({ field, values: flat.map((f) => f.get(field) ?? '—') })).filter((r) => new Set(r.values).size > 1);
}

/** Save text as a file through the browser (a Blob URL and an <a download>): works in both hosts. */
export function downloadText(fileName: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file-name-safe slug of a run or model name. */
export function slug(s: string): string {
  return s.normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'run';
}
