// One run as a single self-contained HTML file to share: what was run (recipe), on what data, what it
// gave (size, metrics, per-layer error, activation ranges, what was quantized or left in float, stage
// times) with inline SVG plots. No script, no external stylesheet, font or image: a Content-Security-
// Policy of default-src 'none' makes sure the file never reaches out, opened anywhere.
import type { Json } from '../../../../contract/ipc';
import type { RunReport } from './run-report';
import { formatMetric, metricDef } from './metric-format';
import { stageLabel, fmtDuration } from './stage-names';
import { flattenRecipe } from './compare-table';

export interface HtmlReportInput {
  title: string;
  projectName: string;
  modelName?: string;
  run: { id: string; status: string; createdAt: string; startedAt: string | null; finishedAt: string | null; params: { [k: string]: Json } };
  notes?: { notes: string; tags: string[] };
  pipelineName?: string | null;
  report: RunReport;
  /** The raw result, for parts the typed report does not carry (activation ranges, evaluation data, warnings). */
  result: Json | null;
  datasets: { name: string; facts?: string }[];
  evaluation?: { fp32Ms: number; quantMs: number; speedup: number; batch: number; threads: number; metric: { name: string; fp32: number; quant: number } | null } | null;
  generatedAt: string;
}

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
const num = (v: number, d = 3) => (Number.isFinite(v) ? (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(3) : String(+v.toFixed(d))) : '—');
const isObj = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Bars with a value axis, one per label (SQNR per layer). */
export function svgBars(values: number[], labels: string[], o: { yLabel: string; color: (v: number) => string; width?: number; height?: number }): string {
  const W = o.width ?? 900, H = o.height ?? 260, L = 48, B = 28, T = 10, R = 8;
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return '';
  const max = Math.max(0, ...finite), min = Math.min(0, ...finite);
  const y = (v: number) => T + (H - T - B) * (1 - (v - min) / Math.max(1e-12, max - min));
  const bw = (W - L - R) / values.length;
  const ticks = Array.from({ length: 5 }, (_, i) => min + ((max - min) * i) / 4);
  const bars = values.map((v, i) => Number.isFinite(v)
    ? `<rect x="${(L + i * bw + bw * 0.1).toFixed(1)}" y="${Math.min(y(v), y(0)).toFixed(1)}" width="${Math.max(1, bw * 0.8).toFixed(1)}" height="${Math.abs(y(v) - y(0)).toFixed(1)}" fill="${o.color(v)}"><title>${esc(labels[i])}: ${num(v, 2)}</title></rect>` : '').join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(o.yLabel)}">
<g font-size="11" fill="#475569">${ticks.map((t) => `<line x1="${L}" x2="${W - R}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e2e8f0"/><text x="${L - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${num(t, 1)}</text>`).join('')}
<text x="12" y="${H / 2}" transform="rotate(-90 12 ${H / 2})" text-anchor="middle">${esc(o.yLabel)}</text>
<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">${values.length} layers in graph order (hover a bar for its name)</text></g>${bars}</svg>`;
}

/** A small histogram (counts per bin) as an inline SVG. */
export function svgHistogram(counts: number[], w = 160, h = 36): string {
  const max = Math.max(1, ...counts);
  const bw = w / Math.max(1, counts.length);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}">${counts.map((c, i) => `<rect x="${(i * bw).toFixed(1)}" y="${(h - (h * c) / max).toFixed(1)}" width="${Math.max(0.5, bw - 0.5).toFixed(1)}" height="${((h * c) / max).toFixed(1)}" fill="#3b82f6"/>`).join('')}</svg>`;
}

