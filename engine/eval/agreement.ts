// Compare a quantized tensor with its FP32 reference: SQNR (dB), cosine similarity, MSE.
// A metric that has no meaning on the data says why instead of carrying a number: NaN/Inf in either
// tensor make SQNR and cosine undefined (they used to print as "exact, cosine 0.00000").
import { ErrorAccumulator, errorStats } from '../quant/math';

export interface Agreement {
  /** +Infinity: the two tensors are identical. NaN: undefined (see `undefinedReason`). */
  sqnrDb: number;
  cosine: number;
  mse: number;
  /** Set when SQNR/cosine/MSE have no value on this data. */
  undefinedReason?: string;
}

export const NON_FINITE_REASON = 'non-finite values';

/** Streaming SQNR/cosine/MSE over batches (engine/quant/math's accumulator), non-finite aware. */
export class AgreementAccumulator {
  private acc = new ErrorAccumulator();
  private nonFinite = 0;
  private values = 0;
  add(ref: ArrayLike<number>, q: ArrayLike<number>): void {
    for (let i = 0; i < ref.length; i++) if (!Number.isFinite(ref[i]!) || !Number.isFinite(q[i]!)) { this.nonFinite++; break; }
    this.values += ref.length;
    if (!this.nonFinite) this.acc.update(ref, q);
  }
  result(): Agreement { return finish(this.acc, this.nonFinite > 0, this.values); }
}

function finish(acc: ErrorAccumulator, nonFinite: boolean, values: number): Agreement {
  if (nonFinite) return { sqnrDb: NaN, cosine: NaN, mse: NaN, undefinedReason: NON_FINITE_REASON };
  if (values === 0) return { sqnrDb: NaN, cosine: NaN, mse: NaN, undefinedReason: 'no values compared' };
  const r = acc.result();
  return { sqnrDb: r.sqnrDb, cosine: r.cosine, mse: r.mse };
}

export function compareTensors(ref: ArrayLike<number>, q: ArrayLike<number>): Agreement {
  const a = new AgreementAccumulator();
  a.add(ref, q);
  if (ref.length === 0) { const r = errorStats(ref, q); return { sqnrDb: r.sqnrDb, cosine: r.cosine, mse: r.mse }; }
  return a.result();
}

/**
 * When top-1 agreement means something: the output holds class scores, i.e. it is [N, classes] or
 * [N, T, classes] (one prediction per position, e.g. an LM's logits) with at least 2 classes. A
 * 1-channel mask [N,1,H,W], a single regression value [N,1] or any rank-4+ map has no "top-1".
 * Returns undefined when it applies, else the reason it does not.
 */
export function top1NotApplicable(dims: readonly number[]): string | undefined {
  const shape = `[${dims.join(', ')}]`;
  if (dims.length < 2 || dims.length > 3) return `the output ${shape} is not class scores (top-1 agreement needs [N, classes] or [N, T, classes])`;
  if (dims[dims.length - 1]! < 2) return `the output ${shape} has ${dims[dims.length - 1]} class on its last axis (top-1 agreement needs at least 2)`;
  return undefined;
}

/** Index of the largest value in each row of a [rows, classes] array. */
export function argmaxRows(logits: ArrayLike<number>, classes: number): Int32Array {
  const rows = Math.floor(logits.length / classes);
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0, bv = -Infinity;
    for (let c = 0; c < classes; c++) { const v = logits[r * classes + c]!; if (v > bv) { bv = v; best = c; } }
    out[r] = best;
  }
  return out;
}
