// Compare a quantized tensor with its FP32 reference: SQNR (dB), cosine similarity, MSE.
import { ErrorAccumulator, errorStats } from '../quant/math';

export interface Agreement { sqnrDb: number; cosine: number; mse: number }

/** Streaming SQNR/cosine/MSE over batches (engine/quant/math's accumulator). */
export class AgreementAccumulator {
  private acc = new ErrorAccumulator();
  add(ref: ArrayLike<number>, q: ArrayLike<number>): void { this.acc.update(ref, q); }
  result(): Agreement { const r = this.acc.result(); return { sqnrDb: r.sqnrDb, cosine: r.cosine, mse: r.mse }; }
}

export function compareTensors(ref: ArrayLike<number>, q: ArrayLike<number>): Agreement {
  const r = errorStats(ref, q);
  return { sqnrDb: r.sqnrDb, cosine: r.cosine, mse: r.mse };
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
