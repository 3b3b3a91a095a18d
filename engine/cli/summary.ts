// The short summary `qstudio quantize` prints at the end: what was quantized, how long it took, how
// much the output moved and on which data (with the sample count), the per-layer error (cumulative,
// worst layers first), quality warnings and what a target chose. Undefined metrics say why.
import type { QuantizeReport } from '../../contract/report';
import { fmtSqnr } from '../analysis/report-format';
import { quote } from '../errors';
import { formatMiB } from '../util/format-bytes';

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;

export function formatSummary(r: QuantizeReport, maxLayers = 12): string {
  const lines: string[] = [];
  const byOp = new Map<string, number>();
  for (const q of r.quantized) byOp.set(q.opType, (byOp.get(q.opType) ?? 0) + 1);
  const first = r.quantized[0];
  const what = [...byOp].map(([op, n]) => `${n} ${op}`).join(', ');
  // Activations per node: a recipe target can leave some nodes' inputs float while others are quantized.
  const acts = new Map<string, number>();
  for (const q of r.quantized) acts.set(q.activationDtype ?? 'float', (acts.get(q.activationDtype ?? 'float') ?? 0) + 1);
  const actText = acts.size === 1 && acts.has('float') ? 'float (weight-only)' : acts.size === 1 ? [...acts.keys()][0]! : [...acts].map(([d, n]) => `${d} on ${n}`).join(', ');
  lines.push(`Quantized ${r.quantized.length} node(s) (${what})${first ? `: weights ${first.weightDtype ?? '-'} ${first.granularity ?? ''}, activations ${actText}` : ''}.`);
  if (r.skipped.length) lines.push(`Left in float: ${r.skipped.length} node(s) (${r.skipped.slice(0, 4).map((s) => `${s.node}: ${s.reason}`).join('; ')}${r.skipped.length > 4 ? '; ...' : ''}).`);
  lines.push(`Size ${formatMiB(r.sizeBytes.original)} -> ${formatMiB(r.sizeBytes.quantized)}; time ${(r.timingsMs.total! / 1000).toFixed(2)} s (${Object.entries(r.timingsMs).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${(v / 1000).toFixed(2)} s`).join(', ')}); device ${r.device.used}.`);
  const on = r.evaluation ? ` on ${r.evaluation.description}` : '';
  if (r.outputAgreement) {
    const a = r.outputAgreement;
    const cos = Number.isNaN(a.cosine) ? '' : `, cosine ${a.cosine.toFixed(5)}`;
    const agree = a.top1Agreement !== undefined ? `, top-1 agreement ${pct(a.top1Agreement)}` : a.top1AgreementUndefined ? `, top-1 agreement undefined (${a.top1AgreementUndefined})` : '';
    lines.push(`Output vs FP32${on}: SQNR ${fmtSqnr(a.sqnrDb, a.undefinedReason)}${cos}${a.worstOutput ? ` (worst of the outputs: ${quote(a.worstOutput)})` : ''}${agree}.`);
  }
  if (r.metrics) {
    const m = Object.entries(r.metrics).filter(([k]) => k !== 'calibrationSamples');
    if (m.length) lines.push(`Metrics${on}: ${m.map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}.`);
  }
  if (r.layers.length) {
    const key = (x: number) => (Number.isNaN(x) ? -Infinity : x);
    const worst = [...r.layers].sort((a, b) => key(a.sqnrDb) - key(b.sqnrDb)).slice(0, maxLayers);
    lines.push(`Per-layer error, cumulative (each layer's output with everything before it quantized; "qstudio analyze" gives the isolated figure), ${r.layers.length} layers, worst first:`);
    const w = Math.min(48, Math.max(...worst.map((l) => (l.node ?? l.tensor).length)));
    for (const l of worst) lines.push(`  ${(l.node ?? l.tensor).padEnd(w)}  ${(l.opType ?? '').padEnd(8)} SQNR ${fmtSqnr(l.sqnrDb, l.undefinedReason).padStart(8)}${Number.isNaN(l.cosine) ? '' : `  cos ${l.cosine.toFixed(5)}`}`);
  }
  for (const w of r.warnings ?? []) lines.push(`WARNING: ${w.message}`);
  if (r.mixedPrecision) lines.push(...mixedPrecisionLines(r));
  for (const n of r.notices) lines.push(`Note: ${n}`);
  return lines.join('\n');
}

function mixedPrecisionLines(r: QuantizeReport): string[] {
  const mp = r.mixedPrecision!;
  return mp.summary ?? [];
}
