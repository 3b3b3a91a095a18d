import { describe, it, expect } from 'vitest';
import { loadModel } from '../../../../engine/onnx/model-io';
import { runCalibration } from '../../../../engine/quant/calibration/run-calibration';
import { MinMaxHistogramCollector, percentileRange } from '../../../../engine/quant/calibration/collectors';
import { loadFashionMnist } from '../../../../engine/data/fashion-mnist';
import { addGraphOutputs } from '../../../../engine/quant/calibration/augment';
import { serializeModel } from '../../../../engine/onnx/model-io';
import { createSession } from '../../../../engine/runtime/session';
import { feedsFor } from '../../../../engine/runtime/batching';
import { models, sharedPath } from '../../../helpers/shared';

const tensors = ['/0/0.2/Relu_output_0', '/4/4.0/Conv_output_0', '/8/Flatten_output_0'];

describe('calibration runner', () => {
  it('streams batches into collectors and matches min/max of one whole-set run', async () => {
    const { model } = await loadModel(models.cnn);
    const { images } = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 96);
    const a = await runCalibration(model, tensors, { image: images }, { samples: 96, batchSize: 7 });
    const b = await runCalibration(model, tensors, { image: images }, { samples: 96, batchSize: 96, memoryBudget: 1 });
    const s = await createSession(serializeModel(addGraphOutputs(model, tensors)), { device: 'cpu' });
    const whole = await s.run(feedsFor({ image: images }, 0, 96), tensors);
    for (const t of tensors) {
      const v = whole[t]!.data as Float32Array;
      let lo = Infinity, hi = -Infinity;
      for (const x of v) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
      for (const r of [a, b]) {
        const st = r.stats.get(t)!;
        expect(st.min).toBe(lo);
        expect(st.max).toBe(hi);
        expect(st.count).toBe(v.length);
        expect(st.histogram.counts.reduce((x, y) => x + y, 0)).toBe(v.length);
      }
    }
    expect(a.stats.get('/0/0.2/Relu_output_0')!.min).toBe(0); // after a Relu
    expect(b.batchSize).toBe(1); // the memory budget shrank the batches
    await s.release();
  });

  it('histogram widens without losing counts; percentile clips the tails', () => {
    const c = new MinMaxHistogramCollector(256);
    const v = Float32Array.from({ length: 10000 }, (_, i) => (i % 100) / 100);
    c.update(v);
    c.update(Float32Array.of(50, -3));
    expect(c.count()).toBe(10002);
    expect(c.range()).toEqual({ min: -3, max: 50 });
    const h = c.histogram();
    expect(h.counts.reduce((x, y) => x + y, 0)).toBe(10002);
    const r = percentileRange(h, 99.9, -3, 50);
    expect(r.max).toBeLessThan(2);
    expect(r.min).toBeLessThanOrEqual(0);
  });
});
