// Scale and zero-point from a float range, for every dtype/scheme the recipe allows.
// Float 0 is always exactly representable (the range is widened to include 0 and the zero-point is
// an integer), so zero padding and ReLU outputs quantize without error.
import { StudioError, quote } from '../../errors';
import type { WeightDType, ActivationDType, Scheme } from '../../../contract/recipe';
import { dtypeInfo } from '../../core/dtypes';

export type QDType = WeightDType | ActivationDType;

/** Quantization parameters of one tensor. One scale/zero-point per tensor, per channel (`axis`)
 *  or per block (`axis` + `blockSize`, ONNX opset-21 blocked layout: the parameter tensor has the
 *  data's shape with dims[axis] replaced by ceil(dims[axis] / blockSize)). */
export interface QuantParams {
  dtype: QDType;
  scheme: Scheme;
  scale: Float32Array;
  zeroPoint: Int32Array;
  /** Channel (or block) axis; absent for per-tensor. */
  axis?: number;
  /** Elements per block along `axis`; absent for per-tensor and per-channel. */
  blockSize?: number;
  /** Saturation bounds of the stored integer (the dtype's full range, as ONNX QuantizeLinear clamps). */
  qmin: number;
  qmax: number;
}

export interface QParamsOptions {
  dtype: QDType;
  scheme: Scheme;
  /** Symmetric signed only: map ±absmax to ±(2^(b-1)-1) (e.g. ±127) so the grid is symmetric;
   *  the dtype's most negative code stays unused. Default true (ORT's choice). With false, absmax
   *  maps to qmin (e.g. -128) and +absmax saturates one step early. */
  restrictedRange?: boolean;
  axis?: number;
  blockSize?: number;
  /** Tensor name for error messages. */
  name?: string;
}

/** The integer range used to derive the scale (may be narrower than the saturation range). */
export function scaleRange(dtype: QDType, scheme: Scheme, restrictedRange = true): { lo: number; hi: number } {
  const { qmin, qmax, signed } = dtypeInfo(dtype);
  if (scheme === 'symmetric' && signed) return restrictedRange ? { lo: -qmax, hi: qmax } : { lo: qmin, hi: -qmin };
  return { lo: qmin, hi: qmax };
}

/** ONNX round: nearest, ties to even (std::nearbyint in the default mode). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function checkFinite(v: number, what: string, name?: string): void {
  if (!Number.isFinite(v)) {
    throw new StudioError('BAD_ARGUMENT', `Cannot quantize${name ? ` tensor ${quote(name)}` : ''}: its ${what} is ${quote(String(v))}; the range must be finite.`);
  }
}

/** Scale/zero-point for one range. Returns float32-exact scale and integer zero-point. */
export function qparamsForRange(min: number, max: number, opts: QParamsOptions): { scale: number; zeroPoint: number } {
  checkFinite(min, 'minimum', opts.name);
  checkFinite(max, 'maximum', opts.name);
  if (min > max) throw new StudioError('BAD_ARGUMENT', `Cannot quantize${opts.name ? ` tensor ${quote(opts.name)}` : ''}: minimum ${quote(min)} is above maximum ${quote(max)}.`);
  const { qmin, qmax, signed } = dtypeInfo(opts.dtype);
  const rmin = Math.min(min, 0);
  const rmax = Math.max(max, 0);
  if (opts.scheme === 'symmetric') {
    const { lo, hi } = scaleRange(opts.dtype, 'symmetric', opts.restrictedRange ?? true);
    const absmax = Math.max(-rmin, rmax);
    // Unsigned symmetric: zero at the midpoint, round((qmin+qmax)/2) with ties to even (128 for uint8, 8 for uint4).
    const zeroPoint = signed ? 0 : roundHalfEven((qmin + qmax) / 2);
    const half = signed ? (hi - lo) / 2 : (qmax - qmin) / 2;
    let scale = Math.fround(absmax / half);
    // All-zero range (or a range so small the scale underflows float32): any scale represents it; 1 is ONNX's habit.
    if (!(scale > 0)) scale = 1;
    if (!Number.isFinite(scale)) throw new StudioError('BAD_ARGUMENT', `Cannot quantize${opts.name ? ` tensor ${quote(opts.name)}` : ''}: range [${min}, ${max}] overflows a float32 scale.`);
    return { scale, zeroPoint };
  }
  let scale = Math.fround((rmax - rmin) / (qmax - qmin));
  if (!(scale > 0)) return { scale: 1, zeroPoint: qmin };
  if (!Number.isFinite(scale)) throw new StudioError('BAD_ARGUMENT', `Cannot quantize${opts.name ? ` tensor ${quote(opts.name)}` : ''}: range [${min}, ${max}] overflows a float32 scale.`);
  const zp = Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - rmin / scale)));
  return { scale, zeroPoint: zp };
}

/** Parameters from min/max scalars (per tensor) or arrays (one entry per channel or block). */
export function computeQParams(min: number | ArrayLike<number>, max: number | ArrayLike<number>, opts: QParamsOptions): QuantParams {
  const mins = typeof min === 'number' ? [min] : min;
  const maxs = typeof max === 'number' ? [max] : max;
  if (mins.length !== maxs.length || mins.length === 0) {
    throw new StudioError('BAD_ARGUMENT', `computeQParams${opts.name ? ` for ${quote(opts.name)}` : ''}: ${mins.length} minima but ${maxs.length} maxima.`);
  }
  if (typeof min !== 'number' && opts.axis === undefined && mins.length !== 1) {
    throw new StudioError('BAD_ARGUMENT', `computeQParams${opts.name ? ` for ${quote(opts.name)}` : ''}: ${mins.length} ranges need an axis.`);
  }
  if (opts.blockSize !== undefined && (!Number.isInteger(opts.blockSize) || opts.blockSize < 1)) {
    throw new StudioError('BAD_ARGUMENT', `computeQParams${opts.name ? ` for ${quote(opts.name)}` : ''}: block size ${quote(opts.blockSize)} is not a positive integer.`);
  }
  const { qmin, qmax } = dtypeInfo(opts.dtype);
  const scale = new Float32Array(mins.length);
  const zeroPoint = new Int32Array(mins.length);
  for (let i = 0; i < mins.length; i++) {
    const p = qparamsForRange(mins[i]!, maxs[i]!, opts);
    scale[i] = p.scale;
    zeroPoint[i] = p.zeroPoint;
  }
  const out: QuantParams = { dtype: opts.dtype, scheme: opts.scheme, scale, zeroPoint, qmin, qmax };
  if (typeof min !== 'number' && opts.axis !== undefined) out.axis = opts.axis;
  if (out.axis !== undefined && opts.blockSize !== undefined) out.blockSize = opts.blockSize;
  return out;
}
