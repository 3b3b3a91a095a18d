// A bounded-memory streaming histogram of one tensor's values. The range is symmetric around 0,
// [-T, T], with an even number of bins so 0 is always a bin edge: the |x| histogram that symmetric
// calibration needs is the signed one folded in half, and the signed one is what the UI plots.
// When a batch exceeds T, T doubles and neighbouring bin pairs merge exactly (0 stays an edge), so
// no mass is lost or smeared and memory never grows (ORT's HistogramCollector instead adds bins).
// An update is two passes over the batch (min/max, then binning, which also counts the zeros and NaN);
// on the native addon both run as kernels (native-kernels: minMax, histogram with its zero/NaN tally)
// with the TypeScript code below as their reference and the fallback where the addon is not built:
// same bins, same counts (test/engine/quant/calibrators/native-histogram.test.ts holds them equal bin
// for bin on real activations).
import { StudioError, quote } from '../../errors';
import { nativeKernelsLoaded } from '../../runtime/native';

export interface Histogram {
  /** Left edge of bin 0 and right edge of the last bin. */
  lo: number;
  hi: number;
  binWidth: number;
  counts: Float64Array;
  /** Exact extremes of the finite values seen (the bins cover them). */
  min: number;
  max: number;
  /** Finite values counted (= sum of counts). */
  count: number;
  /** NaN / ±Infinity values seen and left out. */
  nonFinite: number;
  /** Values exactly 0 (counted in the bin starting at 0 too): ReLU outputs are often mostly zeros. */
  zeros: number;
}

export const DEFAULT_HISTOGRAM_BINS = 16384;

/** The two passes of an update a kernel can run instead of the TypeScript loops. */
export interface HistogramKernels {
  /** Min and max of the values, NaN ignored (±Infinity included). */
  minMax(values: Float32Array): { min: number; max: number };
  /**
   * Adds into counts: bin = floor((x − lo) · (bins / (hi − lo))) in float64, x = hi in the last bin; NaN and
   * values outside [lo, hi] skipped. Returns, from the same pass, how many values were 0 and how many NaN.
   */
  histogram(values: Float32Array, lo: number, hi: number, counts: Float64Array): { zeros: number; nan: number };
}

/** Below this many values a batch is binned in TypeScript: the call into the addon costs more than it saves. */
const NATIVE_MIN_VALUES = 4096;

/** The native addon's kernels when loadNativeKernels() found the addon (engine/runtime/native.ts); else null. */
export function nativeHistogramKernels(): HistogramKernels | null {
  const nk = nativeKernelsLoaded();
  if (!nk) return null;
  return {
    minMax: (v) => { const r = nk.minMaxSync(v); return { min: r.min[0]!, max: r.max[0]! }; },
    histogram: (v, lo, hi, counts) => {
      const zeroNaN = new Float64Array(2);
      nk.histogramSync(v, { min: lo, max: hi, counts, zeroNaN });
      return { zeros: zeroNaN[0]!, nan: zeroNaN[1]! };
    },
  };
}

export class HistogramCollector {
  private readonly bins: number;
  private counts: Float64Array;
  private T = 0;
  private zerosBeforeRange = 0;
  private min = Infinity;
  private max = -Infinity;
  private n = 0;
  private nonFinite = 0;
  private zeros = 0;

  /** `kernels`: null runs the TypeScript passes; default: the native addon's when it is loaded. */
  constructor(bins = DEFAULT_HISTOGRAM_BINS, readonly name = '', private readonly kernels: HistogramKernels | null = nativeHistogramKernels()) {
    if (!Number.isInteger(bins) || bins < 2 || bins % 2 !== 0) throw new StudioError('BAD_ARGUMENT', `Histogram for ${quote(name)}: bin count ${quote(bins)} must be an even integer >= 2.`);
    this.bins = bins;
    this.counts = new Float64Array(bins);
  }

  get count(): number { return this.n; }

