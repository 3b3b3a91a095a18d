// float16 models as exporters ship them (all-fp16, and fp16 inside float32 inputs/outputs): quantized
// keeping their float type (scales and DequantizeLinear outputs float16, MatMulNBits float16 scales);
// already-quantized models and float types the writers cannot handle are refused before calibration.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { checkModelSupport, modelSupport } from '../../../engine/pipeline/model-support';
import { loadModel } from '../../../engine/onnx/model-io';
import { walkGraphs } from '../../../engine/onnx/graph';
import { DataType, floatToHalf, halfToFloat } from '../../../engine/onnx/tensor';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { createSession, ort } from '../../../engine/runtime/session';
import type { NpyArray } from '../../../engine/data/npy';
import { models, sharedPath } from '../../helpers/shared';
import { cachedVariant, convertToFloat16 } from '../../fixtures/model-variants';

const dir = mkdtempSync(join(tmpdir(), 'qs-fp16-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const train = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 64);
const test = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 200);
const half = (a: NpyArray): NpyArray => ({ dtype: 'float16', shape: a.shape, data: Uint16Array.from(a.data as Float32Array, floatToHalf) });
let fp16: string, mixed: string;

/** Predicted class of each test image (the model's own input dtype). */
async function predictions(path: string, input: NpyArray): Promise<number[]> {
  const s = await createSession(path, { device: 'cpu' });
  try {
    const t = new ort.Tensor(input.dtype as 'float32', input.data as Float32Array, input.shape);
    const out = (await s.run({ image: t })).logits!;
    const v = out.type === 'float16' ? Float32Array.from(out.data as Uint16Array, halfToFloat) : (out.data as Float32Array);
    return Array.from({ length: input.shape[0]! }, (_, r) => { const row = v.subarray(r * 10, r * 10 + 10); return row.indexOf(Math.max(...row)); });
  } finally { await s.release(); }
}
const agreement = (a: number[], b: number[]) => a.filter((x, i) => x === b[i]).length / a.length;
const scaleTypes = async (path: string) => {
  const { model } = await loadModel(path);
  const types = new Set<number>();
  for (const { graph } of walkGraphs(model.graph!)) for (const t of graph.initializer) if (t.name.endsWith('_scale') || t.name.endsWith('_scales')) types.add(t.dataType);
  return types;
};

beforeAll(async () => {
  fp16 = await cachedVariant('fmnist-cnn-fp16.onnx', models.cnn, (m) => convertToFloat16(m));
  mixed = await cachedVariant('fmnist-cnn-fp16-io32.onnx', models.cnn, (m) => convertToFloat16(m, { keepFloat32Io: true }));
});

describe('float16 models', () => {
  it('all-fp16 CNN, default int8 QDQ: float16 scales, per-layer SQNR, same predictions', async () => {
    const out = join(dir, 'fp16-int8.onnx');
    const report = await quantizeModel({ modelPath: fp16, outputPath: out, recipe: parseRecipe({}), inputs: { image: half(train.images) } });
    expect(report.quantized.length).toBe(6);
    expect([...await scaleTypes(out)]).toEqual([DataType.FLOAT16]);
    expect(report.layers.length).toBe(6);
    for (const l of report.layers) expect(l.sqnrDb).toBeGreaterThan(20);
    expect(report.notices.join(' ')).toMatch(/float16/);
    const x = half(test.images);
    expect(agreement(await predictions(fp16, x), await predictions(out, x))).toBeGreaterThan(0.95);
  });

  it('float16 outputs are scored by widening: output SQNR, top-1 agreement and top-1 on labels', async () => {
    const out = join(dir, 'fp16-int8-scored.onnx');
    const held = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 64);
    const report = await quantizeModel({ modelPath: fp16, outputPath: out, recipe: parseRecipe({}), inputs: { image: half(train.images) }, evalInputs: { image: half(held.images) }, evalLabels: held.labels });
    // These were absent ("the output is float16, not float scores") before float16 was widened.
    const a = report.outputAgreement!;
    expect(a.top1AgreementUndefined).toBeUndefined();
    expect(a.sqnrDb).toBeGreaterThan(15);
    expect(Number.isFinite(a.sqnrDb)).toBe(true);
    // The same figures computed here from both models' own float16 outputs.
    const x = half(held.images), p = await predictions(fp16, x), q = await predictions(out, x);
    expect(a.top1Agreement).toBeCloseTo(agreement(p, q), 10);
    const labels = Array.from(held.labels.data as ArrayLike<number | bigint>, Number);
    expect(report.metrics!.top1Fp32).toBeCloseTo(agreement(p, labels), 10);
    expect(report.metrics!.top1Quantized).toBeCloseTo(agreement(q, labels), 10);
    expect(report.metrics!.top1Fp32).toBeGreaterThan(0.8);
  });

  it('fp16 inside float32 inputs/outputs (mixed graph): quantized, output agreement reported', async () => {
    const out = join(dir, 'mixed-int8.onnx');
    const report = await quantizeModel({ modelPath: mixed, outputPath: out, recipe: parseRecipe({}), inputs: { image: { ...train.images } } });
    expect([...await scaleTypes(out)]).toEqual([DataType.FLOAT16]);
    expect(report.outputAgreement!.top1Agreement).toBeGreaterThan(0.95);
    expect(agreement(await predictions(mixed, test.images), await predictions(out, test.images))).toBeGreaterThan(0.95);
  });

  it('fp16 int4 MatMulNBits (weight-only): float16 scales, loads and predicts alike', async () => {
    const out = join(dir, 'fp16-nbits.onnx');
    const recipe = parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, format: 'matmulnbits', opTypes: ['Gemm'] });
    const report = await quantizeModel({ modelPath: fp16, outputPath: out, recipe, inputs: { image: half(train.images) } });
    expect(report.quantized.length).toBe(1);
    expect([...await scaleTypes(out)]).toEqual([DataType.FLOAT16]);
    const x = half(test.images);
    expect(agreement(await predictions(fp16, x), await predictions(out, x))).toBeGreaterThan(0.9);
  });

  it('an already-quantized model is recognised and explained before any calibration', async () => {
    const once = join(dir, 'once.onnx');
    await quantizeModel({ modelPath: models.cnn, outputPath: once, recipe: parseRecipe({}), inputs: { image: { ...train.images } }, evaluate: false });
    const stages = new Set<string>();
    const err = await quantizeModel({ modelPath: once, outputPath: join(dir, 'twice.onnx'), recipe: parseRecipe({}), inputs: { image: { ...train.images } }, ctx: { onProgress: (e) => stages.add(e.stage) } }).catch((e) => e);
    expect(err).toMatchObject({ code: 'BAD_MODEL' });
    expect(err.message).toMatch(/is already quantized: it holds \d+ DequantizeLinear, \d+ QuantizeLinear/);
    expect(err.message).not.toMatch(/exclude/);
    expect(stages.has('calibrate')).toBe(false);
  });

  it('bfloat16 activations and float64 weights are refused with the node and the reason', async () => {
    const { model } = await loadModel(models.cnn);
    convertToFloat16(model, { type: DataType.BFLOAT16 });
    expect(() => checkModelSupport(model, ['Conv', 'Gemm'], true, 'cnn-bf16.onnx')).toThrow(/6 node\(s\) cannot be quantized: Conv .*bfloat16 activations/);
    expect(modelSupport(model, ['Conv', 'Gemm'], false).unsupported).toEqual([]);
    const f32 = (await loadModel(models.cnn)).model;
    expect(checkModelSupport(f32, ['Conv', 'Gemm'], true, 'cnn.onnx')).toEqual([]);
  });
});

describe('float16 weight-only algorithms', () => {
  it.each(['gptq', 'awq'])('%s on an fp16 model exports float16 MatMulNBits', async (alg) => {
    const out = join(dir, `fp16-${alg}.onnx`);
    const recipe = parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, algorithms: [{ name: alg }], format: 'matmulnbits', opTypes: ['Gemm'] });
    const report = await quantizeModel({ modelPath: fp16, outputPath: out, recipe, inputs: { image: half(train.images) } });
    expect(report.quantized.length).toBe(1);
    const x = half(test.images);
    expect(agreement(await predictions(fp16, x), await predictions(out, x))).toBeGreaterThan(0.9);
  });
});
