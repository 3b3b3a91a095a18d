// QAT through quantizeModel (the CLI's path): one calibration pass (QAT's own, not the pipeline's as
// well), progress that only moves forward across stages, and the same trained model and losses as
// calling prepareQat/trainQat/exportQat directly.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { loadModel, serializeModel } from '../../../engine/onnx/model-io';
import { prepareQat, trainQat, exportQatDetailed } from '../../../engine/qat';
import type { ProgressEvent } from '../../../engine/util/work-context';
import { sliceSamples } from '../../../engine/runtime/batching';
import { models, sharedPath } from '../../helpers/shared';

describe('quantizeModel with QAT on fmnist-cnn', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qqat-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const train = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 256);
  const recipe = parseRecipe({
    weights: { dtype: 'int3', scheme: 'symmetric', granularity: 'channel' },
    activations: { dtype: 'uint4', scheme: 'asymmetric', calibration: { method: 'mse' } },
    calibration: { samples: 128, batchSize: 32 },
    algorithms: [{ name: 'qat', steps: 4 }],
  });

  it('calibrates once, reports progress in order, and trains what prepareQat/trainQat train', async () => {
    const out = join(dir, 'cnn-qat.onnx');
    const events: ProgressEvent[] = [];
    const report = await quantizeModel({ modelPath: models.cnn, outputPath: out, recipe, inputs: { image: train.images }, labels: train.labels, ctx: { onProgress: (e) => events.push(e) } });

    const calibrationStarts = events.filter((e) => e.stage === 'calibrate' && /^calibration 1\//.test(e.message ?? ''));
    expect(calibrationStarts.length).toBe(1);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.fraction, `${events[i - 1]!.stage} ${events[i - 1]!.fraction} -> ${events[i]!.stage} ${events[i]!.fraction}`).toBeGreaterThanOrEqual(events[i - 1]!.fraction);
    }
    expect(events.map((e) => e.stage).filter((s, i, a) => s !== a[i - 1] && s !== 'diagnose')).toEqual(['load', 'plan', 'calibrate', 'qat', 'export', 'evaluate', 'done']);
    expect(report.timingsMs.calibrate).toBeUndefined(); // no pipeline calibration pass

    // QAT's calibration is the one reported.
    expect(report.metrics?.calibrationSamples).toBe(128);
    expect(report.activationRanges!.map((r) => r.tensor)).toContain('image');
    expect(report.metrics?.qatSteps).toBe(4);

    // The same run without the pipeline, on the samples the pipeline trained on: it holds the last
    // 20 % out for evaluation, so QAT never sees them.
    const kept = report.evaluation!.calibrationSamples!;
    expect(report.evaluation).toMatchObject({ source: 'held-out', samples: 256 - kept });
    const images = sliceSamples(train.images, 0, kept), labels = sliceSamples(train.labels, 0, kept);
    const { model, baseDir } = await loadModel(models.cnn);
    const setup = await prepareQat(model, { baseDir, recipe, calibration: { image: images }, device: recipe.device });
    expect(report.activationRanges!.map((r) => [r.tensor, r.rangeMin, r.rangeMax])).toEqual([...setup.calibration!.stats].map(([t, s]) => [t, s.rangeMin, s.rangeMax]));
    const spec = recipe.algorithms[0] as Extract<(typeof recipe.algorithms)[number], { name: 'qat' }>;
    const result = await trainQat(setup, { inputs: { image: images }, labels }, {
      steps: spec.steps, lr: spec.lr, batchSize: spec.batchSize, learnScales: spec.learnScales, trainSamples: spec.trainSamples, evalEvery: spec.evalEvery,
      checkpointEvery: 50, checkpointPath: join(dir, 'direct.qat-checkpoint'), device: recipe.device,
    });
    expect(report.metrics?.qatFirstLoss).toBe(result.history[0]!.loss);
    expect(Buffer.from(readFileSync(out)).equals(Buffer.from(serializeModel(exportQatDetailed(setup).model)))).toBe(true);
  });
});
