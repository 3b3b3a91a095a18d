// Weight-only quantization grids (INT4/INT3/INT8 values in an unsigned container) and round-to-nearest.
// One convention for RTN, GPTQ, AWQ and the MatMulNBits / int4 QDQ writers:
//   q ∈ [0, 2^bits − 1] (unsigned domain), dequantized = (q − zeroPoint) · scale.
//   symmetric: zeroPoint = 2^(bits−1); the group's largest-magnitude value m maps exactly onto q = 0
//     (scale = m / −2^(bits−1), so the scale carries m's sign — MatMulNBits and DequantizeLinear take that,
//     and it uses all 2^bits levels, as ORT's own int4 quantizer and ggml's q4_0 do).
//   asymmetric: [min(w, 0), max(w, 0)] spread over the 2^bits levels, integer zeroPoint.
// Layout of a quantized [rows × cols] weight (rows = output channels, cols = input features):
//   q: rows × cols, scales / zeroPoints: rows × nGroups with nGroups = ceil(cols / groupSize)
//   (groupSize 0 = one group per row = per-channel).

export interface WeightGrid {
  bits: number;
  symmetric: boolean;
}

export interface QuantizedWeight {
  /** rows × cols, row-major, values in [0, 2^bits − 1]. */
  q: Int8Array;
  /** rows × nGroups. */
  scales: Float32Array;
  /** rows × nGroups, in [0, 2^bits − 1]. */
  zeroPoints: Int32Array;
  /** rows × cols: (q − zp) · scale. */
  dequantized: Float32Array;
}

export const maxQ = (bits: number) => (1 << bits) - 1;

export function groupCount(cols: number, groupSize: number): number {
  return groupSize > 0 ? Math.ceil(cols / groupSize) : 1;
}

/**
 * Scale and zero point for values v[start + k·stride], k < count. `clip` (≤ 1) shrinks the range
 * (AWQ's clipping search). Writes into out[0] = scale, out[1] = zeroPoint.
 */
export function gridParams(v: ArrayLike<number>, start: number, count: number, stride: number, grid: WeightGrid, out: Float64Array, clip = 1): void {
  const mq = maxQ(grid.bits);
  if (grid.symmetric) {
    let m = 0;
    let am = 0;
    for (let k = 0, i = start; k < count; k++, i += stride) {
      const x = v[i]!;
      const a = x < 0 ? -x : x;
      if (a > am) { am = a; m = x; }
    }
    const half = (mq + 1) / 2;
    out[0] = am === 0 ? 1 : (m * clip) / -half;
    out[1] = half;
    return;
  }
  let lo = 0;
  let hi = 0;
  for (let k = 0, i = start; k < count; k++, i += stride) {
    const x = v[i]!;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  lo *= clip;
  hi *= clip;
  if (hi - lo === 0) { lo = -1; hi = 1; }
  const scale = (hi - lo) / mq;
  let zp = Math.round(-lo / scale);
  if (zp < 0) zp = 0; else if (zp > mq) zp = mq;
  out[0] = scale;
  out[1] = zp;
}

/** Round half to even, as ONNX QuantizeLinear. */
export function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function quantizeValue(x: number, scale: number, zp: number, mq: number): number {
  let q = roundEven(x / scale) + zp;
  if (q < 0) q = 0; else if (q > mq) q = mq;
  return q;
}

/** Round-to-nearest quantization of a [rows × cols] weight, per group of `groupSize` input features (0 = per row). */
export function rtnQuantize(weight: Float32Array, rows: number, cols: number, grid: WeightGrid, groupSize: number, clip?: Float32Array): QuantizedWeight {
  const nG = groupCount(cols, groupSize);
  const gs = groupSize > 0 ? groupSize : cols;
  const mq = maxQ(grid.bits);
  const q = new Int8Array(rows * cols);
  const scales = new Float32Array(rows * nG);
  const zeroPoints = new Int32Array(rows * nG);
  const dequantized = new Float32Array(rows * cols);
  const p = new Float64Array(2);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < nG; g++) {
      const c0 = g * gs;
      const n = Math.min(gs, cols - c0);
      gridParams(weight, r * cols + c0, n, 1, grid, p, clip ? clip[r * nG + g]! : 1);
      const s = Math.fround(p[0]!);
      const zp = p[1]!;
      scales[r * nG + g] = s;
      zeroPoints[r * nG + g] = zp;
      for (let c = c0; c < c0 + n; c++) {
        const i = r * cols + c;
        const qi = quantizeValue(weight[i]!, s, zp, mq);
        q[i] = qi;
        dequantized[i] = (qi - zp) * s;
      }
    }
  }
  return { q, scales, zeroPoints, dequantized };
}

/** Dequantize q/scales/zeroPoints back to a [rows × cols] float weight. */
export function dequantizeWeight(qw: Pick<QuantizedWeight, 'q' | 'scales' | 'zeroPoints'>, rows: number, cols: number, groupSize: number): Float32Array {
  const nG = groupCount(cols, groupSize);
  const gs = groupSize > 0 ? groupSize : cols;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const g = r * nG + Math.floor(c / gs);
      out[r * cols + c] = (qw.q[r * cols + c]! - qw.zeroPoints[g]!) * qw.scales[g]!;
    }
  }
  return out;
}

/** [K × N] (ONNX MatMul layout) → [N × K] rows = output channels. */
export function transposeMatrix(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}
