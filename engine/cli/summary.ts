// The short summary `qstudio quantize` prints at the end: what was quantized, how long it took, how
// much the output moved, and the per-layer error (worst layers first).
import type { QuantizeReport } from '../pipeline/report';

const fmtDb = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} dB` : 'exact');
const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

export function formatSummary(r: QuantizeReport, maxLayers = 12): string {
  const lines: string[] = [];
  const byOp = new Map<string, number>();
  for (const q of r.quantized) byOp.set(q.opType, (byOp.get(q.opType) ?? 0) + 1);
  const first = r.quantized[0];
  const what = [...byOp].map(([op, n]) => `${n} ${op}`).join(', ');
  lines.push(`Quantized ${r.quantized.length} node(s) (${what})${first ? `: weights ${first.weightDtype ?? '-'} ${first.granularity ?? ''}, activations ${first.activationDtype ?? 'float (weight-only)'}` : ''}.`);
  if (r.skipped.length) lines.push(`Left in float: ${r.skipped.length} node(s) (${r.skipped.slice(0, 4).map((s) => `${s.node}: ${s.reason}`).join('; ')}${r.skipped.length > 4 ? '; ...' : ''}).`);
  lines.push(`Size ${mb(r.sizeBytes.original)} -> ${mb(r.sizeBytes.quantized)}; time ${(r.timingsMs.total! / 1000).toFixed(2)} s (${Object.entries(r.timingsMs).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${(v / 1000).toFixed(2)} s`).join(', ')}); device ${r.device.used}.`);
  if (r.outputAgreement) {
    const a = r.outputAgreement;
    lines.push(`Output vs FP32: SQNR ${fmtDb(a.sqnrDb)}, cosine ${a.cosine.toFixed(5)}${a.top1Agreement !== undefined ? `, top-1 agreement ${(a.top1Agreement * 100).toFixed(2)} %` : ''}.`);
  }
  if (r.metrics) {
    const m = Object.entries(r.metrics).filter(([k]) => k !== 'calibrationSamples');
    if (m.length) lines.push(`Metrics: ${m.map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}.`);
  }
  if (r.layers.length) {
    const worst = [...r.layers].sort((a, b) => a.sqnrDb - b.sqnrDb).slice(0, maxLayers);
    lines.push(`Per-layer error (${r.layers.length} layers, worst first):`);
    const w = Math.min(48, Math.max(...worst.map((l) => (l.node ?? l.tensor).length)));
    for (const l of worst) lines.push(`  ${(l.node ?? l.tensor).padEnd(w)}  ${(l.opType ?? '').padEnd(8)} SQNR ${fmtDb(l.sqnrDb).padStart(8)}  cos ${l.cosine.toFixed(5)}`);
  }
  for (const n of r.notices) lines.push(`Note: ${n}`);
  return lines.join('\n');
}
