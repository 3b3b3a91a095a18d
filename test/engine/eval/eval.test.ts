import { describe, it, expect } from 'vitest';
import { loadModel } from '../../../engine/onnx/model-io';
import { createSession } from '../../../engine/runtime/session';
import { perplexity, top1Accuracy } from '../../../engine/eval/task-metrics';
import { compareModels } from '../../../engine/eval/layer-error';
import { measureLatency } from '../../../engine/eval/latency';
import { compareTensors, argmaxRows } from '../../../engine/eval/agreement';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { readTextWindows } from '../../../engine/data/text-windows';
import { models, sharedPath } from '../../helpers/shared';

describe('evaluation', () => {
  it('agreement metrics and argmax', () => {
    const a = Float32Array.of(1, -2, 3, 4);
    expect(compareTensors(a, a)).toMatchObject({ sqnrDb: Infinity, cosine: 1, mse: 0 });
    const b = Float32Array.of(1.1, -2, 3, 4);
    expect(compareTensors(a, b).sqnrDb).toBeCloseTo(10 * Math.log10(30 / 0.01), 3);
    expect([...argmaxRows(Float32Array.of(0, 5, 1, 9, 2, 3), 3)]).toEqual([1, 0]);
  });

  it('top-1 of the shared CNN on 1000 test images, and an FP32 model agrees with itself', async () => {
    const { images, labels } = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 1000);
    const s = await createSession(models.cnn, { device: 'cpu' });
    const acc = await top1Accuracy(s, { image: images }, labels);
    await s.release();
    expect(acc).toBeGreaterThan(0.9);
    expect(acc).toBeLessThan(0.97);
    const { model } = await loadModel(models.cnn);
    const cmp = await compareModels(model, model, [{ tensor: '/4/4.2/Relu_output_0', quantizedTensor: '/4/4.2/Relu_output_0' }], { image: images }, { samples: 32 });
    expect(cmp.layers[0]!.sqnrDb).toBe(Infinity);
    expect(cmp.outputAgreement.top1Agreement).toBe(1);
  });

  it('byte-LM perplexity is near the published FP32 figure on the first windows of val.txt', async () => {
    const ids = readTextWindows(sharedPath('data', 'text', 'val.txt'), 8, 256);
    const s = await createSession(models.gpt, { device: 'cpu' });
    const ppl = await perplexity(s, ids, { batchSize: 4 });
    await s.release();
    expect(ppl).toBeGreaterThan(3);
    expect(ppl).toBeLessThan(5.5);
  });

  it('latency: median and CPU time per run, one thread', async () => {
    const { images } = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 64);
    const l = await measureLatency(models.cnn, { image: images }, { batch: 64, threads: 1, runs: 5, warmup: 1 });
    expect(l.batch).toBe(64);
    expect(l.medianMs).toBeGreaterThan(0);
    expect(l.cpuMs).toBeGreaterThan(0);
    expect(l.minMs).toBeLessThanOrEqual(l.medianMs);
  });
});
