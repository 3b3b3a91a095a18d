// The Runs view's reading of report.evaluation, report.warnings and report.mixedPrecision: what it
// shows for a report that has them, and that a partial or malformed one shows nothing rather than crash.
import { describe, expect, it } from 'vitest';
import { parseRunReport } from '../../../../renderer/src/features/runs/run-report';

const base = { quantized: [], skipped: [], layers: [], timingsMs: {}, notices: [], device: { requested: 'cpu', used: 'cpu' } };

describe('run report: evaluation, warnings, mixed precision', () => {
  it('reads which data the figures were measured on', () => {
    const r = parseRunReport({ ...base, evaluation: { source: 'held-out', samples: 102, available: 102, calibrationSamples: 410, description: '102 held-out samples of --data (its last 20 %; the other 410 are left for calibration)' } })!;
    expect(r.evaluation).toEqual({ source: 'held-out', samples: 102, description: '102 held-out samples of --data (its last 20 %; the other 410 are left for calibration)' });
    expect(parseRunReport({ ...base })!.evaluation).toBeNull();
    expect(parseRunReport({ ...base, evaluation: { samples: 3 } })!.evaluation).toBeNull();
  });

  it('reads warnings with the units they name, and drops entries without a message', () => {
    const r = parseRunReport({
      ...base,
      warnings: [
        { metric: 'sqnr', value: 0.9, threshold: 20, message: 'Output SQNR 0.9 dB on 64 samples of --eval-data is below 20 dB. Most responsible: spectrum, energy.', culprits: [{ kind: 'activation', name: 'spectrum', onlyQuantizedSqnrDb: 1, onlyFloatSqnrDb: 30 }, { kind: 'activation', name: 'energy', onlyQuantizedSqnrDb: 5, onlyFloatSqnrDb: 12 }] },
        { metric: 'sqnr', culprits: [] },
        'not a warning',
      ],
    })!;
    expect(r.warnings).toEqual([{ metric: 'sqnr', message: 'Output SQNR 0.9 dB on 64 samples of --eval-data is below 20 dB. Most responsible: spectrum, energy.', culprits: ['spectrum', 'energy'] }]);
  });

  it('reads a target run: outcome, the written model, units off the recipe precision, every decision', () => {
    const r = parseRunReport({
      ...base,
      mixedPrecision: {
        target: { metric: 'sqnr', min: 30 }, met: true,
        achieved: { sqnrDb: 37.3, metric: 37.3, description: 'output SQNR 37.3 dB' }, start: { metric: 0.9, description: 'output SQNR 0.9 dB' },
        assignment: [
          { kind: 'weight', name: '/conv1/Conv', level: 'recipe', precision: 'int8' },
          { kind: 'weight', name: '/fc/Gemm', level: 'float', precision: 'float (not quantized)' },
          { kind: 'activation', name: 'spectrum', level: 'float', precision: 'float' },
          { kind: 'activation', name: 'relu1', level: 'quantized', precision: 'uint8' },
        ],
        decisions: [
          { step: 'raise', kind: 'activation', name: 'spectrum', from: 'quantized', to: 'float', fromPrecision: 'uint8', toPrecision: 'float', metricAfter: 28.1, met: false },
          { step: 'raise', kind: 'weight', name: '/fc/Gemm', from: 'recipe', to: 'float', metricAfter: 37.3, met: true, measuredOn: 'export' },
        ],
        final: { metric: 37.2, met: true, description: 'output SQNR 37.2 dB' },
      },
    })!;
    const mp = r.mixedPrecision!;
    expect(mp.target).toBe('output SQNR ≥ 30 dB');
    expect(mp).toMatchObject({ met: true, achieved: 'output SQNR 37.3 dB', start: 'output SQNR 0.9 dB', final: { met: true, description: 'output SQNR 37.2 dB' }, quantizedWeights: 1, weights: 2 });
    expect(mp.raised).toEqual([{ name: '/fc/Gemm', kind: 'weight', precision: 'float (not quantized)' }, { name: 'spectrum', kind: 'activation', precision: 'float' }]);
    expect(mp.decisions).toEqual([
      { step: 'raise', name: 'spectrum', kind: 'activation', from: 'uint8', to: 'float', metricAfter: 28.1, met: false, measuredOn: 'variant' },
      { step: 'raise', name: '/fc/Gemm', kind: 'weight', from: 'recipe', to: 'float', metricAfter: 37.3, met: true, measuredOn: 'export' },
    ]);
    expect(parseRunReport({ ...base, mixedPrecision: { target: { metric: 'top1', maxDrop: 0.005 }, met: false } })!.mixedPrecision).toMatchObject({ target: 'top-1 drop ≤ 0.50 points', met: false, decisions: [], raised: [], final: null });
    expect(parseRunReport({ ...base, mixedPrecision: { met: 'yes' } })!.mixedPrecision).toBeNull();
  });
});
