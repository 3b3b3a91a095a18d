// Acceptance on the shared CNN: the default recipe with 512 calibration images keeps top-1
// >= 93.01 % on the full 10k test set; the report names what was quantized and the per-layer error.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { createSession } from '../../../engine/runtime/session';
import { top1Accuracy } from '../../../engine/eval/task-metrics';
import { models, sharedPath } from '../../helpers/shared';

describe('quantizeModel on fmnist-cnn', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qcnn-'));
  // 640 images: the pipeline holds out the last 20 % (128) to evaluate on, so 512 calibrate, as before.
  const train = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 640);
  const test = loadFashionMnist(sharedPath('data', 'fmnist'), 'test');

  it('default recipe: top-1 >= 93.01 % on the 10k test set, report filled in', async () => {
    const out = join(dir, 'cnn-int8.onnx');
    const stages = new Set<string>();
    const report = await quantizeModel({ modelPath: models.cnn, outputPath: out, recipe: parseRecipe({}), inputs: { image: train.images }, ctx: { onProgress: (e) => stages.add(e.stage) } });
    expect(existsSync(out)).toBe(true);
    expect(report.quantized.map((q) => q.opType).sort()).toEqual(['Conv', 'Conv', 'Conv', 'Conv', 'Conv', 'Gemm']);
    expect(report.layers.length).toBe(6);
    for (const l of report.layers) expect(l.sqnrDb).toBeGreaterThan(20);
    expect(report.outputAgreement!.top1Agreement).toBeGreaterThan(0.95);
    expect(report.sizeBytes.quantized).toBeLessThan(report.sizeBytes.original / 3);
    expect(report.metrics?.calibrationSamples).toBe(512);
    expect(report.evaluation).toMatchObject({ source: 'held-out', samples: 128 });
    // Every calibrated activation comes with its range and a histogram holding all its values.
    const image = report.activationRanges!.find((r) => r.tensor === 'image')!;
    expect(image.min).toBeCloseTo(-0.286 / 0.353, 4);
    expect(image.histogram.counts.reduce((a, b) => a + b, 0)).toBe(512 * 784);
    expect(image.scale).toBeCloseTo((image.max - image.min) / 255, 5);
    expect([...stages]).toEqual(expect.arrayContaining(['load', 'calibrate', 'export', 'evaluate']));
    const s = await createSession(out, { device: 'cpu' });
    const acc = await top1Accuracy(s, { image: test.images }, test.labels);
    await s.release();
    expect(acc).toBeGreaterThanOrEqual(0.9301);
  });

  it('weight-only needs no data: int8 weights behind DequantizeLinear, no activation Q/DQ', async () => {
    const out = join(dir, 'cnn-w8.onnx');
    const report = await quantizeModel({ modelPath: models.cnn, outputPath: out, recipe: parseRecipe({ activations: null }), inputs: {} });
    expect(report.quantized.length).toBe(6);
    expect(report.layers).toEqual([]);
    const s = await createSession(out, { device: 'cpu' });
    const acc = await top1Accuracy(s, { image: test.images }, test.labels, { batchSize: 1000 });
    await s.release();
    expect(acc).toBeGreaterThan(0.925);
  });

  it('fails on data of the wrong shape before writing anything', async () => {
    const out = join(dir, 'bad.onnx');
    const bad = { dtype: 'float32' as const, shape: [4, 1, 14, 14], data: new Float32Array(4 * 196) };
    await expect(quantizeModel({ modelPath: models.cnn, outputPath: out, recipe: parseRecipe({}), inputs: { image: bad } })).rejects.toMatchObject({ code: 'BAD_DATA', message: expect.stringMatching(/axis 2 must be 28/) });
    expect(existsSync(out)).toBe(false);
  });

  it('cancels between batches', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(quantizeModel({ modelPath: models.cnn, outputPath: join(dir, 'c.onnx'), recipe: parseRecipe({}), inputs: { image: train.images }, ctx: { signal: ac.signal } })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(existsSync(join(dir, 'c.onnx'))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
