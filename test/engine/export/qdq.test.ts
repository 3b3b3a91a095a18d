import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ort, openSession } from '../../helpers/ort';
import { loadModel, serializeModel, parseModel } from '../../../engine/onnx/model-io';
import { clone, ModelProtoSchema, DataType, create, NodeProtoSchema, type ModelProto } from '../../../engine/onnx/proto';
import { makeTensor, tensorToFloat32, tensorToTypedArray } from '../../../engine/onnx/tensor';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { planQdq } from '../../../engine/export/qdq-plan';
import { rewriteQdq } from '../../../engine/export/qdq-rewrite';
import { foldConvBatchNorm } from '../../../engine/export/qdq-fold-bn';
import { runCalibration } from '../../../engine/quant/calibration/run-calibration';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { createSession } from '../../../engine/runtime/session';
import { feedsFor } from '../../../engine/runtime/batching';
import { compareTensors } from '../../../engine/eval/agreement';
import { models, sharedPath } from '../../helpers/shared';

const data = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 64).images;

async function quantize(model: ModelProto, recipeJson: unknown): Promise<ModelProto> {
  const recipe = parseRecipe(recipeJson);
  const m = clone(ModelProtoSchema, model);
  foldConvBatchNorm(m);
  const plan = planQdq(m, recipe);
  const ranges = new Map<string, { min: number; max: number }>();
  if (recipe.activations) {
    const cal = await runCalibration(m, plan.calibrate, { image: data }, { samples: 64, batchSize: 32 });
    for (const [t, s] of cal.stats) ranges.set(t, { min: s.rangeMin, max: s.rangeMax });
  }
  rewriteQdq(m, plan, ranges, recipe);
  return m;
}

async function logits(model: ModelProto | Uint8Array): Promise<Float32Array> {
  const s = await createSession(model instanceof Uint8Array ? model : serializeModel(model), { device: 'cpu' });
  const out = await s.run(feedsFor({ image: data }, 0, 64));
  await s.release();
  return out.logits!.data as Float32Array;
}

