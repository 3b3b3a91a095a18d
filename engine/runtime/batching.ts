// Split sample-major arrays (axis 0 = sample) into batches and wrap them as ORT tensors.
import * as ort from 'onnxruntime-node';
import type { NpyArray, NpyData } from '../data/npy';
import { StudioError, quote } from '../errors';

export function batchRanges(total: number, batchSize: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < total; s += batchSize) out.push([s, Math.min(total, s + batchSize)]);
  return out;
}

/** Samples [start, end) of a sample-major array, without copying. */
export function sliceSamples(a: NpyArray, start: number, end: number): NpyArray {
  const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
  const data = a.data.subarray(start * per, end * per) as NpyData;
  return { dtype: a.dtype, shape: [end - start, ...a.shape.slice(1)], data };
}

const ortType: Record<string, ort.Tensor.Type | undefined> = {
  float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', int8: 'int8', uint8: 'uint8', bool: 'bool', float16: 'float16',
};

export function toOrtTensor(a: NpyArray, name = 'input'): ort.Tensor {
  const t = ortType[a.dtype];
  if (!t) throw new StudioError('BAD_DATA', `Input ${quote(name)} has dtype ${quote(a.dtype)}, which onnxruntime cannot take.`);
  return new ort.Tensor(t, a.data as never, a.shape);
}

export function feedsFor(inputs: Record<string, NpyArray>, start: number, end: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, arr] of Object.entries(inputs)) feeds[name] = toOrtTensor(sliceSamples(arr, start, end), name);
  return feeds;
}

export function sampleCount(inputs: Record<string, NpyArray>): number {
  const counts = Object.values(inputs).map((a) => a.shape[0] ?? 0);
  return counts.length ? Math.min(...counts) : 0;
}
