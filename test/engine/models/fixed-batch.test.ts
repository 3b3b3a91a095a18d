// Models whose exporter fixed the batch (tf2onnx writes [1, …]; some vision exporters a fixed k):
// samples [N, …] are fed in runs of exactly k through calibration, evaluation, GPTQ capture and
// top-1, a [N, k, …] array is accepted too, a remainder is reported, and a wrong shape gets one message.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { validateInputs } from '../../../engine/pipeline/validate-inputs';
import { loadModel } from '../../../engine/onnx/model-io';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { createSession } from '../../../engine/runtime/session';
import { feedsFor, sampleCount, runRanges } from '../../../engine/runtime/batching';
import { calibrationBatches } from '../../../engine/quant/algorithms/weight-only';
import { top1Accuracy } from '../../../engine/eval/task-metrics';
import { models, sharedPath } from '../../helpers/shared';
import { cachedVariant, fixLeadingDim } from '../../fixtures/model-variants';

const dir = mkdtempSync(join(tmpdir(), 'qs-fixed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let batch1: string, batch4: string;
const train = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 64);
const test = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 500);

beforeAll(async () => {
  batch1 = await cachedVariant('fmnist-cnn-batch1.onnx', models.cnn, (m) => fixLeadingDim(m, 1));
  batch4 = await cachedVariant('fmnist-cnn-batch4.onnx', models.cnn, (m) => fixLeadingDim(m, 4));
});

describe('fixed leading dimension', () => {
  it('the fixture really is fixed: onnxruntime refuses a batch of 2', async () => {
    const s = await createSession(batch1, { device: 'cpu' });
    const { image } = { image: { ...train.images, shape: [2, 1, 28, 28], data: train.images.data.subarray(0, 2 * 784) } };
    await expect(s.run(feedsFor({ image }, 0, 2))).rejects.toMatchObject({ code: 'RUNTIME_ERROR' });
    await s.release();
  });

  it('batch 1: [N,1,28,28] samples calibrate one per run; the quantized model keeps top-1', async () => {
    const out = join(dir, 'b1-int8.onnx');
    const report = await quantizeModel({ modelPath: batch1, outputPath: out, recipe: parseRecipe({}), inputs: { image: { ...train.images } } });
    // (The pipeline may hold some samples back for evaluation: at least half calibrate.)
    expect(report.metrics?.calibrationSamples).toBeGreaterThanOrEqual(32);
    expect(report.quantized.length).toBe(6);
    expect(report.layers.length).toBe(6);
    expect(report.outputAgreement!.top1Agreement).toBeGreaterThan(0.9);
    // Top-1 of the output on held-out images, fed one per run after validation marks the input.
    const inputs = { image: { ...test.images } };
    validateInputs((await loadModel(out)).model, inputs, out);
    const s = await createSession(out, { device: 'cpu' });
    const acc = await top1Accuracy(s, inputs, test.labels);
    await s.release();
    expect(acc).toBeGreaterThan(0.85);
  });

  it('batch 1: a 5-D [N,1,1,28,28] array is the same samples', async () => {
    const five = { ...train.images, shape: [64, 1, 1, 28, 28] };
    const inputs = { image: five };
    const v = validateInputs((await loadModel(batch1)).model, inputs, batch1);
    expect(v.fixedRunSize).toBe(1);
    expect(inputs.image.shape).toEqual([64, 1, 28, 28]);
    expect(sampleCount(inputs)).toBe(64);
    const report = await quantizeModel({ modelPath: batch1, outputPath: join(dir, 'b1-5d.onnx'), recipe: parseRecipe({}), inputs: { image: { ...train.images, shape: [64, 1, 1, 28, 28] } } });
    expect(report.metrics?.calibrationSamples).toBeGreaterThanOrEqual(32);
  });

  it('batch 4: runs of exactly 4, the remainder left out and reported', async () => {
    const n = 30;
    const image = { ...train.images, shape: [n, 1, 28, 28], data: train.images.data.subarray(0, n * 784) };
    const inputs = { image };
    const v = validateInputs((await loadModel(batch4)).model, inputs, batch4);
    expect(v.fixedRunSize).toBe(4);
    expect(v.notices.join(' ')).toMatch(/last 2 of 30 sample/);
    expect(sampleCount(inputs)).toBe(28);
    expect(runRanges(inputs, 28, 16).every(([a, b]) => b - a === 4)).toBe(true);
    expect(calibrationBatches(inputs, 16).map((f) => f.image!.dims[0])).toEqual(Array(7).fill(4));
    expect(() => feedsFor(inputs, 0, 3)).toThrow(/runs of exactly 4/);
    const report = await quantizeModel({ modelPath: batch4, outputPath: join(dir, 'b4.onnx'), recipe: parseRecipe({}), inputs: { image: { ...image } } });
    expect(report.metrics!.calibrationSamples! % 4).toBe(0);
    expect(report.metrics!.calibrationSamples).toBeGreaterThanOrEqual(12);
    expect(report.notices.join(' ')).toMatch(/last 2 of 30/);
    expect(report.layers.length).toBe(6);
  });

  it('batch 4: GPTQ weight-only captures its activations in runs of 4', async () => {
    const image = { ...train.images, shape: [32, 1, 28, 28], data: train.images.data.subarray(0, 32 * 784) };
    const report = await quantizeModel({ modelPath: batch4, outputPath: join(dir, 'b4-gptq.onnx'), recipe: parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, algorithms: [{ name: 'gptq' }], opTypes: ['Gemm', 'MatMul'], format: 'matmulnbits' }), inputs: { image } });
    expect(report.quantized.length).toBeGreaterThan(0);
  });

  it('batch 4: QAT trains, calibrates and evaluates in runs of 4', async () => {
    const image = { ...train.images, shape: [32, 1, 28, 28], data: train.images.data.subarray(0, 32 * 784) };
    const labels = { ...train.labels, shape: [32], data: train.labels.data.subarray(0, 32) };
    const recipe = parseRecipe({ calibration: { samples: 16, batchSize: 8 }, algorithms: [{ name: 'qat', steps: 2 }] });
    const report = await quantizeModel({ modelPath: batch4, outputPath: join(dir, 'b4-qat.onnx'), recipe, inputs: { image }, labels });
    expect(report.metrics?.qatSteps).toBe(2);
    expect(report.quantized.length).toBe(6);
  });

  it('a wrong shape gets one message naming the fixed axis and the accepted layouts', async () => {
    const out = join(dir, 'bad.onnx');
    const bad = { dtype: 'float32' as const, shape: [4, 28, 28], data: new Float32Array(4 * 784) };
    const err = await quantizeModel({ modelPath: batch1, outputPath: out, recipe: parseRecipe({}), inputs: { image: bad } }).catch((e) => e);
    expect(err).toMatchObject({ code: 'BAD_DATA' });
    expect(err.message).toMatch(/first axis is fixed to 1/);
    expect(err.message).toContain('[N, 1, 28, 28]');
    expect(err.message).not.toMatch(/no samples/);
    expect(existsSync(out)).toBe(false);
  });
});
