// GPTQ for one weight matrix: the TypeScript reference of the inner loops (the native addon ports it;
// test/engine/quant/algorithms holds the two together). Frantar et al. 2022, "GPTQ", Algorithm 1, with the
// reference implementation's details: dead columns, damping, act-order with static groups, lazy batches.
//
// Input
//   weight   rows × cols, row-major, rows = output channels, cols = input features
//            (Wᵀ of an ONNX MatMul [K, N] weight: rows = N, cols = K). Not modified.
//   hessian  cols × cols, H = 2·XᵀX / N over the calibration activations X [N × cols]. Not modified.
//   bits, symmetric: the grid (weight-quant.ts: q ∈ [0, 2^bits − 1], dequantized = (q − zp) · scale).
//   groupSize: consecutive input features sharing a scale (0 = one scale per row / output channel).
//   damp:   λ = damp · mean(diag H) added to the diagonal.
//   blockSize: columns per lazy batch update.
//   actOrder: quantize columns by decreasing diag(H). Groups stay the contiguous input-feature ranges
//            [g·groupSize, (g+1)·groupSize) of the original order (what MatMulNBits / QDQ blocks store);
//            with act-order their scales are fixed up front from the original weight ("static groups").
// Output
//   q           rows × cols (original column order), values in [0, 2^bits − 1]
//   scales      rows × nGroups, nGroups = ceil(cols / groupSize) (1 when groupSize = 0)
//   zeroPoints  rows × nGroups
//   dequantized rows × cols = (q − zp) · scale
import { gridParams, groupCount, maxQ, quantizeValue, type QuantizedWeight } from './weight-quant';
import { StudioError, quote } from '../../errors';
// One definition of the options for this reference and its native twin (a type import: erased at run
// time, so the engine still runs without the addon).
import type { GptqOptions } from '../../../native-kernels/lib/index';

export type { GptqOptions };

export type GptqResult = QuantizedWeight;

/**
 * Upper-triangular U with H⁻¹ = UᵀU (what GPTQ calls "Cholesky of H⁻¹, upper"), computed without
 * forming H⁻¹: the reverse-order Cholesky H = R·Rᵀ (R upper) gives H⁻¹ = R⁻ᵀR⁻¹, so U = R⁻¹.
 * `h` (n × n, float64) is overwritten. Returns false when H is not positive definite.
 */
export function upperCholeskyOfInverse(h: Float64Array, n: number): boolean {
  // Reverse Cholesky: for j = n−1 … 0, R[j][j] = sqrt(H[j][j] − Σ_{k>j} R[j][k]²),
  // R[i][j] = (H[i][j] − Σ_{k>j} R[i][k]·R[j][k]) / R[j][j] for i < j. Stored in the upper triangle of h.
  for (let j = n - 1; j >= 0; j--) {
    const rowJ = j * n;
    const d = h[rowJ + j]! - dotRange(h, rowJ, rowJ, j + 1, n);
    if (!(d > 0)) return false;
    const rjj = Math.sqrt(d);
    h[rowJ + j] = rjj;
    const inv = 1 / rjj;
    for (let i = 0; i < j; i++) {
      const rowI = i * n;
      h[rowI + j] = (h[rowI + j]! - dotRange(h, rowI, rowJ, j + 1, n)) * inv;
    }
  }
  const acc = new Float64Array(n);
  // Invert the upper-triangular R in place (column by column from the right: U = R⁻¹ is upper too).
  for (let i = n - 1; i >= 0; i--) {
    const rowI = i * n;
    const uii = 1 / h[rowI + i]!;
    // U[i][j] for j > i: −(Σ_{k=i+1..j} R[i][k]·U[k][j]) / R[i][i]; rows k > i already hold U.
    acc.fill(0, i + 1, n);
    for (let k = i + 1; k < n; k++) {
      const rik = h[rowI + k]!;
      if (rik !== 0) axpyRange(acc, h, rik, k * n, k, n);
    }
    for (let j = i + 1; j < n; j++) h[rowI + j] = -acc[j]! * uii;
    h[rowI + i] = uii;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) h[i * n + j] = 0;
  return true;
}

