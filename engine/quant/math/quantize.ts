// Reference quantize/dequantize, bit-exact with ONNX QuantizeLinear / DequantizeLinear:
//   q = saturate(roundHalfEven(fp32(x / scale)) + zp),  x' = fp32((q - zp) * scale)
// per tensor, per axis and per block (opset 21). Every fast path elsewhere is checked against these.
import { StudioError, quote } from '../../errors';
import { computeQParams, roundHalfEven, type QDType, type QuantParams } from './qparams';
import { paramLayout, minMaxPerParam, normalizeAxis, forEachElementParam } from './layout';
import type { Scheme, Granularity } from '../../../contract/recipe';

export { roundHalfEven };

/** How to quantize a tensor from its own values (round-to-nearest weights). */
export interface QuantSpec {
  dtype: QDType;
  scheme: Scheme;
  granularity: Granularity;
  /** Channel axis for 'channel', block axis for { group }; see ./axes for the right one per op. */
  axis?: number;
  restrictedRange?: boolean;
  name?: string;
}

function checkParams(n: number, dims: readonly number[], params: QuantParams, name?: string): ReturnType<typeof paramLayout> {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== n) throw new StudioError('BAD_ARGUMENT', `Tensor${name ? ` ${quote(name)}` : ''} has ${n} values but shape [${dims.join(',')}].`);
  const layout = paramLayout(dims, params.axis, params.blockSize, name);
  if (params.scale.length !== layout.count || params.zeroPoint.length !== layout.count) {
    throw new StudioError('BAD_ARGUMENT', `Tensor${name ? ` ${quote(name)}` : ''}: ${params.scale.length} scales / ${params.zeroPoint.length} zero-points, expected ${layout.count} for shape [${dims.join(',')}] (axis ${params.axis ?? 'none'}, block ${params.blockSize ?? 'none'}).`);
  }
  return layout;
}

/** One value, exactly as ONNX QuantizeLinear (float32 division, ties to even, saturation). */
export function quantizeValue(x: number, scale: number, zeroPoint: number, qmin: number, qmax: number): number {
  const r = Math.fround(Math.fround(x) / scale);
  // NaN saturates low: onnxruntime 1.30's CPU QuantizeLinear stores qmin for NaN whatever the zero point
  // (int8, uint8, int4, uint4; test/engine/quant/math/nan-quantize.test.ts runs it), as the native kernels do.
  if (Number.isNaN(r)) return qmin;
  const q = roundHalfEven(r) + zeroPoint;
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

export function dequantizeValue(q: number, scale: number, zeroPoint: number): number {
  return Math.fround((q - zeroPoint) * scale);
}

/** Quantize with given parameters. Returns one integer per element (unpacked, in [qmin, qmax]). */
export function quantizeValues(values: ArrayLike<number>, dims: readonly number[], params: QuantParams, name?: string): Int32Array {
  const layout = checkParams(values.length, dims, params, name);
  const out = new Int32Array(values.length);
  const { scale, zeroPoint, qmin, qmax } = params;
  if (layout.count === 1) {
    const s = scale[0]!, z = zeroPoint[0]!;
    for (let i = 0; i < values.length; i++) out[i] = quantizeValue(values[i]!, s, z, qmin, qmax);
    return out;
  }
  forEachElementParam(dims, params.axis, params.blockSize, (i, p) => {
    out[i] = quantizeValue(values[i]!, scale[p]!, zeroPoint[p]!, qmin, qmax);
  }, name);
  return out;
}

export function dequantizeValues(q: ArrayLike<number>, dims: readonly number[], params: QuantParams, name?: string): Float32Array {
  checkParams(q.length, dims, params, name);
  const out = new Float32Array(q.length);
  const { scale, zeroPoint } = params;
  forEachElementParam(dims, params.axis, params.blockSize, (i, p) => {
    out[i] = dequantizeValue(q[i]!, scale[p]!, zeroPoint[p]!);
  }, name);
  return out;
}

/** Parameters for a tensor from its own min/max (round-to-nearest). */
export function paramsFor(values: ArrayLike<number>, dims: readonly number[], spec: QuantSpec): QuantParams {
  const g = spec.granularity;
  const base = { dtype: spec.dtype, scheme: spec.scheme, restrictedRange: spec.restrictedRange, name: spec.name };
  if (g === 'tensor') {
    const { min, max } = minMaxPerParam(values, dims);
    return computeQParams(min[0]!, max[0]!, base);
  }
  if (spec.axis === undefined) throw new StudioError('BAD_ARGUMENT', `Tensor${spec.name ? ` ${quote(spec.name)}` : ''}: granularity ${quote(g)} needs an axis.`);
  const axis = normalizeAxis(spec.axis, dims.length, spec.name);
  const blockSize = g === 'channel' ? undefined : g.group;
  const { min, max } = minMaxPerParam(values, dims, axis, blockSize, spec.name);
  return computeQParams(min, max, { ...base, axis, blockSize });
}

/** Quantize a float tensor by its own range: integers plus the parameters that reproduce it. */
export function quantizeTensor(values: ArrayLike<number>, dims: readonly number[], spec: QuantSpec): { q: Int32Array; params: QuantParams } {
  const params = paramsFor(values, dims, spec);
  return { q: quantizeValues(values, dims, params, spec.name), params };
}

export function dequantizeTensor(q: ArrayLike<number>, dims: readonly number[], params: QuantParams, name?: string): Float32Array {
  return dequantizeValues(q, dims, params, name);
}

/** Quantize then dequantize (what a QDQ pair computes). */
export function fakeQuantize(values: ArrayLike<number>, dims: readonly number[], params: QuantParams, name?: string): Float32Array {
  return dequantizeValues(quantizeValues(values, dims, params, name), dims, params, name);
}
