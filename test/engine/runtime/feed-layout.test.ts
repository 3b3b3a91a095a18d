// How an input is fed (a fixed run size, a constant fed whole) is data on the array, not a mark kept
// by object identity: a copy `{ ...a }` (as callers make to rename or reshape) and a structured clone
// (the copy worker threads get) are fed exactly as the original, and validating against another
// model replaces the layout instead of inheriting a stale one.
import { describe, it, expect } from 'vitest';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { loadModel } from '../../../engine/onnx/model-io';
import type { NpyArray } from '../../../engine/data/npy';
import { markFixedRunSize, markConstantInput, fixedRunSize, feedsFor, sampleCount, runRanges, sliceSamples, isConstantInput } from '../../../engine/runtime/batching';
import { validateInputs } from '../../../engine/pipeline/validate-inputs';
import { models } from '../../helpers/shared';
import { cachedVariant, fixLeadingDim } from '../../fixtures/model-variants';

const samples = (n: number, per = 3): NpyArray => ({ dtype: 'float32', shape: [n, per], data: Float32Array.from({ length: n * per }, (_, i) => i) });
/** The clone a worker thread receives (postMessage's structured clone). */
function throughPort<T>(v: T): T {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(v);
  const m = receiveMessageOnPort(port2)!.message as T;
  port1.close(); port2.close();
  return m;
}

describe('feed layout travels with the array', () => {
  it('a fixed run size survives a spread copy, a structured clone and a sample slice', () => {
    const a = samples(10);
    markFixedRunSize(a, 4);
    for (const copy of [{ ...a }, throughPort(a), structuredClone(a)]) {
      const inputs = { x: copy };
      expect(fixedRunSize(inputs)).toBe(4);
      expect(sampleCount(inputs)).toBe(8);
      expect(runRanges(inputs, 8, 16)).toEqual([[0, 4], [4, 8]]);
      expect(() => feedsFor(inputs, 0, 3)).toThrow(/runs of exactly 4/);
    }
    expect(fixedRunSize({ x: sliceSamples(a, 2, 10) })).toBe(4);
  });

  it('a constant input (an RNN state tiled per run) survives a copy and a clone', () => {
    const x = samples(6), state: NpyArray = { dtype: 'float32', shape: [2, 1, 4], data: new Float32Array(8).fill(0.5) };
    markConstantInput(state, 1);
    for (const s of [{ ...state }, throughPort(state)]) {
      const inputs = { x, state: s };
      expect(isConstantInput(s)).toBe(true);
      expect(sampleCount(inputs)).toBe(6);
      expect(feedsFor(inputs, 0, 3).state!.dims).toEqual([2, 3, 4]);
    }
  });

  it('validating against another model replaces the layout a copy carried', async () => {
    const batch1 = await cachedVariant('fmnist-cnn-batch1.onnx', models.cnn, (m) => fixLeadingDim(m, 1));
    const image: NpyArray = { dtype: 'float32', shape: [5, 1, 28, 28], data: new Float32Array(5 * 784) };
    const fixed = { image: { ...image } };
    expect(validateInputs((await loadModel(batch1)).model, fixed, batch1).fixedRunSize).toBe(1);
    // The same samples, copied, for the model with a free batch axis: any run size again.
    const free = { image: { ...fixed.image } };
    expect(fixedRunSize(free)).toBe(1);
    expect(validateInputs((await loadModel(models.cnn)).model, free, models.cnn).fixedRunSize).toBeUndefined();
    expect(fixedRunSize(free)).toBeUndefined();
    expect(feedsFor(free, 0, 5).image!.dims).toEqual([5, 1, 28, 28]);
  });
});
