// Where each element's scale/zero-point lives: per tensor, per axis, or per block along an axis
// (ONNX opset 21: parameter shape = data shape with dims[axis] -> ceil(dims[axis] / blockSize)).
import { StudioError, quote } from '../../errors';

export interface ParamLayout {
  /** Shape of the scale/zero-point tensor ([] per tensor, [C] per axis, data rank per block). */
  paramDims: number[];
  /** Number of parameters. */
  count: number;
  /** Parameter index of the element at flat (row-major) index i. */
  indexOf(i: number): number;
}

export function normalizeAxis(axis: number, rank: number, name?: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new StudioError('BAD_ARGUMENT', `Axis ${quote(axis)} is out of range for${name ? ` tensor ${quote(name)} of` : ''} rank ${rank}.`);
  }
  return a;
}

export function paramLayout(dims: readonly number[], axis?: number, blockSize?: number, name?: string): ParamLayout {
  if (axis === undefined) return { paramDims: [], count: 1, indexOf: () => 0 };
  const ax = normalizeAxis(axis, dims.length, name);
  const d = dims[ax]!;
  // inner = product of dims after the axis: flat index -> coordinate along axis is floor(i / inner) % d.
  let inner = 1;
  for (let k = ax + 1; k < dims.length; k++) inner *= dims[k]!;
  if (blockSize === undefined) return { paramDims: [d], count: d, indexOf: (i) => Math.floor(i / inner) % d };
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new StudioError('BAD_ARGUMENT', `Block size ${quote(blockSize)} for${name ? ` tensor ${quote(name)}` : ''} is not a positive integer.`);
  const nb = Math.ceil(d / blockSize);
  const paramDims = dims.map((x, k) => (k === ax ? nb : x));
  const count = paramDims.reduce((a, b) => a * b, 1);
  return {
    paramDims,
    count,
    indexOf: (i) => {
      const innerIdx = i % inner;
      const c = Math.floor(i / inner) % d;
      const outer = Math.floor(i / (inner * d));
      return (outer * nb + Math.floor(c / blockSize)) * inner + innerIdx;
    },
  };
}

/** Calls fn(i, p) for every element i with its parameter index p, in element order, without
 *  per-element division (the hot loop of quantize/dequantize on large weights). */
export function forEachElementParam(dims: readonly number[], axis: number | undefined, blockSize: number | undefined, fn: (i: number, p: number) => void, name?: string): void {
  const n = dims.reduce((a, b) => a * b, 1);
  if (axis === undefined) { for (let i = 0; i < n; i++) fn(i, 0); return; }
  const ax = normalizeAxis(axis, dims.length, name);
  const d = dims[ax]!;
  let inner = 1;
  for (let k = ax + 1; k < dims.length; k++) inner *= dims[k]!;
  const outer = d * inner > 0 ? n / (d * inner) : 0;
  let i = 0;
  if (blockSize === undefined) {
    for (let o = 0; o < outer; o++) for (let c = 0; c < d; c++) for (let j = 0; j < inner; j++) fn(i++, c);
    return;
  }
  const nb = Math.ceil(d / blockSize);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < d; c++) {
      const base = (o * nb + Math.floor(c / blockSize)) * inner;
      for (let j = 0; j < inner; j++) fn(i++, base + j);
    }
  }
}

/** Min and max of the elements that share each parameter (NaN never counted; empty groups give 0). */
export function minMaxPerParam(values: ArrayLike<number>, dims: readonly number[], axis?: number, blockSize?: number, name?: string): { min: Float32Array; max: Float32Array } {
  const layout = paramLayout(dims, axis, blockSize, name);
  const min = new Float32Array(layout.count).fill(Infinity);
  const max = new Float32Array(layout.count).fill(-Infinity);
  forEachElementParam(dims, axis, blockSize, (i, p) => {
    const v = values[i]!;
    if (v < min[p]!) min[p] = v;
    if (v > max[p]!) max[p] = v;
  }, name);
  for (let p = 0; p < layout.count; p++) {
    if (min[p] === Infinity) { min[p] = 0; max[p] = 0; }
  }
  return { min, max };
}
