// Fake quantization on the host: the weights' quantize-dequantize before each step (they enter the
// training graph already on the integer grid), the straight-through gradient back to the float
// weights, the LSQ gradient of the weight scales, and the MSE-searched initial scales. One place
// computes the integers, so the exported QDQ model holds exactly what training saw.
import { computeQParams, qparamsForRange, paramLayout, type QuantParams, type QDType } from '../quant/math';
import type { Scheme } from '../../contract/recipe';

export interface WeightQuant {
  name: string;
  dims: number[];
  params: QuantParams;
  /** Parameter slot of every element. */
  slot: Int32Array;
}

/** Candidate clip ratios for the MSE search (1 = the plain min/max range). */
const CLIP_RATIOS = Array.from({ length: 36 }, (_, i) => 1 - i * 0.02);

function slots(dims: readonly number[], axis?: number, blockSize?: number, name?: string): { slot: Int32Array; count: number } {
  const layout = paramLayout(dims, axis, blockSize, name);
  const n = dims.reduce((a, b) => a * b, 1);
  const slot = new Int32Array(n);
  for (let i = 0; i < n; i++) slot[i] = layout.indexOf(i);
  return { slot, count: layout.count };
}

/**
 * Quantization parameters of a weight, one scale per slot (tensor / channel / block), each slot's
 * clipping range searched for the least squared error of the round trip (PTQ's best weight grid).
 */
export function initWeightQuant(name: string, w: Float32Array, dims: readonly number[], dtype: QDType, scheme: Scheme, axis?: number, blockSize?: number): WeightQuant {
  const { slot, count } = slots(dims, axis, blockSize, name);
  const lo = new Float64Array(count).fill(Infinity), hi = new Float64Array(count).fill(-Infinity);
  for (let i = 0; i < w.length; i++) {
    const s = slot[i]!, x = w[i]!;
    if (x < lo[s]!) lo[s] = x;
    if (x > hi[s]!) hi[s] = x;
  }
  const base = computeQParams(Array.from(lo), Array.from(hi), { dtype, scheme, axis: axis ?? (count > 1 ? 0 : undefined), blockSize, name });
  const best = new Float64Array(count).fill(Infinity);
  const scale = new Float32Array(count), zp = new Int32Array(count);
  const cs = new Float32Array(count), cz = new Int32Array(count), err = new Float64Array(count);
  const { qmin, qmax } = base;
  const inv = new Float64Array(count);
  for (const r of CLIP_RATIOS) {
    for (let s = 0; s < count; s++) {
      const p = qparamsForRange(lo[s]! * r, hi[s]! * r, { dtype, scheme });
      cs[s] = p.scale; cz[s] = p.zeroPoint; inv[s] = 1 / p.scale;
    }
    err.fill(0);
    for (let i = 0; i < w.length; i++) {
      const s = slot[i]!, z = cz[s]!, x = w[i]!;
      let q = Math.round(x * inv[s]!) + z;
      q = q < qmin ? qmin : q > qmax ? qmax : q;
      const d = x - (q - z) * cs[s]!;
      err[s]! += d * d;
    }
    for (let s = 0; s < count; s++) if (err[s]! < best[s]!) { best[s] = err[s]!; scale[s] = cs[s]!; zp[s] = cz[s]!; }
  }
  const params: QuantParams = { ...base, scale, zeroPoint: zp };
  if (axis !== undefined) params.axis = axis; else delete params.axis;
  if (blockSize !== undefined) params.blockSize = blockSize;
  return { name, dims: [...dims], params, slot };
}

/** ONNX rounding (half to even) of one float32 value. */
function rint(x: number): number {
  const f = Math.floor(x), d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/** The integers QuantizeLinear would store for `w` under the current parameters. */
export function quantizeWeightInts(w: Float32Array, wq: WeightQuant): Int32Array {
  const { scale, zeroPoint, qmin, qmax } = wq.params;
  const out = new Int32Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const s = wq.slot[i]!;
    const q = rint(Math.fround(w[i]! / scale[s]!)) + zeroPoint[s]!;
    out[i] = !(q >= qmin) ? qmin : q > qmax ? qmax : q; // NaN saturates low, as ORT's QuantizeLinear
  }
  return out;
}

/** Quantize-dequantize `w` into `out` (what DequantizeLinear gives back in the exported model). */
export function fakeQuantWeight(w: Float32Array, wq: WeightQuant, out: Float32Array = new Float32Array(w.length)): Float32Array {
  const { scale, zeroPoint, qmin, qmax } = wq.params;
  for (let i = 0; i < w.length; i++) {
    const s = wq.slot[i]!, sc = scale[s]!, z = zeroPoint[s]!;
    let q = rint(Math.fround(w[i]! / sc)) + z;
    q = !(q >= qmin) ? qmin : q > qmax ? qmax : q; // NaN saturates low, as ORT's QuantizeLinear
    out[i] = Math.fround((q - z) * sc);
  }
  return out;
}

/**
 * Straight-through estimator, in place: the gradient w.r.t. the fake-quantized weight passes to the
 * float weight where w/s + z lies inside [qmin, qmax] and is zero where the clip saturates. With
 * `scaleGrad`, also accumulates LSQ's d loss / d scale = sum g · ((q - z) - inside · (w/s)).
 */
export function steWeightGrad(w: Float32Array, wq: WeightQuant, grad: Float32Array, scaleGrad?: Float64Array): void {
  const { scale, zeroPoint, qmin, qmax } = wq.params;
  for (let i = 0; i < w.length; i++) {
    const s = wq.slot[i]!, sc = scale[s]!, z = zeroPoint[s]!;
    const v = w[i]! / sc + z;
    const inside = v >= qmin && v <= qmax;
    if (scaleGrad) {
      let q = rint(v);
      q = q < qmin ? qmin : q > qmax ? qmax : q;
      scaleGrad[s]! += grad[i]! * (inside ? q - v : q - z);
    }
    if (!inside) grad[i] = 0;
  }
}

/** Activation parameters from a calibrated range (per tensor). */
export function activationParams(min: number, max: number, dtype: QDType, scheme: Scheme): { scale: number; zeroPoint: number } {
  return qparamsForRange(min, max, { dtype, scheme });
}

/**
 * The clipping range of a histogram that minimises the expected squared quantization error
 * (local until the shared MSE calibrator lands): shrink [min, max] by a common ratio, with the
 * lower end kept at 0 for non-negative tensors (ReLU outputs).
 */
export function mseRange(edges: Float64Array, counts: Float64Array, min: number, max: number, dtype: QDType, scheme: Scheme): { min: number; max: number } {
  let best = { min, max }, bestErr = Infinity;
  const centers = Array.from(counts, (_, b) => (edges[b]! + edges[b + 1]!) / 2);
  for (let k = 0; k < 100; k++) {
    const r = 1 - k * 0.009;
    const lo = min * r, hi = max * r;
    const { scale, zeroPoint } = qparamsForRange(lo, hi, { dtype, scheme });
    const p = computeQParams(lo, hi, { dtype, scheme });
    let err = 0;
    for (let b = 0; b < counts.length; b++) {
      const c = counts[b]!;
      if (!c) continue;
      let q = Math.round(centers[b]! / scale) + zeroPoint;
      q = q < p.qmin ? p.qmin : q > p.qmax ? p.qmax : q;
      const d = centers[b]! - (q - zeroPoint) * scale;
      err += c * d * d;
    }
    if (err < bestErr) { bestErr = err; best = { min: lo, max: hi }; }
  }
  return best;
}