  update(values: ArrayLike<number>): void {
    if (this.kernels && values instanceof Float32Array && values.length >= NATIVE_MIN_VALUES && this.updateWith(this.kernels, values)) return;
    let bmin = Infinity, bmax = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < bmin) bmin = v;
      if (v > bmax) bmax = v;
    }
    const finiteRange = Number.isFinite(bmin) && Number.isFinite(bmax);
    const absmax = finiteRange ? Math.max(-bmin, bmax) : this.absmaxFinite(values);
    this.grow(absmax);
    const T = this.T, bins = this.bins, counts = this.counts;
    const inv = T > 0 ? bins / (2 * T) : 0;
    let seen = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) { this.nonFinite++; continue; }
      seen++;
      if (v === 0) this.zeros++;
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
      if (T === 0) { this.zerosBeforeRange++; continue; }
      let b = Math.floor((v + T) * inv);
      if (b >= bins) b = bins - 1; else if (b < 0) b = 0;
      counts[b]!++;
    }
    this.n += seen;
  }

  /**
   * The update through kernels: the same range, bins and counts as the TypeScript passes. Returns false,
   * having changed nothing but a range widening the TypeScript pass would make alike, for the batches
   * those passes handle specially: ±Infinity present, or nothing but zeros and NaN so far.
   */
  private updateWith(k: HistogramKernels, values: Float32Array): boolean {
    const { min: bmin, max: bmax } = k.minMax(values);
    if (!Number.isFinite(bmin) || !Number.isFinite(bmax)) return false;
    this.grow(Math.max(-bmin, bmax));
    const T = this.T;
    if (T === 0) return false;
    // Every value is finite or NaN here, and T covers them all: the kernel bins them as the loop above
    // would ((v + T) · bins / 2T in float64), skips NaN and counts zeros and NaN in the same pass.
    const { zeros, nan } = k.histogram(values, -T, T, this.counts);
    this.zeros += zeros;
    this.nonFinite += nan;
    this.n += values.length - nan;
    if (bmin < this.min) this.min = bmin;
    if (bmax > this.max) this.max = bmax;
    return true;
  }

  private absmaxFinite(values: ArrayLike<number>): number {
    let m = 0;
    for (let i = 0; i < values.length; i++) { const a = Math.abs(values[i]!); if (a > m && Number.isFinite(a)) m = a; }
    return m;
  }

  /** Widen [-T, T] to cover absmax: set it on the first non-zero data, then double with exact merges. */
  private grow(absmax: number): void {
    if (!(absmax > 0)) return;
    if (this.T === 0) {
      this.T = absmax;
      if (this.zerosBeforeRange) { this.counts[this.bins / 2]! += this.zerosBeforeRange; this.zerosBeforeRange = 0; }
      return;
    }
    const half = this.bins / 2;
    while (absmax > this.T) {
      // Old bin t spans [-T + t·w, ...] = [-2T + (t + bins/2)·w, ...]: new bin (t + bins/2) >> 1 holds it whole.
      const next = new Float64Array(this.bins);
      for (let t = 0; t < this.bins; t++) next[(t + half) >> 1]! += this.counts[t]!;
      this.counts = next;
      this.T *= 2;
    }
  }

  snapshot(): Histogram {
    const counts = Float64Array.from(this.counts);
    const T = this.T > 0 ? this.T : 1; // all zeros so far: any range holds them
    if (this.T === 0 && this.zerosBeforeRange) counts[this.bins / 2] = this.zerosBeforeRange;
    const has = this.n > 0;
    return { lo: -T, hi: T, binWidth: (2 * T) / this.bins, counts, min: has ? this.min : 0, max: has ? this.max : 0, count: this.n, nonFinite: this.nonFinite, zeros: this.zeros };
  }
}

