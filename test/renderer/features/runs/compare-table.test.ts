import { describe, expect, it } from 'vitest';
import { buildCompare, compareCsv, compareJson, formatCell, recipeDiff, type CompareInput } from '../../../../renderer/src/features/runs/compare-table';
import { parseRunReport } from '../../../../renderer/src/features/runs/run-report';
import { etaMs, fmtDuration, stageLabel } from '../../../../renderer/src/features/runs/stage-names';
import { esc, runHtmlReport } from '../../../../renderer/src/features/runs/run-html-report';

const report = (top1: number, sqnr: number, size: number) => parseRunReport({
  quantized: [{ node: 'conv1', opType: 'Conv', weightDtype: 'int8', granularity: 'channel', activationDtype: 'uint8' }], skipped: [],
  layers: [{ tensor: 'a', node: 'conv1', opType: 'Conv', sqnrDb: sqnr, cosine: 0.999, mse: 1e-4 }, { tensor: 'b', node: 'gemm', opType: 'Gemm', sqnrDb: sqnr + 2, cosine: 0.999, mse: 1e-4 }],
  sizeBytes: { original: 4 * 2 ** 20, quantized: size }, timingsMs: { calibrateMs: 1200, gptqCaptureMs: 300 },
  metrics: { top1Fp32: 0.9333, top1Quantized: top1, calibrationSamples: 240 },
  outputAgreement: { sqnrDb: sqnr, cosine: 0.99, top1Agreement: 1 }, notices: [], device: { used: 'cpu', requested: 'auto' },
  activationRanges: [{ tensor: 'x', min: 0, max: 2, rangeMin: 0, rangeMax: 2, scale: 0.0078, zeroPoint: 0, histogram: { edges: [0, 1, 2], counts: [3, 1] } }],
});

