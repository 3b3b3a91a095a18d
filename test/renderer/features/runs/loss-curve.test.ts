import { describe, expect, it } from 'vitest';
import { addPoint, curveFromMetrics, pointFromProgress, smooth } from '../../../../renderer/src/features/runs/loss-curve';

describe('QAT loss curve', () => {
  it('takes points only from QAT progress events with a step and a finite loss', () => {
    expect(pointFromProgress('qat', { step: 3, loss: 0.5, lr: 1e-4 })).toEqual({ step: 3, loss: 0.5 });
    expect(pointFromProgress('qat', { step: 4, loss: 0.4, metric: 0.91 })).toEqual({ step: 4, loss: 0.4, metric: 0.91 });
    expect(pointFromProgress('calibrate', { step: 3, loss: 0.5 })).toBeNull();
    expect(pointFromProgress('qat', { step: 3 })).toBeNull();
    expect(pointFromProgress('qat', undefined)).toBeNull();
  });

  it('keeps one point per step in step order (a resumed run repeats steps)', () => {
    let c = addPoint([], { step: 1, loss: 1 });
    c = addPoint(c, { step: 2, loss: 0.8 });
    c = addPoint(c, { step: 3, loss: 0.6 });
    c = addPoint(c, { step: 2, loss: 0.7 });
    expect(c).toEqual([{ step: 1, loss: 1 }, { step: 2, loss: 0.7 }, { step: 3, loss: 0.6 }]);
  });

  it('rebuilds the series from a finished run\'s stored metrics', () => {
    const c = curveFromMetrics([
      { name: 'top1Fp32', value: 0.93, step: null },
      { name: 'qat.loss', value: 0.3, step: 1 }, { name: 'qat.loss', value: 0.2, step: 2 },
      { name: 'qat.metric', value: 0.9, step: 2 },
    ]);
    expect(c).toEqual([{ step: 1, loss: 0.3 }, { step: 2, loss: 0.2, metric: 0.9 }]);
    expect(smooth([{ step: 1, loss: 1 }, { step: 2, loss: 3 }, { step: 3, loss: 5 }], 2)).toEqual([1, 2, 4]);
  });
});
