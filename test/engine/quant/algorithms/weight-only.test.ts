// GPTQ / AWQ / RTN on the real moby-gpt with real text: smaller calibration and evaluation sets than the
// bench (which holds the acceptance figures), same code paths.
import { describe, it, expect, beforeAll } from 'vitest';
import { ort, openSession } from '../../../helpers/ort';
import { models, hasShared } from '../../../helpers/shared';
import { loadModel, serializeModel, type LoadedModel } from '../../../../engine/onnx/model-io';
import { clone, ModelProtoSchema } from '../../../../engine/onnx/proto';
import { parseRecipe } from '../../../../engine/pipeline/recipe';
import { quantizeWeightOnly } from '../../../../engine/pipeline/stages/weights-phase';
import { runAwq } from '../../../../engine/quant/algorithms/awq';
import { calibrationBatches, rtnLayers } from '../../../../engine/quant/algorithms/weight-only';
import { findLinearLayers, layerWeightNK } from '../../../../engine/quant/algorithms/linear-layers';
import { exportWeightOnly } from '../../../../engine/export/matmulnbits';
import { textWindows, perplexity } from './lm-helpers';

const CAL = 32, VAL = 24;
const recipe = (algorithms: unknown[], extra: Record<string, unknown> = {}) => parseRecipe({
  weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, algorithms,
  opTypes: ['MatMul'], format: 'matmulnbits', calibration: { samples: CAL, batchSize: 16 }, ...extra,
});

describe.skipIf(!hasShared)('weight-only algorithms on moby-gpt', () => {
  let gpt: LoadedModel;
  const train = textWindows('train.txt', CAL);
  const val = textWindows('val.txt', VAL);
  const ppl: Record<string, number> = {};
  beforeAll(async () => {
    gpt = await loadModel(models.gpt);
    ppl.fp32 = await perplexity(serializeModel(gpt.model), val);
    const rtn = await quantizeWeightOnly({ model: gpt.model, baseDir: gpt.baseDir, recipe: recipe([{ name: 'rtn' }]), accuracyLevel: 0 });
    ppl.rtn = await perplexity(serializeModel(rtn.model), val);
    // Plain min-max rounding (what ORT's own int4 quantizer does; recipes now search each group's grid)
    const layers = findLinearLayers(gpt.model, { opTypes: ['MatMul'], exclude: [] });
    const plain = rtnLayers(new Map(layers.map((l) => [l, layerWeightNK(gpt.model, gpt.baseDir, l)])), { bits: 4, symmetric: true, groupSize: 32 });
    ppl.rtnMinMax = await perplexity(serializeModel(exportWeightOnly(gpt.model, plain, { format: 'matmulnbits', accuracyLevel: 0, baseDir: gpt.baseDir }).model), val);
  });

  it('the searched grid (RTN+) beats plain min-max rounding', () => {
    expect(ppl.rtn).toBeLessThan(ppl.rtnMinMax! - 0.002); // measured on 128 windows: 4.0237 vs 4.0297
  });

  it('GPTQ: lower output error than RTN in nearly every layer, and lower perplexity', async () => {
    const r = await quantizeWeightOnly({ model: gpt.model, baseDir: gpt.baseDir, recipe: recipe([{ name: 'gptq' }]), inputs: { input_ids: train }, accuracyLevel: 0 });
    expect(r.results.length).toBe(37);
    const errs = r.quantized.map((q) => q.algorithmErrors!.find((e) => e.algorithm === 'gptq')!);
    const better = errs.filter((e) => e.outputErrorAfter! < e.outputErrorBefore!).length;
    const MIN_BETTER = 0.9;
    expect(better / errs.length).toBeGreaterThanOrEqual(MIN_BETTER);
    // GPTQ trades weight error for output error.
    expect(errs.every((e) => e.weightErrorAfter! > 0 && e.outputErrorBefore! > 0)).toBe(true);
    ppl.gptq = await perplexity(serializeModel(r.model), val);
    expect(ppl.gptq).toBeLessThan(ppl.rtn!);
    expect(ppl.gptq).toBeGreaterThanOrEqual(ppl.fp32! - 0.01);
  }, 300_000);

  it('AWQ: scaling alone is float-exact (folded into LayerNorms / inserted Muls); quantized, no layer is worse than RTN', async () => {
    const model = clone(ModelProtoSchema, gpt.model);
    const batches = calibrationBatches({ input_ids: textWindows('train.txt', 8) }, 8);
    const scaledOnly = await runAwq({ model, baseDir: gpt.baseDir, selection: { opTypes: ['MatMul'], exclude: [] }, config: { bits: 4, symmetric: true, groupSize: 32 }, params: { gridSize: 5, clip: false }, batches, quantize: false });
    expect(scaledOnly.scaled.some((s) => s.alpha > 0 && s.absorber.startsWith('LayerNormalization'))).toBe(true);
    const ids = new ort.Tensor('int64', (val.data as BigInt64Array).slice(0, 4 * 256), [4, 256]);
    const run = async (bytes: Uint8Array) => { const s = await openSession(bytes); const o = (await s.run({ input_ids: ids })).logits!.data as Float32Array; await s.release(); return o; };
    const a = await run(serializeModel(gpt.model)), b = await run(serializeModel(scaledOnly.model));
    let maxDiff = 0, maxAbs = 0;
    for (let i = 0; i < a.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!)); maxAbs = Math.max(maxAbs, Math.abs(a[i]!)); }
    const FLOAT_EQUIV_TOL = 1e-3;
    expect(maxDiff / maxAbs).toBeLessThan(FLOAT_EQUIV_TOL);

    const r = await quantizeWeightOnly({ model: gpt.model, baseDir: gpt.baseDir, recipe: recipe([{ name: 'awq' }]), inputs: { input_ids: train }, accuracyLevel: 0 });
    const errs = r.quantized.map((q) => q.algorithmErrors!.find((e) => e.algorithm === 'awq')!);
    // α = 0 (plain rounding) is in the grid and clips are kept only where a row's error drops.
    const SEARCH_SLACK = 1.001;
    for (const e of errs) if (e.outputErrorBefore !== undefined) expect(e.outputErrorAfter!).toBeLessThanOrEqual(e.outputErrorBefore * SEARCH_SLACK);
    ppl.awq = await perplexity(serializeModel(r.model), val);
    // AWQ against plain min-max rounding (the peer's RTN): AWQ's α search ranks candidates on that grid,
    // and the searched grid alone (ppl.rtn) now rounds better than AWQ's scaling gains here.
    const PPL_NOISE = 0.003;
    expect(ppl.awq).toBeLessThan(ppl.rtnMinMax! + PPL_NOISE);
  }, 600_000);
});