/** Σ_{k=from}^{to−1} h[a + k]·h[b + k], four accumulators (V8 keeps them in registers). */
function dotRange(h: Float64Array, a: number, b: number, from: number, to: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let k = from;
  for (; k + 3 < to; k += 4) {
    s0 += h[a + k]! * h[b + k]!;
    s1 += h[a + k + 1]! * h[b + k + 1]!;
    s2 += h[a + k + 2]! * h[b + k + 2]!;
    s3 += h[a + k + 3]! * h[b + k + 3]!;
  }
  for (; k < to; k++) s0 += h[a + k]! * h[b + k]!;
  return s0 + s1 + s2 + s3;
}

/** acc[j] += f·h[row + j] for j in [from, to). */
function axpyRange(acc: Float64Array, h: Float64Array, f: number, row: number, from: number, to: number): void {
  let j = from;
  for (; j + 3 < to; j += 4) {
    acc[j]! += f * h[row + j]!;
    acc[j + 1]! += f * h[row + j + 1]!;
    acc[j + 2]! += f * h[row + j + 2]!;
    acc[j + 3]! += f * h[row + j + 3]!;
  }
  for (; j < to; j++) acc[j]! += f * h[row + j]!;
}

export function gptqQuantize(o: GptqOptions): GptqResult {
  const { rows, cols, bits, symmetric } = o;
  if (o.weight.length !== rows * cols) throw new StudioError('BAD_ARGUMENT', `gptqQuantize: weight has ${o.weight.length} values, expected rows·cols = ${rows}·${cols}.`);
  if (o.hessian.length !== cols * cols) throw new StudioError('BAD_ARGUMENT', `gptqQuantize: hessian has ${o.hessian.length} values, expected cols² = ${cols * cols}.`);
  if (!(bits >= 2 && bits <= 8)) throw new StudioError('BAD_ARGUMENT', `gptqQuantize: bits ${quote(bits)} outside 2..8.`);
  const groupSize = o.groupSize > 0 ? o.groupSize : 0;
  const blockSize = Math.max(1, Math.floor(o.blockSize));
  const grid = { bits, symmetric };
  const mq = maxQ(bits);
  const nG = groupCount(cols, groupSize);
  const gs = groupSize > 0 ? groupSize : cols;

  // Working copies: W (permuted columns) in float32, H in float64.
  const W = new Float32Array(o.weight);
  const H = new Float64Array(cols * cols);
  for (let i = 0; i < cols * cols; i++) H[i] = o.hessian[i]!;

  // Dead columns: an input feature that is always zero — its weights cannot matter; pin H and zero W.
  for (let c = 0; c < cols; c++) {
    if (H[c * cols + c] === 0) {
      H[c * cols + c] = 1;
      for (let r = 0; r < rows; r++) W[r * cols + c] = 0;
    }
  }

  const scales = new Float32Array(rows * nG);
  const zeroPoints = new Int32Array(rows * nG);
  const p = new Float64Array(2);
  const setGroupParams = (src: Float32Array, colStart: number, count: number, g: number) => {
    for (let r = 0; r < rows; r++) {
      gridParams(src, r * cols + colStart, count, 1, grid, p);
      scales[r * nG + g] = Math.fround(p[0]!);
      zeroPoints[r * nG + g] = p[1]!;
    }
  };

  // Act-order permutation (stable argsort of diag(H), descending).
  let perm: Int32Array | null = null;
  if (o.actOrder) {
    const idx = Array.from({ length: cols }, (_, i) => i);
    idx.sort((a, b) => H[b * cols + b]! - H[a * cols + a]! || a - b);
    perm = Int32Array.from(idx);
    // Static groups from the (dead-column-zeroed) original weight, before any error feedback.
    for (let g = 0; g < nG; g++) setGroupParams(W, g * gs, Math.min(gs, cols - g * gs), g);
    const Wp = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) Wp[r * cols + c] = W[r * cols + perm[c]!]!;
    W.set(Wp);
    const Hp = new Float64Array(cols * cols);
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) Hp[i * cols + j] = H[perm[i]! * cols + perm[j]!]!;
    H.set(Hp);
  } else if (groupSize === 0) {
    setGroupParams(W, 0, cols, 0);
  }

  // Damping, then the upper Cholesky factor of H⁻¹ (retry with more damping if H is singular).
  let meanDiag = 0;
  for (let c = 0; c < cols; c++) meanDiag += H[c * cols + c]!;
  meanDiag /= cols;
  let damp = o.damp;
  const Hinv = new Float64Array(cols * cols);
  for (let attempt = 0; ; attempt++) {
    Hinv.set(H);
    const lambda = damp * meanDiag;
    for (let c = 0; c < cols; c++) Hinv[c * cols + c]! += lambda;
    if (upperCholeskyOfInverse(Hinv, cols)) break;
    if (attempt >= 6) throw new StudioError('INTERNAL', `gptqQuantize: the Hessian (${cols}×${cols}) is not positive definite even with damping ${quote(damp)}.`);
    damp = damp > 0 ? damp * 10 : 1e-4;
  }

  const Q = new Int8Array(rows * cols); // permuted order while working
  const Err = new Float32Array(rows * blockSize);
  const groupOf = (pc: number) => Math.floor((perm ? perm[pc]! : pc) / gs);

  for (let i1 = 0; i1 < cols; i1 += blockSize) {
    const i2 = Math.min(i1 + blockSize, cols);
    const bw = i2 - i1;
    for (let i = i1; i < i2; i++) {
      if (!perm && groupSize > 0 && i % groupSize === 0) {
        // Dynamic groups: scales from the error-updated weights of this group's columns.
        setGroupParams(W, i, Math.min(groupSize, cols - i), i / groupSize);
      }
      const d = Hinv[i * cols + i]!;
      const g = groupOf(i);
      const hRow = i * cols;
      for (let r = 0; r < rows; r++) {
        const rc = r * cols;
        const w = W[rc + i]!;
        const s = scales[r * nG + g]!;
        const zp = zeroPoints[r * nG + g]!;
        const qi = quantizeValue(w, s, zp, mq);
        Q[rc + i] = qi;
        const e = (w - (qi - zp) * s) / d;
        Err[r * blockSize + (i - i1)] = e;
        // Feed the error to the rest of this block's columns.
        for (let j = i + 1; j < i2; j++) W[rc + j]! -= e * Hinv[hRow + j]!;
      }
    }
    // Lazy batch update of all columns after the block: W[:, i2:] −= Err · Hinv[i1:i2, i2:].
    if (i2 < cols) {
      for (let r = 0; r < rows; r++) {
        const rc = r * cols;
        const er = r * blockSize;
        for (let b = 0; b < bw; b++) {
          const e = Err[er + b]!;
          if (e === 0) continue;
          const hRow = (i1 + b) * cols;
          for (let j = i2; j < cols; j++) W[rc + j]! -= e * Hinv[hRow + j]!;
        }
      }
    }
  }

  // Back to the original column order, and dequantize.
  const q = new Int8Array(rows * cols);
  const dequantized = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let pc = 0; pc < cols; pc++) {
      const c = perm ? perm[pc]! : pc;
      const qi = Q[r * cols + pc]!;
      q[r * cols + c] = qi;
      const g = r * nG + Math.floor(c / gs);
      dequantized[r * cols + c] = (qi - zeroPoints[g]!) * scales[g]!;
    }
  }
  return { q, scales, zeroPoints, dequantized };
}
