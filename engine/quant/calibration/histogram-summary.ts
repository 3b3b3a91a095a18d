// A calibrated tensor's histogram cut down for reports and plots: `bins` equal bins over the values'
// own [min, max] (the collectors keep thousands of bins over a symmetric range).
import type { TensorHistogram } from './collectors';

export interface HistogramSummary { edges: number[]; counts: number[] }

export function summarizeHistogram(h: TensorHistogram, min: number, max: number, bins = 64): HistogramSummary {
  const lo = min, hi = max > min ? max : min + 1e-12, w = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    if (!c) continue;
    const mid = (h.edges[i]! + h.edges[i + 1]!) / 2;
    const b = Math.min(bins - 1, Math.max(0, Math.floor((mid - lo) / w)));
    counts[b]! += c;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * w), counts };
}
