// The quantize summary: which data, undefined metrics in words, cumulative per-layer error, mixed activations.
import { describe, it, expect } from 'vitest';
import { formatSummary } from '../../../engine/cli/summary';
import { quote } from '../../../engine/errors';
import type { QuantizeReport } from '../../../contract/report';
import { DEFAULT_RECIPE } from '../../../contract/recipe';

const base: QuantizeReport = {
  modelPath: 'm.onnx', outputPath: 'o.onnx', recipe: DEFAULT_RECIPE, skipped: [], timingsMs: { total: 1000 }, sizeBytes: { original: 4 << 20, quantized: 1 << 20 },
  notices: [], device: { requested: 'auto', used: 'cpu' },
  quantized: [
    { node: 'a', opType: 'Conv', weightDtype: 'int8', granularity: 'channel' },
    { node: 'b', opType: 'Conv', weightDtype: 'int8', granularity: 'channel', activationDtype: 'uint8' },
    { node: 'c', opType: 'Gemm', weightDtype: 'int8', granularity: 'channel', activationDtype: 'uint8' },
  ],
  layers: [{ tensor: 't', node: 'a', opType: 'Conv', sqnrDb: NaN, cosine: NaN, mse: NaN, undefinedReason: 'non-finite values' }, { tensor: 'u', node: 'b', opType: 'Conv', sqnrDb: 31.25, cosine: 0.999, mse: 0.1 }],
  evaluation: { source: 'held-out', samples: 26, available: 26, calibrationSamples: 102, description: '26 held-out samples of --data (its last 20 %; the other 102 are left for calibration)' },
  layerErrorKind: 'cumulative',
};

describe('formatSummary', () => {
  it('names the evaluation data, says "undefined (reason)" instead of a number, labels per-layer error cumulative', () => {
    const text = formatSummary({ ...base, outputAgreement: { sqnrDb: NaN, cosine: NaN, undefinedReason: 'non-finite values', top1AgreementUndefined: 'the output [26, 1, 28, 28] is not class scores' } });
    expect(text).toContain('Output vs FP32 on 26 held-out samples of --data (its last 20 %; the other 102 are left for calibration): SQNR undefined (non-finite values), top-1 agreement undefined (the output [26, 1, 28, 28] is not class scores).');
    expect(text).not.toMatch(/exact|cosine 0\.0/);
    expect(text).toMatch(/Per-layer error, cumulative/);
    expect(text).toMatch(/a\s+Conv\s+SQNR undefined \(non-finite values\)/);
    expect(text).toMatch(/b\s+Conv\s+SQNR\s+31\.3 dB/);
    expect(text).toContain('activations float on 1, uint8 on 2');
  });

  it('identical outputs are "exact"; an all-weight-only run says so', () => {
    const text = formatSummary({ ...base, quantized: [{ node: 'a', opType: 'MatMul', weightDtype: 'int4', granularity: 'group 32' }], outputAgreement: { sqnrDb: Infinity, cosine: 1, top1Agreement: 1 } });
    expect(text).toContain('SQNR exact, cosine 1.00000, top-1 agreement 100.00 %');
    expect(text).toContain('activations float (weight-only)');
  });

  it('a model with several outputs names the one its SQNR is from (the worst)', () => {
    const text = formatSummary({ ...base, outputAgreement: { sqnrDb: 9.5, cosine: 0.9, worstOutput: 'Identity_1:0' } });
    expect(text).toContain(`SQNR 9.5 dB, cosine 0.90000 (worst of the outputs: ${quote('Identity_1:0')})`);
    expect(formatSummary({ ...base, outputAgreement: { sqnrDb: 9.5, cosine: 0.9 } })).not.toContain('worst of the outputs');
  });
});