/** A measured task metric as the results view shows it: accuracies in %, perplexity plain. */
function evalMetricText(m: { name: string; fp32: number; quant: number }): string {
  const pct = /accuracy|top-?1/i.test(m.name);
  const f = (v: number) => (pct ? `${(v * 100).toFixed(2)} %` : num(v, 3));
  return `${f(m.quant)} quantized vs ${f(m.fp32)} FP32`;
}

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function runHtmlReport(i: HtmlReportInput): string {
  const r = i.report;
  const recipe = (i.run.params.recipe ?? null) as Json;
  const res = isObj(i.result) ? i.result : {};
  const sections: string[] = [];
  const kv: [string, string][] = [
    ['Project', esc(i.projectName)], ...(i.modelName ? [['Model', esc(i.modelName)] as [string, string]] : []),
    ...(i.pipelineName ? [['Pipeline (its name now)', esc(i.pipelineName)] as [string, string]] : []),
    ['Status', esc(i.run.status)], ['Started', esc(new Date(i.run.createdAt).toISOString())],
    ...(i.run.startedAt && i.run.finishedAt ? [['Duration', esc(fmtDuration(Date.parse(i.run.finishedAt) - Date.parse(i.run.startedAt)))] as [string, string]] : []),
    ...(r.device ? [['Device', esc(r.device)] as [string, string]] : []),
    ...(r.sizeBytes ? [['Size', `${num(r.sizeBytes.original / 2 ** 20, 2)} MiB → ${num(r.sizeBytes.quantized / 2 ** 20, 2)} MiB (${(r.sizeBytes.original / Math.max(1, r.sizeBytes.quantized)).toFixed(2)}× smaller)`] as [string, string]] : []),
    ...Object.entries(r.metrics).map(([k, v]) => [esc(metricDef(k).label), esc(formatMetric(k, v))] as [string, string]),
    ...(r.outputAgreement?.sqnrDb !== undefined && Number.isFinite(r.outputAgreement.sqnrDb) ? [['Output SQNR vs FP32', `${num(r.outputAgreement.sqnrDb, 2)} dB`] as [string, string]] : []),
    ...(r.outputAgreement?.top1Agreement !== undefined ? [['Top-1 agreement with FP32', `${(r.outputAgreement.top1Agreement * 100).toFixed(1)} %`] as [string, string]] : []),
    ...(i.evaluation ? [['Latency (measured)', `${i.evaluation.quantMs.toFixed(2)} ms vs ${i.evaluation.fp32Ms.toFixed(2)} ms FP32 — ${i.evaluation.speedup.toFixed(2)}× (batch ${i.evaluation.batch}, ${i.evaluation.threads} thread)`] as [string, string]] : []),
    ...(i.evaluation?.metric ? [[esc(i.evaluation.metric.name.replace(/^./, (c) => c.toUpperCase()) + ' (measured)'), evalMetricText(i.evaluation.metric)] as [string, string]] : []),
    ['Quantized', `${r.quantized.length} nodes${r.skipped.length ? `, ${r.skipped.length} left in float` : ''}`],
  ];
  sections.push(`<section id="summary"><h2>Summary</h2><dl>${kv.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>${i.notes?.tags.length ? `<p>Tags: ${i.notes.tags.map((t) => `<span class="tag">${esc(t)}</span>`).join(' ')}</p>` : ''}${i.notes?.notes ? `<p class="notes">${esc(i.notes.notes)}</p>` : ''}</section>`);
  const flat = [...flattenRecipe(recipe).entries()];
  sections.push(`<section id="recipe"><h2>Recipe</h2>${flat.length ? table(['Field', 'Value'], flat.map(([k, v]) => [`<code>${esc(k)}</code>`, esc(v)])) : '<p>No recipe recorded.</p>'}<details><summary>As JSON</summary><pre>${esc(JSON.stringify(recipe, null, 2))}</pre></details></section>`);
  const evalInfo = isObj(res.evaluation) ? Object.entries(res.evaluation).filter(([, v]) => typeof v !== 'object' || v === null) : [];
  sections.push(`<section id="data"><h2>Data used</h2>${i.datasets.length ? table(['Dataset', 'Samples × shape, dtype'], i.datasets.map((d) => [esc(d.name), esc(d.facts ?? '—')])) : '<p>No dataset recorded.</p>'}${evalInfo.length ? `<p>Figures measured on: ${evalInfo.map(([k, v]) => `${esc(k)} = ${esc(v)}`).join('; ')}</p>` : ''}</section>`);
  const layers = r.layers.filter((l) => Number.isFinite(l.sqnrDb));
  if (layers.length) {
    sections.push(`<section id="layers"><h2>Per-layer error</h2>${svgBars(layers.map((l) => l.sqnrDb), layers.map((l) => l.node || l.tensor), { yLabel: 'SQNR (dB)', color: (v) => (v < 15 ? '#dc2626' : v < 25 ? '#f59e0b' : '#16a34a') })}
${table(['Layer', 'Op', 'SQNR (dB)', 'Cosine', 'MSE'], layers.map((l) => [`<code>${esc(l.node || l.tensor)}</code>`, esc(l.opType), num(l.sqnrDb, 2), num(l.cosine, 5), num(l.mse)]), 'num')}</section>`);
  }
  const ranges = Array.isArray(res.activationRanges) ? res.activationRanges.filter(isObj) : [];
  if (ranges.length) {
    sections.push(`<section id="ranges"><h2>Activation ranges</h2>${table(['Tensor', 'Observed min … max', 'Chosen range', 'Scale', 'Zero point', 'Histogram'], ranges.slice(0, 500).map((a) => {
      const h = isObj(a.histogram) && Array.isArray(a.histogram.counts) ? (a.histogram.counts as Json[]).map(Number) : [];
      return [`<code>${esc(a.tensor)}</code>`, `${num(Number(a.min), 4)} … ${num(Number(a.max), 4)}`, `${num(Number(a.rangeMin), 4)} … ${num(Number(a.rangeMax), 4)}`, a.scale === undefined ? '—' : num(Number(a.scale), 6), a.zeroPoint === undefined ? '—' : esc(a.zeroPoint), h.length ? svgHistogram(h) : ''];
    }), 'num')}${ranges.length > 500 ? `<p>First 500 of ${ranges.length}.</p>` : ''}</section>`);
  }
  // Sensitivity: the layers a quality warning names, each measured alone (only it quantized / all but it).
  const warnings = Array.isArray(res.warnings) ? res.warnings.filter(isObj) : [];
  const culprits = warnings.flatMap((w) => (Array.isArray(w.culprits) ? w.culprits.filter(isObj) : []));
  if (warnings.length || r.notices.length) sections.push(`<section id="notes"><h2>Warnings and notices</h2><ul>${warnings.map((w) => `<li class="warn">${esc(w.message ?? '')}</li>`).join('')}${r.notices.map((n) => `<li>${esc(n)}</li>`).join('')}</ul></section>`);
  if (culprits.length) {
    sections.push(`<section id="sensitivity"><h2>Sensitivity (layers the warnings name)</h2>${table(['Unit', 'Kind', 'Op', 'Output SQNR, only it quantized (dB)', 'Output SQNR, all but it quantized (dB)'],
      culprits.map((c) => [`<code>${esc(c.name)}</code>`, esc(c.kind), esc(c.opType ?? '—'), num(Number(c.onlyQuantizedSqnrDb), 2), num(Number(c.onlyFloatSqnrDb), 2)]), 'num')}</section>`);
  }
  const mp = isObj(res.mixedPrecision) ? res.mixedPrecision : null;
  if (mp) {
    const assignment = Array.isArray(mp.assignment) ? mp.assignment.filter(isObj) : [];
    const decisions = Array.isArray(mp.decisions) ? mp.decisions.filter(isObj) : [];
    const achieved = isObj(mp.achieved) ? mp.achieved : {};
    const start = isObj(mp.start) ? mp.start : {};
    sections.push(`<section id="mixed-precision"><h2>Mixed precision</h2><p>Target ${esc(JSON.stringify(mp.target))}: ${mp.met ? 'met' : '<strong class="warn">not met</strong>'}; from ${esc(start.description ?? '')} to ${esc(achieved.description ?? '')}.</p>
${decisions.length ? table(['Step', 'Unit', 'Kind', 'From', 'To', 'Metric after', 'Met'], decisions.map((d) => [esc(d.step), `<code>${esc(d.name)}</code>`, esc(d.kind), esc(d.fromPrecision ?? d.from), esc(d.toPrecision ?? d.to), num(Number(d.metricAfter), 3), d.met ? 'yes' : 'no'])) : ''}
${assignment.length ? `<details><summary>Level of every unit (${assignment.length})</summary>${table(['Unit', 'Kind', 'Op', 'Level'], assignment.map((a) => [`<code>${esc(a.name)}</code>`, esc(a.kind), esc(a.opType ?? '—'), esc(a.level)]))}</details>` : ''}</section>`);
  }
  sections.push(`<section id="nodes"><h2>Quantized nodes (${r.quantized.length})</h2>${table(['Node', 'Op', 'Weight', 'Granularity', 'Activation'], r.quantized.map((q) => [`<code>${esc(q.node)}</code>`, esc(q.opType), esc(q.weightDtype ?? '—'), esc(q.granularity ?? '—'), esc(q.activationDtype ?? '—')]))}
${r.skipped.length ? `<h3>Left in float (${r.skipped.length})</h3>${table(['Node', 'Op', 'Why'], r.skipped.map((q) => [`<code>${esc(q.node)}</code>`, esc(q.opType), esc(q.reason)]))}` : ''}</section>`);
  const t = Object.entries(r.timingsMs);
  if (t.length) sections.push(`<section id="stages"><h2>Stages</h2>${table(['Stage', 'Time'], t.map(([k, v]) => [esc(stageLabel(k)), esc(fmtDuration(v))]))}</section>`);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Quant Studio">
<title>${esc(i.title)} — Quant Studio report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#fff;margin:0 auto;max-width:1000px;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #e3e6eb;padding-bottom:4px} h3{font-size:14px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px} dt{color:#6b7280} dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0} th{text-align:left;color:#6b7280;font-weight:600;border-bottom:1px solid #e3e6eb;padding:4px 8px} td{padding:4px 8px;border-bottom:1px solid #f0f2f5;vertical-align:middle}
table.num td:not(:first-child){text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px} pre{background:#f8fafc;padding:8px;border-radius:6px;overflow:auto}
.tag{display:inline-block;background:#eef2ff;color:#3730a3;border-radius:999px;padding:0 8px;font-size:12px} .notes{white-space:pre-wrap;background:#fffbeb;padding:8px;border-radius:6px}
.warn{color:#b45309} .muted{color:#6b7280}
@media (prefers-color-scheme: dark){body{background:#0f141b;color:#e5e7eb} th,dt,.muted{color:#9ca3af} td{border-color:#1f2937} pre{background:#111827} .notes{background:#1f2937}}
</style></head>
<body>
<h1>${esc(i.title)}</h1>
<p class="muted">Quant Studio run ${esc(i.run.id)} · report generated ${esc(i.generatedAt)}</p>
${sections.join('\n')}
</body></html>
`;
}
