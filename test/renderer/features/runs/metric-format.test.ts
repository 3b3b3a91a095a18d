import { describe, expect, it } from 'vitest';
import { evalMetricKey, formatMetric, humanizeKey, metricDef, metricHeader } from '../../../../renderer/src/features/runs/metric-format';
import { metricKeys, parseRunReport } from '../../../../renderer/src/features/runs/run-report';

describe('metric labels and units', () => {
  it('names the engine\'s report metrics with units: accuracies as percent', () => {
    expect(metricHeader('top1Fp32')).toBe('Top-1 accuracy, FP32 (%)');
    expect(metricHeader('top1Quantized')).toBe('Top-1 accuracy, quantized (%)');
    expect(formatMetric('top1Fp32', 0.93)).toBe('93.00 %');
    expect(formatMetric('top1Quantized', 0.9266666, { withUnit: false })).toBe('92.67');
    expect(formatMetric('calibrationSamples', 256)).toBe('256');
    expect(formatMetric('qatTrainMs', 9720)).toBe('9.7 s');
    expect(formatMetric('qatFinalLoss', 0.05851234)).toBe('0.0585');
    expect(formatMetric('speedup', 2.3456)).toBe('2.35×');
    expect(formatMetric('top1Fp32', NaN)).toBe('—');
  });

  it('gives every metric key of a real report a label that is not the raw key', () => {
    const rep = parseRunReport({ metrics: { top1Fp32: 0.93, top1Quantized: 0.926, calibrationSamples: 256, qatSteps: 20, qatFirstLoss: 0.3, qatFinalLoss: 0.05, qatTrainMs: 9000, qatResumedFrom: 0 } });
    for (const k of Object.keys(rep!.metrics)) expect(metricDef(k).label).not.toBe(k);
    expect(metricKeys([rep]).slice(0, 2)).toEqual(['top1Fp32', 'top1Quantized']);
  });

  it('guesses a label and unit for keys it does not know', () => {
    expect(humanizeKey('perLayerMaxError')).toBe('Per layer max error');
    expect(metricDef('latencyInt8Ms').unit).toBe('ms');
    expect(formatMetric('latencyInt8Ms', 1.234)).toBe('1.23 ms');
    expect(metricDef('someAccuracy').unit).toBe('percent');
    expect(formatMetric('someAccuracy', 92.5)).toBe('92.50 %');
    expect(evalMetricKey('top-1 accuracy')).toBe('top1Measured');
    expect(evalMetricKey('perplexity')).toBe('perplexityMeasured');
  });
});
