// Mixed precision with an int8 step for weight-only MatMulNBits recipes: on the LLaMA-style fixture
// (outlier RMSNorm channels) an int4 g32 RTN recipe with an SQNR target raises layers to MatMulNBits
// bits=8 before anything goes to float, the export check scores the candidate as actually written
// (MatMulNBits also rounds activations, which the search's variants do not), and the written model
// has 8-bit MatMulNBits where those layers were.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { loadModel } from '../../../engine/onnx/model-io';
import { offersInt8Weights, rankByBenefit } from '../../../engine/analysis/mixed-precision';
import { buildLlamaFixture } from '../quant/algorithms/llama-fixture';
import { textWindows } from '../quant/algorithms/lm-helpers';

const attr = (n: { attribute: { name: string; i: bigint }[] }, name: string) => { const a = n.attribute.find((x) => x.name === name); return a ? Number(a.i) : undefined; };

describe('mixed precision: int4 -> int8 MatMulNBits -> float', () => {
  let dir = '', model = '';
  const { bytes, seq } = buildLlamaFixture();
  const cal = { input_ids: textWindows('train.txt', 16, seq) }, ev = { input_ids: textWindows('val.txt', 16, seq) };
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'qmp8-')); model = join(dir, 'llama.onnx'); writeFileSync(model, bytes); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('raises layers to 8-bit MatMulNBits (no float MatMul left for them), checks the real export and meets the target', async () => {
    const out = join(dir, 'target.onnx');
    const recipe = parseRecipe({ activations: null, opTypes: ['MatMul'], format: 'matmulnbits', weights: { dtype: 'int4', granularity: { group: 32 } }, target: { metric: 'sqnr', min: 18 } });
    const r = await quantizeModel({ modelPath: model, outputPath: out, recipe, inputs: cal, evalInputs: ev });
    const mp = r.mixedPrecision!;
    expect(mp.start.metric).toBeLessThan(18);
    expect(mp.met).toBe(true);
    expect(mp.final!.met).toBe(true);
    expect(r.outputAgreement!.sqnrDb).toBeGreaterThanOrEqual(18);
    // The export check ran and its figure is what the pipeline then measured on the written model.
    expect(mp.exportCheck).toBeDefined();
    expect(mp.exportCheck!.met).toBe(true);
    expect(mp.exportCheck!.metric).toBeCloseTo(mp.final!.metric, 2);
    // What was scored is what was written: the pipeline did not round the weights again.
    expect(r.timingsMs.quantize).toBeUndefined();
    // The cheaper step first: every raise in the search goes int4 -> int8, each decision names the precision.
    const raises = mp.decisions.filter((d) => d.step === 'raise');
    expect(raises.length).toBeGreaterThan(0);
    expect(raises.every((d) => d.from === 'recipe' && d.to === 'int8')).toBe(true);
    expect(raises[0]!.toPrecision).toBe('int8 (MatMulNBits bits=8)');
    expect(raises[0]!.fromPrecision).toBe('int4 (MatMulNBits bits=4)');
    const int8 = mp.assignment.filter((a) => a.level === 'int8');
    expect(int8.length).toBeGreaterThan(0);
    expect(mp.assignment.some((a) => a.level === 'recipe')).toBe(true); // still a mixed 4/8-bit model
    expect(mp.summary.join('\n')).toMatch(/-> int8 \(MatMulNBits bits=8\)/);
    expect(mp.summary.join('\n')).toMatch(/Export check \(MatMulNBits as written/);
    // The written model: 8-bit MatMulNBits beside 4-bit ones; no float MatMul reads an int8 layer's weight,
    // and the float weight itself is gone.
    const g = (await loadModel(out)).model.graph!;
    const nbits = g.node.filter((n) => n.opType === 'MatMulNBits');
    expect(nbits.some((n) => attr(n, 'bits') === 8)).toBe(true);
    expect(nbits.some((n) => attr(n, 'bits') === 4)).toBe(true);
    const src = (await loadModel(model)).model.graph!;
    const weightOf = (node: string) => src.node.find((n) => n.name === node)!.input.find((i) => src.initializer.some((t) => t.name === i))!;
    for (const a of int8) {
      const w = weightOf(a.name);
      expect(g.node.some((n) => n.opType === 'MatMul' && n.input.includes(w))).toBe(false);
      expect(g.initializer.some((t) => t.name === w)).toBe(false);
    }
    // 8-bit rows: as many output columns in bits=8 nodes as the int8 layers have.
    const int8Cols = int8.reduce((s, a) => s + Number(src.initializer.find((t) => t.name === weightOf(a.name))!.dims[1]), 0);
    expect(nbits.filter((n) => attr(n, 'bits') === 8).reduce((s, n) => s + attr(n, 'N')!, 0)).toBe(int8Cols);
  }, 240_000);

  it('GPTQ: the export check keeps only the raises the exported model needs, and that scored export is the model written', async () => {
    const out = join(dir, 'target-gptq.onnx');
    const recipe = parseRecipe({ activations: null, opTypes: ['MatMul'], format: 'matmulnbits', weights: { dtype: 'int4', granularity: { group: 32 } }, algorithms: [{ name: 'gptq' }], calibration: { samples: 16, batchSize: 8 }, target: { metric: 'sqnr', min: 19.5 } });
    const r = await quantizeModel({ modelPath: model, outputPath: out, recipe, inputs: cal, evalInputs: ev });
    const mp = r.mixedPrecision!;
    expect(mp.met).toBe(true);
    const onExport = mp.decisions.filter((d) => d.measuredOn === 'export');
    const raised = onExport.filter((d) => d.step === 'raise');
    expect(raised.length).toBeGreaterThan(1);
    expect(mp.exportCheck!.tried).toBe(onExport.filter((d) => d.step === 'raise' || d.step === 'no help').length);
    // Every raise the check kept was tried back on the export: kept only where the export then missed.
    for (const d of raised) {
      const undo = onExport.find((x) => x.name === d.name && (x.step === 'kept' || x.step === 'lower back'));
      expect(undo, d.name).toBeDefined();
      if (undo!.step === 'kept') expect(undo!.metricAfter).toBeLessThan(19.5);
    }
    expect(mp.exportCheck!.raised).toBe(raised.length - onExport.filter((d) => d.step === 'lower back').length);
    // A raise that did not improve the export is not kept.
    for (const d of onExport.filter((x) => x.step === 'no help')) expect(mp.assignment.find((a) => a.name === d.name)!.level).toBe(d.from);
    // Written == scored: the pipeline wrote the check's export (GPTQ is not run again, which with other
    // layers excluded would round the rest differently) and measures the same figure on it.
    expect(r.timingsMs.quantize).toBeUndefined();
    // ... on the written model as it runs (plainOutputs), not on a copy with the compared tensors as outputs.
    expect(Math.abs(r.outputAgreement!.sqnrDb - mp.exportCheck!.metric)).toBeLessThan(1e-4);
    expect(mp.final!.metric).toBe(r.outputAgreement!.sqnrDb);
    expect(mp.final!.met).toBe(true);
    // The report lists the int8 layers at their stored width.
    const int8 = new Set(mp.assignment.filter((a) => a.level === 'int8').map((a) => a.name));
    expect(r.quantized.filter((q) => int8.has(q.node)).every((q) => q.weightDtype === 'int8')).toBe(true);
    expect(r.quantized.filter((q) => q.weightDtype === 'int8').length).toBe(int8.size);
  }, 240_000);

  it('recipe "int8Layers" (the Sensitivity view\'s "raise to int8"): those nodes are written as 8-bit MatMulNBits, the rest at 4 bits', async () => {
    const src = (await loadModel(model)).model.graph!;
    const q = src.node.find((n) => n.name === '/layers.0/q/MatMul')!;
    const weight = q.input.find((i) => src.initializer.some((t) => t.name === i))!;
    const out = join(dir, 'int8-layers.onnx');
    const recipe = parseRecipe({ activations: null, opTypes: ['MatMul'], format: 'matmulnbits', weights: { dtype: 'int4', granularity: { group: 32 } }, prefill: 'matmulnbits', int8Layers: ['/layers.0/q/MatMul'] });
    const r = await quantizeModel({ modelPath: model, outputPath: out, recipe, inputs: cal, evalInputs: ev });
    expect(r.quantized.filter((x) => x.weightDtype === 'int8').map((x) => x.node)).toEqual(['/layers.0/q/MatMul']);
    const g = (await loadModel(out)).model.graph!;
    const nbits = g.node.filter((n) => n.opType === 'MatMulNBits');
    const eight = nbits.filter((n) => attr(n, 'bits') === 8);
    // q may be merged with k/v (same input) into one node per width: the 8-bit one holds exactly q's columns.
    expect(eight.reduce((s2, n) => s2 + attr(n, 'N')!, 0)).toBe(Number(src.initializer.find((t) => t.name === weight)!.dims[1]));
    expect(nbits.some((n) => attr(n, 'bits') === 4)).toBe(true);
    await expect(quantizeModel({ modelPath: model, outputPath: join(dir, 'bad.onnx'), recipe: { ...recipe, int8Layers: ['/layers.0/nope/MatMul'] }, inputs: cal, evalInputs: ev }))
      .rejects.toThrow(/Recipe int8Layers: '"\/layers.0\/nope\/MatMul"' is not a MatMul\/Gemm node this recipe quantizes/);
  }, 120_000);

  it('weight-only raise order: error per parameter (a raise costs bytes in proportion to the weight)', () => {
    const small = { name: 'q', params: 1000 }, big = { name: 'fc', params: 4000 }, noisy = { name: 'o', params: 1000 };
    const keys = new Map([[small, { isolated: 0.001, repair: 0 }], [big, { isolated: 0.003, repair: 0 }], [noisy, { isolated: -0.0001, repair: 0 }]]);
    // By isolated error alone the 4x larger layer comes first; per parameter the small one does.
    expect(rankByBenefit([big, small, noisy], keys, 'perplexity', false).map((u) => u.name)).toEqual(['fc', 'q', 'o']);
    expect(rankByBenefit([big, small, noisy], keys, 'perplexity', true).map((u) => u.name)).toEqual(['q', 'fc', 'o']);
    // SQNR: noise powers add, dB do not (30 dB on 1000 params beats 27 dB on 4000: 1e-3/1000 > 2e-3/4000).
    const sq = new Map([[small, { isolated: -30, repair: 0 }], [big, { isolated: -27, repair: 0 }], [noisy, { isolated: -Infinity, repair: 0 }]]);
    expect(rankByBenefit([big, small, noisy], sq, 'sqnr', true).map((u) => u.name)).toEqual(['q', 'fc', 'o']);
  });

  it('the int8 step is offered for MatMulNBits below 8 bits only', () => {
    const wo = (o: object) => parseRecipe({ activations: null, weights: { dtype: 'int4', granularity: { group: 32 } }, ...o });
    expect(offersInt8Weights(wo({ format: 'matmulnbits' }), 'weight-only')).toBe(true);
    expect(offersInt8Weights(wo({ format: 'matmulnbits', weights: { dtype: 'int3', granularity: { group: 32 } } }), 'weight-only')).toBe(true);
    expect(offersInt8Weights(wo({ format: 'qdq' }), 'weight-only')).toBe(false);
    expect(offersInt8Weights(parseRecipe({}), 'qdq')).toBe(false);
  });
});