async function optimizedOps(model: ModelProto): Promise<Map<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'qdq-'));
  try {
    const file = join(dir, 'opt.onnx');
    await openSession(serializeModel(model), { optimization: 'all', optimizedModelFile: file, logSeverity: 3 });
    const { model: opt } = await loadModel(file);
    const counts = new Map<string, number>();
    for (const n of opt.graph!.node) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
    return counts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('QDQ export', async () => {
  const { model } = await loadModel(models.cnn);
  const ref = await logits(model);

  it('writes int8 per-channel weights, int32 biases with s_in*s_w, and a graph ORT fuses to QLinearConv', async () => {
    const q = await quantize(model, {});
    const g = q.graph!;
    const inits = new Map(g.initializer.map((t) => [t.name, t]));
    const conv = g.node.find((n) => n.name === '/1/1.0/Conv')!;
    const wDq = g.node.find((n) => n.output[0] === conv.input[1])!;
    expect(wDq.opType).toBe('DequantizeLinear');
    expect(Number(wDq.attribute.find((a) => a.name === 'axis')!.i)).toBe(0);
    expect(inits.get(wDq.input[0]!)!.dataType).toBe(DataType.INT8);
    const wScale = tensorToFloat32(inits.get(wDq.input[1]!)!);
    expect(wScale.length).toBe(Number(inits.get(wDq.input[0]!)!.dims[0]));
    const bDq = g.node.find((n) => n.output[0] === conv.input[2])!;
    expect(inits.get(bDq.input[0]!)!.dataType).toBe(DataType.INT32);
    const bScale = tensorToFloat32(inits.get(bDq.input[1]!)!);
    const xDq = g.node.find((n) => n.output[0] === conv.input[0])!;
    const sIn = tensorToFloat32(inits.get(xDq.input[1]!)!)[0]!;
    for (let c = 0; c < bScale.length; c++) expect(bScale[c]).toBeCloseTo(Math.fround(sIn * wScale[c]!), 12);
    // The Relu after each quantized Conv is folded into the output quantization (zero-point = 0).
    expect(g.node.filter((n) => n.opType === 'Relu').length).toBe(0);
    const ops = await optimizedOps(q);
    expect(ops.get('QLinearConv')).toBe(5);
    expect(ops.get('Conv') ?? 0).toBe(0);
    expect(ops.has('QGemm')).toBe(true);
    // The 1-channel image Conv is zero-padded to 4 input channels (ORT's fast symmetric int8 conv
    // needs a multiple of 4) on the 8-bit tensor; the average pool runs on integers too.
    const conv0 = g.node.find((n) => n.name === '/0/0.0/Conv')!;
    const w0Dq = g.node.find((n) => n.output[0] === conv0.input[1])!;
    expect(inits.get(w0Dq.input[0]!)!.dims.map(Number)).toEqual([32, 4, 3, 3]);
    const padDq = g.node.find((n) => n.output[0] === conv0.input[0])!;
    expect(g.node.find((n) => n.output[0] === padDq.input[0])!.opType).toBe('Pad');
    expect(ops.get('QLinearGlobalAveragePool')).toBe(1);
    expect(ops.has('GlobalAveragePool')).toBe(false);
    const err = compareTensors(ref, await logits(q));
    expect(err.sqnrDb).toBeGreaterThan(25);
  });

  it('honours opTypes and exclude, and rejects unknown node names in exclude', async () => {
    const q = await quantize(model, { opTypes: ['Conv'], exclude: ['/4/4.0/Conv'] });
    const gemm = q.graph!.node.find((n) => n.opType === 'Gemm')!;
    expect(gemm.input[1]).toBe('9.weight');
    const c4 = q.graph!.node.find((n) => n.name === '/4/4.0/Conv')!;
    expect(q.graph!.initializer.some((t) => t.name === c4.input[1])).toBe(true); // still the float weight
    expect(() => planQdq(model, parseRecipe({ exclude: ['/no/such/Conv'] }), 'cnn.onnx')).toThrow(/'"\/no\/such\/Conv"'.*cnn\.onnx/);
  });

  it('weight-only int4 with groups raises the opset to 21 and stays close to FP32', async () => {
    const q = await quantize(model, { weights: { dtype: 'int4', granularity: { group: 16 } }, activations: null, opTypes: ['Conv', 'Gemm'] });
    expect(Number(q.opsetImport.find((o) => o.domain === '')!.version)).toBe(21);
    const dq = q.graph!.node.filter((n) => n.opType === 'DequantizeLinear');
    expect(dq.length).toBe(6);
    expect(dq.every((n) => n.attribute.some((a) => a.name === 'block_size' && Number(a.i) === 16))).toBe(true);
    expect(q.graph!.node.some((n) => n.opType === 'QuantizeLinear')).toBe(false);
    const w = q.graph!.initializer.find((t) => t.name === dq[0]!.input[0])!;
    expect(w.dataType).toBe(DataType.INT4);
    const v = tensorToTypedArray(w) as Int8Array;
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-8);
    expect(Math.max(...v)).toBeLessThanOrEqual(7);
    const err = compareTensors(ref, await logits(parseModel(serializeModel(q))));
    expect(err.sqnrDb).toBeGreaterThan(12);
  });

  it('4-bit activations: 8-bit containers clamped to the 4-bit range, a model ORT loads and runs', async () => {
    const q = await quantize(model, { weights: { dtype: 'int4' }, activations: { dtype: 'uint4' } });
    const clips = q.graph!.node.filter((n) => n.opType === 'Clip');
    expect(clips.length).toBeGreaterThan(3);
    const hi = q.graph!.initializer.find((t) => t.name === clips[0]!.input[2])!;
    expect([...tensorToTypedArray(hi)]).toEqual([15]);
    const err = compareTensors(ref, await logits(q));
    expect(err.sqnrDb).toBeGreaterThan(8);
    expect(err.sqnrDb).toBeLessThan(30); // 4-bit activations cannot be as close as 8-bit ones
  });

  it('folds BatchNormalization into the Conv before it without changing the output', async () => {
    // Insert a real BN (non-trivial statistics) after /3/3.0/Conv.
    const m = clone(ModelProtoSchema, model);
    const g = m.graph!;
    const i = g.node.findIndex((n) => n.name === '/3/3.0/Conv');
    const conv = g.node[i]!;
    const C = Number(g.initializer.find((t) => t.name === conv.input[1])!.dims[0]);
    const mk = (name: string, f: (c: number) => number) => makeTensor(name, DataType.FLOAT, [C], Float32Array.from({ length: C }, (_, c) => f(c)));
    g.initializer.push(mk('bn.g', (c) => 0.5 + (c % 7) / 5), mk('bn.b', (c) => ((c % 5) - 2) / 10), mk('bn.m', (c) => ((c % 3) - 1) / 4), mk('bn.v', (c) => 0.3 + (c % 4) / 3));
    const convOut = conv.output[0]!;
    conv.output[0] = 'pre_bn';
    g.node.splice(i + 1, 0, create(NodeProtoSchema, { opType: 'BatchNormalization', name: 'bn', input: ['pre_bn', 'bn.g', 'bn.b', 'bn.m', 'bn.v'], output: [convOut] }));
    const before = await logits(m);
    const folded = foldConvBatchNorm(m);
    expect(folded).toEqual(['bn']);
    expect(m.graph!.node.some((n) => n.opType === 'BatchNormalization')).toBe(false);
    const after = await logits(m);
    expect(compareTensors(before, after).sqnrDb).toBeGreaterThan(90);
  });
});
