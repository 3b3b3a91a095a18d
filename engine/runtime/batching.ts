// Split sample-major arrays (axis 0 = sample) into batches and wrap them as ORT tensors.
import * as ort from 'onnxruntime-node';
import type { NpyArray, NpyData } from '../data/npy';
import { StudioError, quote } from '../errors';
import { widenHalf, widenBfloat16 } from '../onnx/tensor';

export function batchRanges(total: number, batchSize: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < total; s += batchSize) out.push([s, Math.min(total, s + batchSize)]);
  return out;
}

/** Samples [start, end) of a sample-major array, without copying; a slice keeps the run size the
 *  model fixes (a held-out split is fed as the whole was). */
export function sliceSamples(a: NpyArray, start: number, end: number): NpyArray {
  const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
  const data = a.data.subarray(start * per, end * per) as NpyData;
  return { dtype: a.dtype, shape: [end - start, ...a.shape.slice(1)], data, ...(a.feed?.fixedRun ? { feed: { fixedRun: a.feed.fixedRun } } : {}) };
}

const ortType: Record<string, ort.Tensor.Type | undefined> = {
  float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', int8: 'int8', uint8: 'uint8', bool: 'bool', float16: 'float16',
};

export function toOrtTensor(a: NpyArray, name = 'input'): ort.Tensor {
  const t = ortType[a.dtype];
  if (!t) throw new StudioError('BAD_DATA', `Input ${quote(name)} has dtype ${quote(a.dtype)}, which onnxruntime cannot take.`);
  return new ort.Tensor(t, a.data as never, a.shape);
}

/**
 * Inputs with no sample axis (a scalar sample rate, an initial RNN state [2, batch, 128]) are fed
 * whole to every run; `batchAxis` names the axis of size 1 that is repeated to the run's batch size.
 * `perSample`: the array holds one entry per sample along `batchAxis` (e.g. recorded RNN states [2, N, 128]).
 * The mark is data on the array (NpyArray.feed), so a copy `{ ...a }` or a structured clone keeps it.
 */
export function markConstantInput(a: NpyArray, batchAxis?: number, perSample = false): void { a.feed = { constant: { batchAxis, perSample } }; }
/** Forget how an array was fed before (it is about to be validated against a model afresh). */
export function clearFeedLayout(a: NpyArray): void { delete a.feed; }

function sliceAxis(a: NpyArray, axis: number, start: number, end: number): NpyArray {
  const outer = a.shape.slice(0, axis).reduce((x, y) => x * y, 1);
  const inner = a.shape.slice(axis + 1).reduce((x, y) => x * y, 1);
  const d = a.shape[axis]!, n = end - start;
  const Ctor = a.data.constructor as new (n: number) => NpyData;
  const data = new Ctor(outer * n * inner);
  for (let o = 0; o < outer; o++) (data as Float32Array).set((a.data as Float32Array).subarray((o * d + start) * inner, (o * d + end) * inner), o * n * inner);
  return { dtype: a.dtype, shape: a.shape.map((x, i) => (i === axis ? n : x)), data };
}
export function isConstantInput(a: NpyArray): boolean { return !!a.feed?.constant; }

function tileAxis(a: NpyArray, axis: number, times: number): NpyArray {
  if (times === 1 || a.shape[axis] !== 1) return a;
  const outer = a.shape.slice(0, axis).reduce((x, y) => x * y, 1);
  const inner = a.shape.slice(axis + 1).reduce((x, y) => x * y, 1);
  const Ctor = a.data.constructor as new (n: number) => NpyData;
  const data = new Ctor(outer * times * inner);
  for (let o = 0; o < outer; o++) for (let t = 0; t < times; t++) (data as Float32Array).set((a.data as Float32Array).subarray(o * inner, (o + 1) * inner), (o * times + t) * inner);
  return { dtype: a.dtype, shape: a.shape.map((d, i) => (i === axis ? times : d)), data };
}

/**
 * Inputs whose model shape fixes the leading axis to k (batch 1 from tf2onnx, fixed-batch vision
 * exporters, streaming audio heads) still hold samples on axis 0, but every run must take exactly k.
 */
export function markFixedRunSize(a: NpyArray, k: number): void { a.feed = { fixedRun: k }; }

/** The run size the model fixes for these inputs (undefined: any). */
export function fixedRunSize(inputs: Record<string, NpyArray>): number | undefined {
  for (const a of Object.values(inputs)) { const k = a.feed?.fixedRun; if (k) return k; }
  return undefined;
}

/** `wanted` samples per run, unless the model fixes the run size. Every batching loop asks this. */
export function runSize(inputs: Record<string, NpyArray>, wanted: number): number {
  return fixedRunSize(inputs) ?? Math.max(1, wanted);
}

/** `total` samples rounded to whole fixed-size runs (at least one run when the data holds one). */
export function wholeRuns(inputs: Record<string, NpyArray>, total: number): number {
  const k = fixedRunSize(inputs);
  if (!k) return total;
  const whole = Math.floor(total / k) * k;
  return whole > 0 ? whole : Math.min(k, sampleCount(inputs));
}

/** batchRanges in runs the model accepts (`batchSize`, or the model's fixed run size). */
export function runRanges(inputs: Record<string, NpyArray>, total: number, batchSize: number): [number, number][] {
  return batchRanges(wholeRuns(inputs, total), runSize(inputs, batchSize));
}

export function feedsFor(inputs: Record<string, NpyArray>, start: number, end: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, arr] of Object.entries(inputs)) {
    const k = arr.feed?.fixedRun;
    if (k !== undefined && end - start !== k) {
      throw new StudioError('INTERNAL', `Input ${quote(name)} takes runs of exactly ${k} sample(s) (the model fixes its first axis), but a run of ${end - start} was asked for: the caller must batch with runRanges().`);
    }
    const c = arr.feed?.constant;
    const v = !c ? sliceSamples(arr, start, end)
      : c.batchAxis === undefined ? arr
      : c.perSample ? sliceAxis(arr, c.batchAxis, start, end)
      : tileAxis(arr, c.batchAxis, end - start);
    feeds[name] = toOrtTensor(v, name);
  }
  return feeds;
}

export function sampleCount(inputs: Record<string, NpyArray>): number {
  const counts = Object.values(inputs).flatMap((a) => {
    const c = a.feed?.constant;
    const k = a.feed?.fixedRun;
    // Whole runs only: a remainder smaller than the model's fixed batch cannot be fed.
    if (k) return [Math.floor((a.shape[0] ?? 0) / k) * k];
    if (!c) return [a.shape[0] ?? 0];
    return c.perSample && c.batchAxis !== undefined ? [a.shape[c.batchAxis]!] : [];
  });
  return counts.length ? Math.min(...counts) : 0;
}

/** A float tensor's values as float32 (float16 / bfloat16 activations widened exactly); undefined
 *  for non-float tensors, which have no range to calibrate. */
export function floatValues(v: ort.Tensor): Float32Array | undefined {
  if (v.type === 'float32') return v.data as Float32Array;
  if (v.type === 'float64') return Float32Array.from(v.data as Float64Array);
  if (v.type === 'float16') {
    const d = v.data as ArrayLike<number>;
    // onnxruntime-node hands float16 as raw bits (Uint16Array), or as Float16Array where the runtime has one.
    return d instanceof Uint16Array ? widenHalf(d) : Float32Array.from(d);
  }
  if ((v.type as string) === 'bfloat16') return widenBfloat16(v.data as Uint16Array);
  return undefined;
}
