// QAT is never scored on the samples it trained on: without --eval-data the pipeline holds out the last
// 20 % of the data before any stage sees it. The held-out labels here are deliberately wrong, so a score
// measured on the held-out part is near chance while one on the training part would be ~90 %.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { models, sharedPath } from '../../helpers/shared';

describe('QAT scoring', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qat-score-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('trains on the first 80 % and reports top-1 on the held-out 20 % only', async () => {
    const { images, labels } = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 100);
    const l = labels.data as BigInt64Array;
    for (let i = 80; i < 100; i++) l[i] = (l[i]! + 1n + BigInt(i % 8)) % 10n; // wrong on purpose, held out
    const recipe = parseRecipe({ algorithms: [{ name: 'qat', steps: 4, lr: 1e-4, batchSize: 16 }], calibration: { samples: 80, batchSize: 16 } });
    const r = await quantizeModel({ modelPath: models.cnn, outputPath: join(dir, 'qat.onnx'), recipe, inputs: { image: images }, labels });
    expect(r.evaluation).toMatchObject({ source: 'held-out', samples: 20, calibrationSamples: 80 });
    expect(r.metrics!.qatSteps).toBe(4);
    // On the held-out (mislabelled) samples both models score near chance; on training samples it would be ~0.9.
    expect(r.metrics!.top1Fp32).toBeLessThan(0.3);
    expect(r.metrics!.top1Quantized).toBeLessThan(0.3);
    expect(r.outputAgreement!.samples).toBe(20);
  }, 300_000);
});
