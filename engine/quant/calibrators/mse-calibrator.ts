// MSE: the clipping range whose fake-quantization (the target dtype/scheme, exact ONNX rounding)
// minimises the expected squared error over the histogram. Each bin's mass sits at its centre;
// with the default 16384 bins that is ~64 bins per int8 step, fine enough for the expectation.
// Symmetric: a 1-D search over t = absmax · k/K. Asymmetric: shrink both ends by one factor, then
// refine the top with the bottom fixed, then the bottom with the top fixed (coordinate descent).
import { HistogramCalibrator, type CalibrationRange, type CalibrationTarget } from './calibrator';
import type { Histogram } from './histogram';
import { qparamsForRange } from '../math/qparams';
import { quantizeValue, dequantizeValue } from '../math/quantize';
import { dtypeInfo } from '../../core/dtypes';

export const MSE_SEARCH_STEPS = 128;

interface Mass { x: Float64Array; n: Float64Array }

function nonEmptyBins(h: Histogram): Mass {
  let k = 0;
  for (const c of h.counts) if (c > 0) k++;
  const x = new Float64Array(k), n = new Float64Array(k);
  k = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    if (c > 0) {
      // centre, but never outside what was seen (the edge bins hold the exact extremes)
      x[k] = Math.min(h.max, Math.max(h.min, h.lo + (i + 0.5) * h.binWidth));
      n[k++] = c;
    }
  }
  return { x, n };
}

/** Expected squared error of fake-quantizing the histogram's mass with range [lo, hi]. */
export function quantizationMse(m: Mass, lo: number, hi: number, target: CalibrationTarget): number {
  const { qmin, qmax } = dtypeInfo(target.dtype);
  const { scale, zeroPoint } = qparamsForRange(lo, hi, { dtype: target.dtype, scheme: target.scheme });
  let err = 0, tot = 0;
  for (let i = 0; i < m.x.length; i++) {
    const v = m.x[i]!;
    const e = v - dequantizeValue(quantizeValue(v, scale, zeroPoint, qmin, qmax), scale, zeroPoint);
    err += m.n[i]! * e * e;
    tot += m.n[i]!;
  }
  return tot > 0 ? err / tot : 0;
}

export class MseCalibrator extends HistogramCalibrator {
  readonly method = 'mse' as const;

  protected range(h: Histogram, target: CalibrationTarget): CalibrationRange {
    const m = nonEmptyBins(h);
    const K = MSE_SEARCH_STEPS;
    if (target.scheme === 'symmetric') {
      const a = Math.max(-h.min, h.max);
      if (!(a > 0)) return { min: 0, max: 0 };
      let best = a, bestErr = Infinity;
      for (let k = K; k >= 1; k--) {
        const t = (a * k) / K;
        const e = quantizationMse(m, -t, t, target);
        if (e < bestErr) { bestErr = e; best = t; }
      }
      return { min: -best, max: best };
    }
    let lo = h.min, hi = h.max;
    if (!(hi > lo)) return { min: lo, max: hi };
    let bestErr = quantizationMse(m, lo, hi, target);
    const search = (make: (f: number) => [number, number]) => {
      for (let k = K - 1; k >= 1; k--) {
        const [a, b] = make(k / K);
        const e = quantizationMse(m, a, b, target);
        if (e < bestErr) { bestErr = e; lo = a; hi = b; }
      }
    };
    const [l0, h0] = [lo, hi];
    search((f) => [l0 * f, h0 * f]);
    const l1 = lo, h1 = hi;
    search((f) => [l1, Math.max(0, h1) * f + Math.min(0, h1)]);
    const h2 = hi;
    search((f) => [Math.min(0, l1) * f + Math.max(0, l1), h2]);
    return { min: lo, max: hi };
  }
}
