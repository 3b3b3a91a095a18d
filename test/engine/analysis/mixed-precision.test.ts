// Quality warnings and automatic mixed precision on a model the default recipe wrecks: a front-end
// whose input is a power spectrum spanning 1 ... 8e11 (test/engine/analysis/spectral-model.ts).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { loadModel } from '../../../engine/onnx/model-io';
import { formatSummary } from '../../../engine/cli/summary';
import { crossedThresholds, WARN_SQNR_DB } from '../../../engine/analysis/warnings';
import { parseTarget, meetsTarget, metricValue } from '../../../engine/analysis/target';
import { writeSpectralModel, spectra } from './spectral-model';

describe('warnings and mixed precision', () => {
  let dir = '', model = '';
  const cal = { spectrum: spectra(120, 1) }, ev = { spectrum: spectra(48, 2) };
  beforeAll(async () => { dir = mkdtempSync(join(tmpdir(), 'qmp-')); model = join(dir, 'spectral.onnx'); await writeSpectralModel(model); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the default recipe wrecks it: a warning in the report and the summary names the input spectrum and the energy tensor', async () => {
    // Without the wreck guard (on by default, it would search the model again: test/engine/pipeline/quantize-guard.test.ts).
    const r = await quantizeModel({ modelPath: model, outputPath: join(dir, 'default.onnx'), recipe: parseRecipe({ calibration: { samples: 96, batchSize: 32 }, guard: false }), inputs: cal, evalInputs: ev });
    expect(r.outputAgreement!.sqnrDb).toBeLessThan(WARN_SQNR_DB);
    expect(r.warnings).toHaveLength(1);
    const w = r.warnings![0]!;
    expect(w.metric).toBe('sqnr');
    expect(w.culprits.slice(0, 2).map((c) => c.name).sort()).toEqual(['energy', 'spectrum']);
    expect(w.message).toMatch(/on 48 samples of --eval-data is below 20 dB/);
    expect(formatSummary(r)).toMatch(/WARNING: output SQNR .* Most responsible \(quick pass on 48 of those samples\): activation (energy|spectrum)/);
  }, 120_000);

  it('"target": {"metric":"sqnr","min":30} meets the target on the evaluation data and still quantizes the Conv/Gemm weights after the Log', async () => {
    const out = join(dir, 'target.onnx');
    const recipe = parseRecipe({ calibration: { samples: 96, batchSize: 32 }, target: { metric: 'sqnr', min: 30 } });
    const r = await quantizeModel({ modelPath: model, outputPath: out, recipe, inputs: cal, evalInputs: ev });
    const mp = r.mixedPrecision!;
    expect(mp.met).toBe(true);
    expect(mp.start.metric).toBeLessThan(20);
    expect(mp.achieved.metric).toBeGreaterThanOrEqual(30);
    expect(mp.final!.met).toBe(true);
    expect(r.outputAgreement!.sqnrDb).toBeGreaterThanOrEqual(30);
    expect(r.warnings).toBeUndefined();
    // Part of the model stays quantized: the input spectrum is float, the layers after the Log are int8.
    expect(mp.assignment.find((a) => a.name === 'spectrum')!.level).toBe('float');
    const q = (await loadModel(out)).model.graph!.node;
    expect(q.filter((n) => n.opType === 'DequantizeLinear').length).toBeGreaterThan(4);
    expect(q.some((n) => n.opType === 'QuantizeLinear' && n.input[0] === 'spectrum')).toBe(false);
    expect(mp.decisions.filter((d) => d.step === 'raise').length).toBeGreaterThan(0);
    expect(formatSummary(r)).toMatch(/Target output SQNR >= 30 dB on 48 samples of --eval-data: met/);
  }, 180_000);

  it('an unreachable target says so and returns the best found; an unmeasurable one is refused naming the reason', async () => {
    const recipe = parseRecipe({ calibration: { samples: 96, batchSize: 32 }, target: { metric: 'sqnr', min: 200 } });
    const r = await quantizeModel({ modelPath: model, outputPath: join(dir, 'unreachable.onnx'), recipe, inputs: cal, evalInputs: ev });
    expect(r.mixedPrecision!.met).toBe(false);
    expect(r.mixedPrecision!.summary[0]).toMatch(/NOT met by any assignment tried; the best found is used/);
    const top1 = parseRecipe({ calibration: { samples: 96, batchSize: 32 }, target: { metric: 'top1', maxDrop: 0.01 } });
    await expect(quantizeModel({ modelPath: model, outputPath: join(dir, 'x.onnx'), recipe: top1, inputs: cal, evalInputs: ev })).rejects.toThrow(/top-1 needs labels/);
  }, 180_000);

  it('thresholds and targets read the right figure, undefined never passes', () => {
    const base = { cosine: 1, mse: 0, samples: 1 };
    expect(crossedThresholds({ ...base, sqnrDb: 19.9 })[0]!.metric).toBe('sqnr');
    expect(crossedThresholds({ ...base, sqnrDb: NaN })).toEqual([]);
    expect(crossedThresholds({ ...base, sqnrDb: 40, top1Fp32: 0.9, top1Quantized: 0.885 })[0]!.metric).toBe('top1');
    expect(crossedThresholds({ ...base, sqnrDb: 40, perplexityFp32: 4, perplexityQuantized: 4.03 })).toEqual([]);
    expect(crossedThresholds({ ...base, sqnrDb: 40, perplexityFp32: 4, perplexityQuantized: 4.05 })[0]!.metric).toBe('perplexity');
    const ppl = parseTarget({ metric: 'perplexity', maxIncrease: 0.004 });
    expect(meetsTarget({ ...base, sqnrDb: 1, perplexityFp32: 4, perplexityQuantized: 4.0039 }, ppl)).toBe(true);
    expect(meetsTarget({ ...base, sqnrDb: 1, perplexityFp32: 4, perplexityQuantized: 4.0041 }, ppl)).toBe(false);
    expect(meetsTarget({ ...base, sqnrDb: 1 }, ppl)).toBe(false);
    expect(metricValue({ ...base, sqnrDb: NaN }, 'sqnr')).toBeNaN();
    expect(meetsTarget({ ...base, sqnrDb: NaN }, { metric: 'sqnr', min: -10 })).toBe(false);
    expect(meetsTarget({ ...base, sqnrDb: 1, top1Fp32: 0.9, top1Quantized: 0.895 }, { metric: 'top1', maxDrop: 0.005 })).toBe(true);
    expect(() => parseTarget({ metric: 'top1', min: 3 })).toThrow(/unknown key '"min"'/);
    expect(() => parseTarget({ metric: 'latency' })).toThrow(/not one of sqnr, top1, perplexity/);
    expect(parseTarget({ metric: 'sqnr', min: 30, prefer: 'latency' })).toEqual({ metric: 'sqnr', min: 30, prefer: 'latency' });
    expect(() => parseTarget({ metric: 'sqnr', min: 30, prefer: 'speed' })).toThrow(/target.prefer: value '"speed"' is not one of size, latency/);
  });
});
