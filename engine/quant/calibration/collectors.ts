// Per-tensor streaming statistics for calibration. Each collector sees one batch at a time and keeps a
// fixed-size state (running min/max plus a histogram), so memory does not grow with the sample count.
// The histogram is kept for the UI whatever the method.

export interface TensorHistogram {
  /** Bin edges: bins+1 values, from min to max of everything seen. */
  edges: Float64Array;
  counts: Float64Array;
}

export interface RangeCollector {
  update(values: Float32Array): void;
  /** The clipping range the chosen method settles on. */
  range(): { min: number; max: number };
  histogram(): TensorHistogram;
  count(): number;
}

/** Running min/max and a histogram that widens (re-bins) when new values fall outside it. */
export class MinMaxHistogramCollector implements RangeCollector {
  private lo = Infinity;
  private hi = -Infinity;
  private n = 0;
  private hLo = 0;
  private hHi = 0;
  private counts: Float64Array;

  constructor(private readonly bins = 2048) {
    this.counts = new Float64Array(bins);
  }

  update(v: Float32Array): void {
    let lo = this.lo, hi = this.hi;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return;
    if (this.n === 0) { this.hLo = lo; this.hHi = hi > lo ? hi : lo + 1e-12; }
    else if (lo < this.hLo || hi > this.hHi) this.widen(Math.min(lo, this.hLo), Math.max(hi, this.hHi));
    this.lo = lo; this.hi = hi;
    const bins = this.bins, h0 = this.hLo, k = bins / (this.hHi - this.hLo), c = this.counts;
    for (let i = 0; i < v.length; i++) {
      let b = Math.floor((v[i]! - h0) * k);
      if (b >= bins) b = bins - 1; else if (b < 0) b = 0;
      c[b]!++;
    }
    this.n += v.length;
  }

  private widen(lo: number, hi: number): void {
    const old = this.counts, oLo = this.hLo, oW = (this.hHi - this.hLo) / this.bins;
    const next = new Float64Array(this.bins);
    const k = this.bins / (hi - lo);
    for (let b = 0; b < this.bins; b++) {
      if (!old[b]) continue;
      let nb = Math.floor((oLo + (b + 0.5) * oW - lo) * k);
      if (nb >= this.bins) nb = this.bins - 1; else if (nb < 0) nb = 0;
      next[nb]! += old[b]!;
    }
    this.counts = next; this.hLo = lo; this.hHi = hi;
  }

  range() { return { min: this.lo, max: this.hi }; }
  count() { return this.n; }
  histogram(): TensorHistogram {
    const edges = new Float64Array(this.bins + 1);
    for (let i = 0; i <= this.bins; i++) edges[i] = this.hLo + ((this.hHi - this.hLo) * i) / this.bins;
    return { edges, counts: this.counts.slice() };
  }
}

/** Percentile of |x| (symmetric) or both tails, read off the histogram. */
export function percentileRange(h: TensorHistogram, percentile: number, min: number, max: number): { min: number; max: number } {
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total === 0) return { min, max };
  const tail = (total * (100 - percentile)) / 100;
  const bins = h.counts.length;
  let acc = 0, lo = min, hi = max;
  for (let b = 0; b < bins; b++) { acc += h.counts[b]!; if (acc > tail) { lo = h.edges[b]!; break; } }
  acc = 0;
  for (let b = bins - 1; b >= 0; b--) { acc += h.counts[b]!; if (acc > tail) { hi = h.edges[b + 1]!; break; } }
  return { min: Math.max(min, Math.min(lo, 0)), max: Math.min(max, Math.max(hi, 0)) };
}
