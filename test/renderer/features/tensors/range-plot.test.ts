import { describe, expect, it } from 'vitest';
import { gridPoints, histogramTraces } from '../../../../renderer/src/features/tensors/range-plot';
import { metricKeys, parseRunReport } from '../../../../renderer/src/features/runs/run-report';
import type { QuantChoice, TensorStats } from '../../../../contract/ipc';

const choice = (scheme: 'symmetric' | 'asymmetric', over: Partial<QuantChoice> = {}): QuantChoice => ({
  method: 'minmax', scheme, dtype: scheme === 'symmetric' ? 'int4' : 'uint4', rangeMin: -1, rangeMax: 1, gridMin: -1, gridMax: 1,
  scale: 1 / 7, zeroPoint: scheme === 'symmetric' ? 0 : 8, qmin: scheme === 'symmetric' ? -8 : 0, qmax: scheme === 'symmetric' ? 7 : 15,
  clippedFraction: 0, wastedCodes: 0, mse: 0, sqnrDb: 20, ...over,
});

describe('range plot', () => {
  it('puts one grid mark per integer code, at (q − zp)·scale', () => {
    const pts = gridPoints(choice('symmetric'));
    expect(pts.length).toBe(16);
    expect(pts[0]).toBeCloseTo(-8 / 7);
    expect(pts[8]).toBe(0);
    const asym = gridPoints(choice('asymmetric'));
    expect(asym[8]).toBe(0);
    expect(gridPoints({ ...choice('symmetric'), qmin: -128, qmax: 127 }, 64).length).toBe(64);
  });

  it('draws both schemes’ grids and every method’s range for a tensor', () => {
    const stats: TensorStats = {
      tensor: 'w', kind: 'weight', dtype: 'float32', shape: [2, 2], count: 4, min: -1, max: 1, mean: 0, std: 1,
      histogram: { lo: -1, hi: 1, counts: [1, 1, 1, 1] }, exact: true, perChannel: null, source: 'weight',
      choices: [choice('symmetric'), choice('asymmetric'), { ...choice('asymmetric'), method: 'percentile', rangeMin: -0.9, rangeMax: 0.9 }],
    };
    const { data, layout } = histogramTraces(stats, 'minmax', true);
    const names = data.map((d) => (d as { name: string }).name);
    expect(names).toContain('symmetric int4 grid (16 codes)');
    expect(names).toContain('asymmetric uint4 grid (16 codes)');
    expect(names).toContain('percentile range');
    expect((layout.yaxis as { type: string }).type).toBe('log');
  });
});

describe('run report metrics', () => {
  it('orders accuracy first and drops bookkeeping counts', () => {
    const a = parseRunReport({ metrics: { calibrationSamples: 256, top1: 0.93, latencyMs: 1.2 } });
    const b = parseRunReport({ metrics: { perplexity: 4.1 } });
    expect(metricKeys([a, b, null])).toEqual(['top1', 'perplexity', 'latencyMs']);
  });
});
