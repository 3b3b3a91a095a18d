// The wreck guard (engine/pipeline/guard.ts) on a model the plain default recipe wrecks: a power
// spectrum spanning 1 ... 8e11 read by a Conv, then a Log (test/engine/analysis/spectral-model.ts;
// uint8 MinMax on that input zeroes almost every bin). The default recipe must come back with the task
// kept and say what it left in float; "guard": false gives the wrecked model and its warning; a model
// the default does not wreck pays for no search.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { guardOff, guardTriggered, GUARD_TRIGGER_DB, GUARD_TARGET_DB } from '../../../engine/pipeline/guard';
import { loadModel } from '../../../engine/onnx/model-io';
import { formatSummary } from '../../../engine/cli/summary';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { models, sharedPath } from '../../helpers/shared';
import { writeSpectralModel, spectra } from '../analysis/spectral-model';
import type { ProgressEvent } from '../../../engine/util/work-context';

describe('the wreck guard', () => {
  let dir = '', model = '';
  const cal = { spectrum: spectra(120, 1) }, ev = { spectrum: spectra(48, 2) };
  const samples = { calibration: { samples: 96, batchSize: 32 } };
  beforeAll(async () => { dir = mkdtempSync(join(tmpdir(), 'qguard-')); model = join(dir, 'spectral.onnx'); await writeSpectralModel(model); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the default recipe keeps the task: the fully quantized run is below 10 dB, the guard leaves the input spectrum float and reaches 30 dB, reporting why', async () => {
    const out = join(dir, 'guarded.onnx');
    const events: ProgressEvent[] = [];
    const r = await quantizeModel({ modelPath: model, outputPath: out, recipe: parseRecipe(samples), inputs: cal, evalInputs: ev, ctx: { onProgress: (e) => events.push(e) } });
    const g = r.guard!;
    expect(g, 'the guard ran').toBeDefined();
    expect(g.kept).toBe(true);
    expect(g.firstSqnrDb).toBeLessThan(GUARD_TRIGGER_DB);
    expect(g.target).toEqual({ metric: 'sqnr', min: GUARD_TARGET_DB });
    expect(r.outputAgreement!.sqnrDb).toBeGreaterThanOrEqual(GUARD_TARGET_DB);
    expect(g.sqnrDb).toBe(r.outputAgreement!.sqnrDb);
    expect(g.floatActivations).toContain('spectrum');
    expect(r.mixedPrecision!.met).toBe(true);
    expect(r.mixedPrecision!.decisions.some((d) => d.step === 'raise' && d.name === 'spectrum')).toBe(true);
    // No warning: the written model is not the wrecked one (and the first run's diagnosis was skipped).
    expect(r.warnings).toBeUndefined();
    // The report's recipe is the user's: the guard's target is in report.guard.
    expect(r.recipe.target).toBeUndefined();
    expect(r.timingsMs.guardFirstRun).toBeGreaterThan(0);
    expect(r.notices[0]).toMatch(/^Guard: the fully quantized model's output SQNR -?\d+\.\d dB on 48 samples of --eval-data is below 10 dB, so the run was searched again for 30 dB and left \d+ unit\(s\) in float \(.*activation spectrum/);
    expect(r.notices[0]).toMatch(/Set "guard": false/);
    expect(formatSummary(r)).toMatch(/Target output SQNR >= 30 dB on 48 samples of --eval-data: met/);
    // The written model: the spectrum enters float, the layers after the Log stay int8.
    const q = (await loadModel(out)).model.graph!.node;
    expect(q.some((n) => n.opType === 'QuantizeLinear' && n.input[0] === 'spectrum')).toBe(false);
    expect(q.filter((n) => n.opType === 'DequantizeLinear').length).toBeGreaterThan(4);
    // One run's progress: never back, one "done" at the end, the search as stage "guard".
    const f = events.map((e) => e.fraction);
    for (let i = 1; i < f.length; i++) expect(f[i]!, `${events[i]!.stage} after ${events[i - 1]!.stage}`).toBeGreaterThanOrEqual(f[i - 1]! - 1e-9);
    expect(events.filter((e) => e.stage === 'done')).toHaveLength(1);
    expect(events.at(-1)!.stage).toBe('done');
    expect(events.some((e) => e.stage === 'guard')).toBe(true);
  }, 180_000);

  it('"guard": false keeps the fully quantized model: below 10 dB, with the warning naming the input spectrum', async () => {
    const r = await quantizeModel({ modelPath: model, outputPath: join(dir, 'unguarded.onnx'), recipe: parseRecipe({ ...samples, guard: false }), inputs: cal, evalInputs: ev });
    expect(r.guard).toBeUndefined();
    expect(r.mixedPrecision).toBeUndefined();
    expect(r.outputAgreement!.sqnrDb).toBeLessThan(GUARD_TRIGGER_DB);
    expect(r.warnings![0]!.culprits.map((c) => c.name)).toContain('spectrum');
  }, 120_000);

  it('a model the default recipe does not wreck gets no search: fmnist-cnn is written as the fully quantized run', async () => {
    const train = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 160);
    const r = await quantizeModel({ modelPath: models.cnn, outputPath: join(dir, 'cnn.onnx'), recipe: parseRecipe({}), inputs: { image: train.images } });
    expect(r.outputAgreement!.sqnrDb).toBeGreaterThan(GUARD_TRIGGER_DB);
    expect(r.guard).toBeUndefined();
    expect(r.mixedPrecision).toBeUndefined();
    expect(r.timingsMs.target).toBeUndefined();
    expect(r.timingsMs.guardFirstRun).toBeUndefined();
  }, 120_000);

  it('watches W8A8 QDQ runs without a target; the recipe key is a boolean', () => {
    expect(guardOff(parseRecipe({}), true)).toBeUndefined();
    expect(guardOff(parseRecipe({ guard: true }), true)).toBeUndefined();
    expect(guardOff(parseRecipe({ guard: false }), true)).toMatch(/"guard": false/);
    expect(guardOff(parseRecipe({ target: { metric: 'sqnr', min: 25 } }), true)).toMatch(/own "target"/);
    expect(guardOff(parseRecipe({ weights: { dtype: 'int4', granularity: { group: 32 } }, activations: null, format: 'matmulnbits' }), true)).toMatch(/weight-only/);
    expect(guardOff(parseRecipe({}), false)).toMatch(/no evaluation/);
    // A wreck, not a warning: between 10 and 20 dB the run warns and is written as it is.
    expect(guardTriggered(9.9)).toBe(true);
    expect(guardTriggered(10)).toBe(false);
    expect(guardTriggered(17.9)).toBe(false);
    expect(guardTriggered(NaN)).toBe(false);
    expect(guardTriggered(undefined)).toBe(false);
    expect('guard' in parseRecipe({})).toBe(false);
    expect(() => parseRecipe({ guard: 'yes' })).toThrow(/Recipe guard: value '"yes"' is not true or false\./);
  });
});
