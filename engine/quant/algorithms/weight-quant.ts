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

/**
 * How a group's scale (and zero point) is chosen:
 *   'minmax': the range as it is (gridParams; what ORT's and most int4 quantizers do).
 *   'mse':    the range shrunk by c ∈ {1, 0.97, …, 0.55} — and, symmetric, mapped either onto −2^(b−1)
 *             (the full side) or onto 2^(b−1) − 1 (the other side, so the grid reaches 8/7 further the
 *             opposite way) — keeping the candidate with the least (weighted) squared error.
 *   'lsq':    each 'mse' candidate's rounding, then its scale refit by weighted least squares,
 *             s = Σ h·w·l / Σ h·l² with l = q − zp (llama.cpp's k-quant step); least error kept.
 * Error weights h (per input feature, e.g. the Hessian diagonal E[x²]) make it the output error of a
 * layer whose inputs are uncorrelated; without them every weight counts alike.
 */
export type GridSearch = 'minmax' | 'mse' | 'lsq';
export const GRID_SEARCHES: readonly GridSearch[] = ['minmax', 'mse', 'lsq'];

const CLIP_STEPS = Array.from({ length: 16 }, (_, i) => 1 - 0.03 * i);

/**
 * gridParams with a search (see GridSearch) over v[start + k], k < count (contiguous), error weights
 * h[hStart + k] (or 1). Writes out[0] = scale (float32-representable), out[1] = zero point; returns the
 * weighted squared error of the chosen grid.
 */
export function searchGridParams(v: Float32Array, start: number, count: number, grid: WeightGrid, out: Float64Array, search: GridSearch, h?: ArrayLike<number>, hStart = 0): number {
  const mq = maxQ(grid.bits);
  // One copy of the group (and its weights) in float64: the candidates below read it 32+ times.
  const x = GROUP_BUF.length >= count ? GROUP_BUF : (GROUP_BUF = new Float64Array(count));
  const hw = H_BUF.length >= count ? H_BUF : (H_BUF = new Float64Array(count));
  for (let k = 0; k < count; k++) { x[k] = v[start + k]!; hw[k] = h ? h[hStart + k]! : 1; }
  // The search's error uses round-half-up on x·(1/s) (ties and the last ulp do not move the optimum);
  // the weights are then rounded with quantizeValue like every other grid.
  const err = (s: number, zp: number) => groupError(x, hw, count, s, zp, mq);
  const refit = (s: number, zp: number) => refitScale(x, hw, count, s, zp, mq);
  gridParams(v, start, count, 1, grid, out);
  let bestS = Math.fround(out[0]!), bestZ = out[1]!;
  let best = err(bestS, bestZ);
  if (search === 'minmax' || best === 0) { out[0] = bestS; return best; }
  const consider = (s: number, zp: number) => {
    if (!(Number.isFinite(s) && s !== 0)) return;
    s = Math.fround(s);
    let e = err(s, zp);
    if (e < best) { best = e; bestS = s; bestZ = zp; }
    if (search === 'lsq') {
      const s2 = refit(s, zp);
      if (s2 !== s) { e = err(s2, zp); if (e < best) { best = e; bestS = s2; bestZ = zp; } }
    }
  };
  if (grid.symmetric) {
    // full side: the largest-magnitude value m onto −2^(b−1) (gridParams' convention, s = m·c / −half);
    // short side: onto 2^(b−1) − 1 (s = m·c / (half − 1)), so the grid reaches 8/7 further the other way.
    const half = (mq + 1) / 2;
    const sFull = out[0]!;
    for (const c of CLIP_STEPS) {
      consider(sFull * c, half);
      consider(-(sFull * c * half) / (half - 1), half);
    }
  } else {
    let lo = 0, hi = 0;
    for (let k = 0; k < count; k++) { const xk = x[k]!; if (xk < lo) lo = xk; if (xk > hi) hi = xk; }
    if (hi - lo === 0) { out[0] = bestS; out[1] = bestZ; return best; }
    for (const c of CLIP_STEPS) {
      const s = ((hi - lo) * c) / mq;
      let zp = Math.round((-lo * c) / s);
      zp = zp < 0 ? 0 : zp > mq ? mq : zp;
      consider(s, zp);
    }
  }
  out[0] = bestS;
  out[1] = bestZ;
  return best;
}
/** Σ h·(x − (clamp(round(x/s) + zp) − zp)·s)² over a group (round half up; see searchGridParams). */
function groupError(x: Float64Array, hw: Float64Array, count: number, s: number, zp: number, mq: number): number {
  const inv = 1 / s;
  let e = 0;
  for (let k = 0; k < count; k++) {
    const xk = x[k]!;
    let q = Math.floor(xk * inv + 0.5) + zp;
    q = q < 0 ? 0 : q > mq ? mq : q;
    const d = xk - (q - zp) * s;
    e += hw[k]! * d * d;
  }
  return e;
}

/** The least-squares scale for the rounding s gives: Σ h·x·l / Σ h·l², l = q − zp. */
function refitScale(x: Float64Array, hw: Float64Array, count: number, s: number, zp: number, mq: number): number {
  const inv = 1 / s;
  let num = 0, den = 0;
  for (let k = 0; k < count; k++) {
    const xk = x[k]!;
    let q = Math.floor(xk * inv + 0.5) + zp;
    q = q < 0 ? 0 : q > mq ? mq : q;
    const l = q - zp;
    num += hw[k]! * xk * l; den += hw[k]! * l * l;
  }
  return den > 0 && num !== 0 ? Math.fround(num / den) : s;
}

let GROUP_BUF = new Float64Array(256);
let H_BUF = new Float64Array(256);

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
export function rtnQuantize(weight: Float32Array, rows: number, cols: number, grid: WeightGrid, groupSize: number, clip?: Float32Array, search?: { method: GridSearch; h?: ArrayLike<number> }): QuantizedWeight {
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
      if (search && search.method !== 'minmax' && !clip) searchGridParams(weight, r * cols + c0, n, grid, p, search.method, search.h, c0);
      else gridParams(weight, r * cols + c0, n, 1, grid, p, clip ? clip[r * nG + g]! : 1);
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
      // q is unsigned (0 .. 2^bits-1) in an Int8Array: 8-bit codes above 127 read back negative, & 0xff restores them (as the MatMulNBits packer does).
      out[r * cols + c] = ((qw.q[r * cols + c]! & 0xff) - qw.zeroPoints[g]!) * qw.scales[g]!;
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
