// Entropy (KL divergence), as TensorRT's INT8 calibrator does it (Migacz, "8-bit Inference with
// TensorRT", 2017): a 2048-bin histogram of |x| over [0, absmax]; for every candidate i from 128 to
// 2048 bins, P = the first i bins with all outliers folded into bin i-1, Q = those i bins merged into
// `levels` groups and expanded back (uniformly over each group's non-empty bins); keep the i with
// the least KL(P||Q), threshold = (i + 0.5) · binWidth. levels = 2^(bits-1) (128 for 8-bit).
// As in NVIDIA's reference (pytorch-quantization `_compute_amax_entropy`), bin 0 is replaced by bin 1
// for the search: after ReLU most values are exact zeros, and that spike would otherwise dominate
// the divergence and pull the threshold far below the bulk of the distribution. Exact zeros are
// taken out before re-binning onto the 2048 bins (a coarse source bin would otherwise spread the
// spike over several target bins, out of reach of that fix).
// Asymmetric targets (our extension): each side of zero is searched on its own one-sided
// histogram; a side that holds no values keeps its bound at 0 and the other side gets all 2^bits
// levels (e.g. uint8 after ReLU searches [0, max] with 256 levels).
import { HistogramCalibrator, type CalibrationRange, type CalibrationTarget } from './calibrator';
import { foldAbs, halfHistogram, rebin, type Histogram } from './histogram';
import { dtypeInfo } from '../../core/dtypes';

export const ENTROPY_BINS = 2048;
export const ENTROPY_START_BIN = 128;

/** Threshold (>= 0) for a one-sided histogram over [0, h.max]. */
export function entropyThreshold(side: Histogram, levels: number, bins = ENTROPY_BINS, startBin = ENTROPY_START_BIN): number {
  if (side.count === 0 || !(side.max > 0)) return 0;
  const src = side.zeros > 0 ? { ...side, counts: Float64Array.from(side.counts) } : side;
  if (side.zeros > 0) src.counts[0] = Math.max(0, src.counts[0]! - side.zeros);
  const h = rebin(src, bins, 0, side.max);
  const hist = h.counts;
  if (bins > 1) hist[0] = hist[1]!;
  const start = Math.min(Math.max(startBin, levels), bins);
  // suffix sums: outliers beyond candidate i
  const suffix = new Float64Array(bins + 1);
  for (let k = bins - 1; k >= 0; k--) suffix[k] = suffix[k + 1]! + hist[k]!;
  const P = new Float64Array(bins), Q = new Float64Array(bins);
  const gSum = new Float64Array(levels), gNonZero = new Float64Array(levels);
  let bestI = bins, bestKl = Infinity;
  for (let i = start; i <= bins; i++) {
    let pSum = 0;
    for (let k = 0; k < i; k++) { P[k] = hist[k]!; }
    P[i - 1]! += suffix[i]!;
    for (let k = 0; k < i; k++) pSum += P[k]!;
    gSum.fill(0); gNonZero.fill(0);
    for (let k = 0; k < i; k++) {
      const g = Math.floor((k * levels) / i);
      if (hist[k]! !== 0) { gSum[g]! += hist[k]!; gNonZero[g]!++; }
    }
    let qSum = 0;
    for (let k = 0; k < i; k++) {
      const g = Math.floor((k * levels) / i);
      Q[k] = hist[k]! !== 0 ? gSum[g]! / gNonZero[g]! : 0;
      qSum += Q[k]!;
    }
    let kl = 0;
    for (let k = 0; k < i; k++) {
      const p = P[k]!;
      if (p === 0) continue;
      const q = Q[k]!;
      if (q === 0) { kl = Infinity; break; }
      kl += (p / pSum) * Math.log((p / pSum) / (q / qSum));
    }
    // ties go to the larger threshold (least clipping), as TensorRT's reference implementation does
    if (kl <= bestKl) { bestKl = kl; bestI = i; }
  }
  if (!Number.isFinite(bestKl)) return side.max;
  return Math.min(side.max, (bestI + 0.5) * h.binWidth);
}

export class EntropyCalibrator extends HistogramCalibrator {
  readonly method = 'entropy' as const;

  protected range(h: Histogram, target: CalibrationTarget): CalibrationRange {
    const { bits } = dtypeInfo(target.dtype);
    if (target.scheme === 'symmetric') {
      const t = entropyThreshold(foldAbs(h), 2 ** (bits - 1));
      return { min: -t, max: t };
    }
    const pos = halfHistogram(h, 'positive'), neg = halfHistogram(h, 'negative');
    const hasPos = h.max > 0, hasNeg = h.min < 0;
    const levels = hasPos && hasNeg ? 2 ** (bits - 1) : 2 ** bits;
    return {
      min: hasNeg ? -entropyThreshold(neg, levels) : h.min,
      max: hasPos ? entropyThreshold(pos, levels) : h.max,
    };
  }
}