describe('compare table', () => {
  const runs: CompareInput[] = [
    { id: 'a', label: '#2 percentile', report: report(0.92, 39.5, 2 ** 20), recipe: { weights: { dtype: 'int8' }, activations: { calibration: { method: 'percentile', percentile: 99.99 } } } },
    { id: 'b', label: '#1 minmax', report: report(0.93, 40, 2 ** 20), recipe: { weights: { dtype: 'int8' }, activations: { calibration: { method: 'minmax' } } }, evaluation: { fp32Ms: 1.9, quantMs: 0.6, speedup: 3.1, metric: { name: 'top-1 accuracy', fp32: 0.93, quant: 0.92 } } },
  ];
  it('puts FP32 in a baseline row and each paired metric in one column', () => {
    const t = buildCompare(runs);
    const headers = t.columns.map((c) => c.header);
    expect(new Set(headers).size).toBe(headers.length);
    expect(headers).toContain('Top-1 accuracy (%)');
    expect(headers.join()).not.toMatch(/accuracy, FP32|accuracy, quantized \(|Calibration samples/i);
    expect(t.rows.map((r) => r.label)).toEqual(['FP32 (original model)', '#2 percentile', '#1 minmax']);
    const top1 = t.columns.find((c) => c.header === 'Top-1 accuracy (%)')!;
    expect(t.rows.map((r) => formatCell(top1, r.values[top1.id]))).toEqual(['93.33', '92.00', '93.00']);
    const size = t.columns.find((c) => c.id === 'sizeMiB')!;
    expect(t.rows.map((r) => formatCell(size, r.values.sizeMiB))).toEqual(['4.00', '1.00', '1.00']);
    const lat = t.columns.find((c) => c.id === 'latencyMs')!;
    expect(t.rows.map((r) => formatCell(lat, r.values.latencyMs))).toEqual(['1.90', '—', '0.60']);
  });
  it('exports the same figures as CSV and JSON', () => {
    const t = buildCompare(runs);
    const csv = compareCsv(t).trim().split('\n');
    expect(csv).toHaveLength(4);
    expect(csv[0]!.startsWith('Run,Size (MiB),Top-1 accuracy (%)')).toBe(true);
    expect(csv[1]!.startsWith('FP32 (original model),4.00,93.33')).toBe(true);
    const json = JSON.parse(compareJson(t));
    expect(json[2]).toMatchObject({ run: '#1 minmax', baseline: false, 'Size (MiB)': 1, 'Top-1 accuracy (%)': 93, 'Latency, measured (ms)': 0.6 });
    expect(json[1]['Latency, measured (ms)']).toBeNull();
  });
  it('lists only the recipe fields that differ', () => {
    expect(recipeDiff(runs.map((r) => r.recipe))).toEqual([
      { field: 'activations.calibration.method', values: ['percentile', 'minmax'] },
      { field: 'activations.calibration.percentile', values: ['99.99', '—'] },
    ]);
    expect(recipeDiff([runs[0]!.recipe, runs[0]!.recipe])).toEqual([]);
  });
});

describe('stage names and times', () => {
  it('reads timing keys as words, acronyms kept', () => {
    expect(stageLabel('gptqCaptureMs')).toBe('GPTQ capture');
    expect(stageLabel('fp32BaselineMs')).toBe('FP32 baseline');
    expect(stageLabel('int8PrefillCheckMs')).toBe('INT8 prefill check');
    expect(stageLabel('calibrate')).toBe('Calibrate');
    expect(stageLabel('qat-train')).toBe('QAT train');
    expect(fmtDuration(12_345)).toBe('12 s');
    expect(fmtDuration(125_000)).toBe('2 min 05 s');
    expect(etaMs(10_000, 0.25)).toBe(30_000);
    expect(etaMs(10_000, 0.01)).toBeUndefined();
  });
});

describe('HTML report', () => {
  it('is one file with inline SVG plots and nothing external, every value escaped', () => {
    const html = runHtmlReport({
      title: '#1 <b>run</b>', projectName: 'P & Q', modelName: 'cnn', pipelineName: 'PTQ',
      run: { id: 'r1', status: 'succeeded', createdAt: '2026-01-01T00:00:00Z', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:12Z', params: { recipe: { weights: { dtype: 'int8' } } } },
      notes: { notes: 'n', tags: ['t'] }, report: report(0.92, 39.5, 2 ** 20)!, result: { activationRanges: [{ tensor: 'x', min: 0, max: 2, rangeMin: 0, rangeMax: 2, histogram: { counts: [3, 1] } }] },
      datasets: [{ name: 'images', facts: '300 × [1, 28, 28] float32' }], evaluation: null, generatedAt: 'now',
    });
    expect(html).toContain('<h1>#1 &lt;b&gt;run&lt;/b&gt;</h1>');
    expect(html).toContain('P &amp; Q');
    expect(html).toMatch(/default-src 'none'/);
    expect(html).not.toMatch(/<script|<link|src="http|@import|url\(/i);
    for (const id of ['summary', 'recipe', 'data', 'layers', 'ranges', 'nodes', 'stages']) expect(html).toContain(`<section id="${id}">`);
    expect(html.match(/<svg/g)!.length).toBe(2);
    expect(html).toContain('GPTQ capture');
    expect(esc(`"'`)).toBe('&quot;&#39;');
    // Sensitivity and mixed precision, when the run has them.
    const withAnalysis = runHtmlReport({
      title: 'r', projectName: 'p', run: { id: 'r', status: 'succeeded', createdAt: '2026-01-01T00:00:00Z', startedAt: null, finishedAt: null, params: {} },
      report: report(0.5, 9, 2 ** 20)!, datasets: [], evaluation: null, generatedAt: 'now',
      result: {
        warnings: [{ metric: 'sqnr', value: 9, threshold: 20, message: 'Output SQNR 9 dB is under 20 dB', culprits: [{ kind: 'weight', name: 'conv1.w', opType: 'Conv', onlyQuantizedSqnrDb: 11.5, onlyFloatSqnrDb: 31.2 }] }],
        mixedPrecision: { target: { metric: 'sqnr', min: 20 }, met: true, achieved: { description: '24.1 dB' }, start: { description: '9.0 dB' }, assignment: [{ kind: 'weight', name: 'conv1.w', opType: 'Conv', level: 'float' }], decisions: [{ step: 'raise', kind: 'weight', name: 'conv1.w', from: 'recipe', to: 'float', metricAfter: 24.1, met: true }] },
      },
    });
    expect(withAnalysis).toContain('<section id="sensitivity">');
    expect(withAnalysis).toMatch(/conv1\.w<\/code><\/td><td>weight<\/td><td>Conv<\/td><td>11\.5<\/td><td>31\.2/);
    expect(withAnalysis).toContain('<section id="mixed-precision">');
    expect(withAnalysis).toContain('Output SQNR 9 dB is under 20 dB');
  });
});
