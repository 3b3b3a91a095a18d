// Plain TypeScript twins of the quantization kernels: one element at a time, written to read like the
// ONNX operator definitions. The native kernels are held to these bit for bit (test/native).
import type { KernelLayout } from '../layout';

/** Round half to even (ONNX QuantizeLinear). */
export function roundHalfEven(t: number): number {
  const r = Math.round(t); // half toward +infinity
  return r - t === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function scaleIndex(L: KernelLayout, i: number): number {
  const j = i % L.inner;
  const c = Math.floor(i / L.inner) % L.axisLen;
  if (L.block <= 0) return c;
  const groups = Math.ceil(L.axisLen / L.block);
  const o = Math.floor(i / (L.inner * L.axisLen));
  return (o * groups + Math.floor(c / L.block)) * L.inner + j;
}

/** q = saturate(roundHalfEven(x / scale) + zp); the division is float32 (Math.fround); NaN saturates to qmin, as onnxruntime 1.30 stores it (test/engine/quant/math/nan-quantize.test.ts). */
export function quantizeOne(x: number, s: number, zp: number, qmin: number, qmax: number): number {
  let t = Math.fround(x / s);
  const lo = qmin - zp, hi = qmax - zp;
  if (!(t >= lo)) t = lo;
  if (t > hi) t = hi;
  return roundHalfEven(t) + zp;
}

export function quantizeRef(x: Float32Array, L: KernelLayout, scales: Float32Array, zps: Int32Array, qmin: number, qmax: number, bits: 8 | 4): Uint8Array {
  const n = x.length;
  if (bits === 8) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const k = scaleIndex(L, i);
      out[i] = quantizeOne(x[i]!, scales[k]!, zps[k]!, qmin, qmax) & 0xff;
    }
    return out;
  }
  const out = new Uint8Array((n + 1) >> 1);
  for (let i = 0; i < n; i++) {
    const k = scaleIndex(L, i);
    const nib = quantizeOne(x[i]!, scales[k]!, zps[k]!, qmin, qmax) & 0xf;
    out[i >> 1]! |= i & 1 ? nib << 4 : nib;
  }
  return out;
}

export function dequantizeRef(q: Uint8Array, n: number, L: KernelLayout, scales: Float32Array, zps: Int32Array, signed: boolean, bits: 8 | 4): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    if (bits === 8) v = signed ? (q[i]! << 24) >> 24 : q[i]!;
    else {
      const nib = i & 1 ? q[i >> 1]! >> 4 : q[i >> 1]! & 0xf;
      v = signed ? (nib ^ 8) - 8 : nib;
    }
    const k = scaleIndex(L, i);
    out[i] = (v - zps[k]!) * scales[k]!;
  }
  return out;
}

export function minMaxRef(x: Float32Array, L: KernelLayout, slots: number): { min: Float32Array; max: Float32Array } {
  const min = new Float32Array(slots).fill(Infinity);
  const max = new Float32Array(slots).fill(-Infinity);
  for (let i = 0; i < x.length; i++) {
    const k = scaleIndex(L, i);
    const v = x[i]!;
    if (v < min[k]!) min[k] = v;
    if (v > max[k]!) max[k] = v;
  }
  return { min, max };
}

/**
 * Adds into counts: bin = floor((x − lo) · (bins / (hi − lo))) in float64, x = hi in the last bin; NaN and
 * values outside [lo, hi] skipped. zeroNaN (2 entries) gets added the values equal to 0 and the NaN values, over all of x.
 */
export function histogramRef(x: Float32Array, lo: number, hi: number, counts: Float64Array, zeroNaN?: Float64Array): Float64Array {
  const bins = counts.length;
  const scale = bins / (hi - lo);
  let zeros = 0, nans = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v === 0) zeros++;
    else if (v !== v) nans++;
    if (!(v >= lo && v <= hi)) continue;
    let b = Math.floor((v - lo) * scale);
    if (b >= bins) b = bins - 1;
    counts[b]! += 1;
  }
  if (zeroNaN) { zeroNaN[0]! += zeros; zeroNaN[1]! += nans; }
  return counts;
}

/** y = (clamp(round(x/s) + zp) − zp) · s; mask = 1 where round(x/s) + zp lies inside [qmin, qmax]. */
export function fakeQuantForwardRef(x: Float32Array, L: KernelLayout, scales: Float32Array, zps: Int32Array, qmin: number, qmax: number): { y: Float32Array; mask: Uint8Array } {
  const y = new Float32Array(x.length);
  const mask = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const k = scaleIndex(L, i);
    const s = scales[k]!, zp = zps[k]!;
    const r = roundHalfEven(Math.fround(x[i]! / s));
    y[i] = (quantizeOne(x[i]!, s, zp, qmin, qmax) - zp) * s;
    mask[i] = r >= qmin - zp && r <= qmax - zp ? 1 : 0;
  }
  return { y, mask };
}

/** Straight-through estimator: gx = gy inside the clip range, 0 outside. */
export function fakeQuantBackwardRef(x: Float32Array, gy: Float32Array, L: KernelLayout, scales: Float32Array, zps: Int32Array, qmin: number, qmax: number): Float32Array {
  const gx = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const k = scaleIndex(L, i);
    const r = roundHalfEven(Math.fround(x[i]! / scales[k]!));
    gx[i] = r >= qmin - zps[k]! && r <= qmax - zps[k]! ? gy[i]! : 0;
  }
  return gx;
}
