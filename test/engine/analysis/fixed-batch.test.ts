// Sensitivity on a model whose batch axis is fixed (as tf2onnx and vision exporters write it): the
// variants score whole runs of the model's size against reference batches of the same size, also in
// worker threads, where the arrays arrive as copies without the fixed-size mark.
import { describe, it, expect } from 'vitest';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { prepareAnalysis } from '../../../engine/analysis/prepare';
import { sensitivityFromPrepared } from '../../../engine/analysis/sensitivity';
import { cachedVariant, fixLeadingDim } from '../../fixtures/model-variants';
import { models, sharedPath } from '../../helpers/shared';

describe('sensitivity on a fixed-batch model', () => {
  it('batches in runs of the fixed size and ranks every unit', async () => {
    const model = await cachedVariant('fmnist-cnn-batch1', models.cnn, (m) => fixLeadingDim(m, 1));
    const { images } = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 40);
    const recipe = parseRecipe({ calibration: { samples: 32, batchSize: 16 } });
    const p = await prepareAnalysis({ modelPath: model, recipe, inputs: { image: images } });
    expect(p.shared.batchSize).toBe(1); // the recipe asked for 16: the model takes 1
    const r = await sensitivityFromPrepared(p, { metric: 'sqnr', concurrency: 2 });
    expect(r.entries).toHaveLength(p.units.length);
    for (const e of r.entries) expect(Number.isFinite(e.onlyQuantized.sqnrDb)).toBe(true);
  }, 240_000);
});