/** The |x| histogram over [0, T]: bin i = signed bins (mid + i) and (mid - 1 - i). */
export function foldAbs(h: Histogram): Histogram {
  const n = h.counts.length, mid = n / 2;
  if (h.lo !== -h.hi || n % 2 !== 0) throw new StudioError('INTERNAL', 'foldAbs needs a histogram symmetric around 0 with an even number of bins.');
  const counts = new Float64Array(mid);
  for (let i = 0; i < mid; i++) counts[i] = h.counts[mid + i]! + h.counts[mid - 1 - i]!;
  const absMax = Math.max(Math.abs(h.min), Math.abs(h.max));
  const absMin = h.min <= 0 && h.max >= 0 ? 0 : Math.min(Math.abs(h.min), Math.abs(h.max));
  return { lo: 0, hi: h.hi, binWidth: h.binWidth, counts, min: absMin, max: absMax, count: h.count, nonFinite: h.nonFinite, zeros: h.zeros };
}

/** The part of a histogram at or above 0 (x ≥ 0), or the mirrored part below 0 (for -x, x < 0). */
export function halfHistogram(h: Histogram, side: 'positive' | 'negative'): Histogram {
  const n = h.counts.length, mid = n / 2;
  const counts = new Float64Array(mid);
  for (let i = 0; i < mid; i++) counts[i] = side === 'positive' ? h.counts[mid + i]! : h.counts[mid - 1 - i]!;
  let count = 0;
  for (const c of counts) count += c;
  const max = side === 'positive' ? Math.max(0, h.max) : Math.max(0, -h.min);
  return { lo: 0, hi: h.hi, binWidth: h.binWidth, counts, min: 0, max, count, nonFinite: 0, zeros: side === 'positive' ? h.zeros : 0 };
}

/** Re-bin onto `bins` equal bins over [lo, hi], splitting each source bin's mass in proportion to
 *  overlap (uniform within a bin). Mass outside [lo, hi] goes to the end bins, so the total is kept. */
export function rebin(h: Histogram, bins: number, lo: number, hi: number): Histogram {
  if (!(hi > lo) || !Number.isInteger(bins) || bins < 1) throw new StudioError('BAD_ARGUMENT', `rebin: bad target ${quote({ bins, lo, hi })}.`);
  const out = new Float64Array(bins);
  const w = (hi - lo) / bins;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    if (c === 0) continue;
    const a = h.lo + i * h.binWidth, b = a + h.binWidth;
    if (b <= lo) { out[0]! += c; continue; }
    if (a >= hi) { out[bins - 1]! += c; continue; }
    // Parts of the source bin outside [lo, hi] are clamped into the end bins.
    if (a < lo) out[0]! += (c * (lo - a)) / h.binWidth;
    if (b > hi) out[bins - 1]! += (c * (b - hi)) / h.binWidth;
    const s = Math.max(a, lo), e = Math.min(b, hi);
    let j = Math.min(bins - 1, Math.floor((s - lo) / w));
    let pos = s;
    while (pos < e && j < bins) {
      const edge = Math.min(e, lo + (j + 1) * w);
      if (edge > pos) out[j]! += (c * (edge - pos)) / h.binWidth;
      pos = edge;
      j++;
    }
  }
  return { ...h, lo, hi, binWidth: w, counts: out };
}

/** Value below which a fraction q of the mass lies (linear inside the bin), clamped to [min, max]. */
export function quantile(h: Histogram, q: number): number {
  if (h.count === 0) return 0;
  const target = Math.min(1, Math.max(0, q)) * h.count;
  let cum = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    if (c > 0 && cum + c >= target) {
      const v = h.lo + (i + (target - cum) / c) * h.binWidth;
      return Math.min(h.max, Math.max(h.min, v));
    }
    cum += c;
  }
  return h.max;
}

/** A small JSON-friendly histogram for plotting: `bins` equal bins over the values actually seen
 *  ([min, max], not the internal power-of-two range), mass kept. `edges` has bins + 1 entries. */
export function plotHistogram(h: Histogram, bins = 256): { edges: number[]; counts: number[]; count: number; min: number; max: number } {
  const lo = h.min, hi = h.max > h.min ? h.max : h.min + 1;
  const r = rebin(h, bins, lo, hi);
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * r.binWidth), counts: Array.from(r.counts), count: h.count, min: h.min, max: h.max };
}
