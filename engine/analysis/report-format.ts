// Text for sensitivity figures (CLI summaries, warnings): SQNR as dB, "exact" only for identical
// outputs, "undefined (reason)" where the data gives no value.
import type { ScoreSummary } from './report-types';

export const fmtSqnr = (x: number, reason?: string): string =>
  Number.isNaN(x) ? `undefined (${reason ?? 'no value'})` : Number.isFinite(x) ? `${x.toFixed(1)} dB` : 'exact';

export function fmtScore(s: ScoreSummary): string {
  const parts = [fmtSqnr(s.sqnrDb, s.undefinedReason)];
  if (s.top1 !== undefined) parts.push(`top-1 ${(100 * s.top1).toFixed(2)} %`);
  if (s.perplexity !== undefined) parts.push(`ppl ${s.perplexity.toFixed(4)}`);
  return parts.join(', ');
}
