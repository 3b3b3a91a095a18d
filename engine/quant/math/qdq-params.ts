// The quantization math in the shape the QDQ writer and bias correction use (bit-exact with ONNX):
// scale and zero-point for an activation range, and a weight quantized per tensor, per channel or per block.
import { qparamsForRange } from './qparams';
import { quantizeTensor, roundHalfEven } from './quantize';
import type { ActivationDType, Scheme, WeightDType } from '../../../contract/recipe';

export { roundHalfEven };
export interface QParams { scale: number; zeroPoint: number }

export function rangeParams(rmin: number, rmax: number, dtype: WeightDType | ActivationDType, scheme: Scheme, name?: string): QParams {
  return qparamsForRange(rmin, rmax, { dtype, scheme, name });
}

export interface QuantizedWeight {
  /** Quantized values in the layout of the float tensor. */
  values: Int32Array;
  scales: Float32Array;
  zeroPoints: Int32Array;
  /** Shape of scales/zero-points: [] per-tensor, [C] per-channel, blocked shape for groups. */
  paramDims: number[];
  axis?: number;
  blockSize?: number;
}

/** `axis` undefined: per tensor; with `blockSize`: ONNX blocked quantization along `axis` (opset 21). */
export function quantizeWeight(w: Float32Array, dims: readonly number[], dtype: WeightDType, scheme: Scheme, axis?: number, blockSize?: number, name?: string): QuantizedWeight {
  const granularity = axis === undefined ? 'tensor' : blockSize ? { group: blockSize } : 'channel';
  const { q, params } = quantizeTensor(w, dims, { dtype, scheme, granularity, axis, name });
  const paramDims = axis === undefined ? [] : blockSize ? dims.map((d, i) => (i === axis ? Math.ceil(d / blockSize) : d)) : [dims[axis]!];
  return { values: q, scales: params.scale, zeroPoints: params.zeroPoint, paramDims, ...(axis !== undefined ? { axis } : {}), ...(blockSize ? { blockSize } : {}) };
}
