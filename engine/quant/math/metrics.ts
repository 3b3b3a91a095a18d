// Error between a reference tensor and its quantized version: MSE, SQNR (dB) and cosine similarity,
// in one pass or streamed over batches (per-layer error across a calibration/eval set).
import { StudioError } from '../../errors';

export interface ErrorStats {
  count: number;
  mse: number;
  /** 10·log10(Σref² / Σ(ref−test)²); +Infinity when identical, -Infinity when the reference is all zeros and test is not. */
  sqnrDb: number;
  cosine: number;
  maxAbs: number;
}

/** Streaming accumulator: memory is O(1) in the number of batches. Sums in float64. */
export class ErrorAccumulator {
  private n = 0;
  private sumSig = 0;
  private sumErr = 0;
  private sumTest = 0;
  private dot = 0;
  private maxAbs = 0;

  update(ref: ArrayLike<number>, test: ArrayLike<number>): void {
    if (ref.length !== test.length) throw new StudioError('BAD_ARGUMENT', `Error metrics: reference has ${ref.length} values, test has ${test.length}.`);
    for (let i = 0; i < ref.length; i++) {
      const a = ref[i]!, b = test[i]!;
      const e = a - b;
      this.sumSig += a * a;
      this.sumTest += b * b;
      this.sumErr += e * e;
      this.dot += a * b;
      const ae = Math.abs(e);
      if (ae > this.maxAbs || Number.isNaN(ae)) this.maxAbs = ae;
    }
    this.n += ref.length;
  }

  result(): ErrorStats {
    const n = this.n;
    const mse = n ? this.sumErr / n : 0;
    let sqnrDb: number;
    if (this.sumErr === 0) sqnrDb = Infinity;
    else sqnrDb = 10 * Math.log10(this.sumSig / this.sumErr);
    const denom = Math.sqrt(this.sumSig) * Math.sqrt(this.sumTest);
    // Two all-zero tensors are identical: cosine 1. One zero, one not: 0.
    const cosine = denom > 0 ? this.dot / denom : this.sumSig === 0 && this.sumTest === 0 ? 1 : 0;
    return { count: n, mse, sqnrDb, cosine, maxAbs: this.maxAbs };
  }
}

export function errorStats(ref: ArrayLike<number>, test: ArrayLike<number>): ErrorStats {
  const acc = new ErrorAccumulator();
  acc.update(ref, test);
  return acc.result();
}

export const mse = (ref: ArrayLike<number>, test: ArrayLike<number>): number => errorStats(ref, test).mse;
export const sqnrDb = (ref: ArrayLike<number>, test: ArrayLike<number>): number => errorStats(ref, test).sqnrDb;
export const cosine = (ref: ArrayLike<number>, test: ArrayLike<number>): number => errorStats(ref, test).cosine;
