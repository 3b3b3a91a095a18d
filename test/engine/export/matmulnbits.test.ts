// MatMulNBits / int4 QDQ export of real moby-gpt weights, checked by running ORT against the float model
// carrying the very same dequantized weights.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { ort, openSession } from '../../helpers/ort';
import { models, hasShared } from '../../helpers/shared';
import { maxAbs, maxAbsDiff } from '../../helpers/compare';
import { loadModel, serializeModel, type LoadedModel } from '../../../engine/onnx/model-io';
import { tensorToTypedArray, tensorToFloat32, makeTensor, DataType } from '../../../engine/onnx/tensor';
import { clone, ModelProtoSchema, ValueInfoProtoSchema } from '../../../engine/onnx/proto';
import { exportWeightOnly } from '../../../engine/export/matmulnbits';
import { packMatMulNBits, unpackMatMulNBits } from '../../../engine/export/matmulnbits-layout';
import { findLinearLayers, layerWeightNK, weightToStored } from '../../../engine/quant/algorithms/linear-layers';
import { rtnLayers, type WeightOnlyConfig, type WeightOnlyLayerResult } from '../../../engine/quant/algorithms/weight-only';
import { textWindows, withWeights } from '../quant/algorithms/lm-helpers';
import { buildLlamaFixture } from '../quant/algorithms/llama-fixture';
import { valueInfo } from '../../fixtures/value-info';

// 'basic': no fusions. At 'all' ORT fuses blocked int4 DequantizeLinear→MatMul into MatMulNBits with
// accuracy level 4 (int8 activations), which is fast but not the exact float reference.
async function logits(bytes: Uint8Array, ids: BigInt64Array, shape: number[], level: 'basic' | 'all' = 'all'): Promise<Float32Array> {
  const s = await openSession(bytes, { threads: 2, optimization: level });
  const r = await s.run({ input_ids: new ort.Tensor('int64', ids, shape) });
  await s.release();
  return r[s.outputNames[0]!]!.data as Float32Array;
}
function dequantOverrides(results: WeightOnlyLayerResult[]): Map<string, Float32Array> {
  return new Map(results.map((r) => [r.layer.weight, weightToStored(r.layer, r.qw.dequantized)]));
}

describe.skipIf(!hasShared)('MatMulNBits export (moby-gpt, real weights)', () => {
  let gpt: LoadedModel;
  const val = textWindows('val.txt', 4);
  const ids = val.data as BigInt64Array;
  beforeAll(async () => { gpt = await loadModel(models.gpt); });

  const configs: [string, WeightOnlyConfig][] = [
    ['int4 sym g32', { bits: 4, symmetric: true, groupSize: 32 }],
    ['int4 asym g128', { bits: 4, symmetric: false, groupSize: 128 }],
    ['int3 sym g64', { bits: 3, symmetric: true, groupSize: 64 }],
    ['int4 sym per-channel', { bits: 4, symmetric: true, groupSize: 0 }],
    // bits = 8: a code a byte, zero points a byte each (default 128)
    ['int8 sym g32', { bits: 8, symmetric: true, groupSize: 32 }],
    ['int8 asym g64', { bits: 8, symmetric: false, groupSize: 64 }],
  ];
  for (const [label, cfg] of configs) {
    it(`${label}: packed weights read back exactly; ORT MatMulNBits matches the dequantized float model`, async () => {
      const layers = findLinearLayers(gpt.model, { opTypes: ['MatMul'], exclude: [] });
      expect(layers.length).toBe(37); // 6 × (q, k, v, o, fc, proj) + head; attention MatMuls have no weight
      const results = rtnLayers(new Map(layers.map((l) => [l, layerWeightNK(gpt.model, gpt.baseDir, l)])), cfg);
      const p = packMatMulNBits(results[0]!);
      const back = unpackMatMulNBits(p.B, p.scales, p.zeroPoints, results[0]!.layer.rows, results[0]!.layer.cols, p.blockSize, p.bits);
      expect(maxAbsDiff(back, results[0]!.qw.dequantized)).toBe(0);
      expect(p.bits).toBe(cfg.bits === 8 ? 8 : 4);
      expect(p.B.length).toBe(results[0]!.layer.rows * p.nBlocks * p.blockSize * p.bits / 8);
      if (cfg.symmetric && (cfg.bits === 4 || cfg.bits === 8)) expect(p.zeroPoints).toBeUndefined(); // ORT's default 8 / 128
      else expect(p.zeroPoints!.length).toBe(results[0]!.layer.rows * (p.bits === 8 ? p.nBlocks : Math.ceil(p.nBlocks / 2)));

      const ref = await logits(withWeights(gpt.model, dequantOverrides(results)), ids, val.shape);
      const exact = exportWeightOnly(gpt.model, results, { format: 'matmulnbits', prefill: 'matmulnbits', accuracyLevel: 0 }).model;
      const nodes = exact.graph!.node.filter((n) => n.opType === 'MatMulNBits');
      expect(nodes.length).toBe(25); // q/k/v of each block merged into one MatMulNBits + Split
      expect(exact.graph!.node.filter((n) => n.opType === 'Split').length).toBe(6);
      // accuracy_level 0 computes in float: only summation order differs.
      const FLOAT_TOL = 2e-3 * maxAbs(ref);
      expect(maxAbsDiff(await logits(serializeModel(exact), ids, val.shape), ref)).toBeLessThan(FLOAT_TOL);
      // accuracy_level 4 quantizes activations per block to int8: close, not exact.
      const fast = exportWeightOnly(gpt.model, results, { format: 'matmulnbits', prefill: 'matmulnbits' }).model;
      expect(fast.graph!.node.find((n) => n.opType === 'MatMulNBits')!.attribute.find((a) => a.name === 'accuracy_level')!.i).toBe(4n);
      const INT8_ACT_TOL = 0.08 * maxAbs(ref);
      expect(maxAbsDiff(await logits(serializeModel(fast), ids, val.shape), ref)).toBeLessThan(INT8_ACT_TOL);
    });
  }

  it('mixed widths in one export: 8-bit layers beside 4-bit ones, each exact against its dequantized weights; the int8 branch takes both', async () => {
    const layers = findLinearLayers(gpt.model, { opTypes: ['MatMul'], exclude: [] });
    // every fc (the MLP's first layer) and the v projections at 8 bits, the rest at 4
    const wide = new Map(layers.filter((l) => /fc|v_proj|\/v\//.test(l.nodes[0]!.name) || /mlp.*fc|c_fc/.test(l.weight)).map((l) => [l.weight, 8]));
    const pick = wide.size ? wide : new Map(layers.filter((_, i) => i % 3 === 0).map((l) => [l.weight, 8]));
    const results = rtnLayers(new Map(layers.map((l) => [l, layerWeightNK(gpt.model, gpt.baseDir, l)])), { bits: 4, symmetric: true, groupSize: 32 }, pick);
    expect(results.filter((r) => r.config.bits === 8).length).toBe(pick.size);
    const exact = exportWeightOnly(gpt.model, results, { format: 'matmulnbits', prefill: 'matmulnbits', accuracyLevel: 0 }).model;
    const bitsOf = (n: { attribute: { name: string; i: bigint }[] }) => Number(n.attribute.find((a) => a.name === 'bits')!.i);
    const nb = exact.graph!.node.filter((n) => n.opType === 'MatMulNBits');
    expect(new Set(nb.map(bitsOf))).toEqual(new Set([4, 8]));
    // nodes merged only with others of the same width
    for (const n of nb) {
      const init = exact.graph!.initializer.find((t) => t.name === n.input[1])!;
      expect(Number(init.dims[2])).toBe(Number(n.attribute.find((a) => a.name === 'block_size')!.i) * bitsOf(n) / 8);
    }
    const ref = await logits(withWeights(gpt.model, dequantOverrides(results)), ids, val.shape);
    expect(maxAbsDiff(await logits(serializeModel(exact), ids, val.shape), ref)).toBeLessThan(2e-3 * maxAbs(ref));
    // the 8-bit layers are closer to the float weights than they were at 4 bits
    const all4 = rtnLayers(new Map(layers.map((l) => [l, layerWeightNK(gpt.model, gpt.baseDir, l)])), { bits: 4, symmetric: true, groupSize: 32 });
    const fp = await logits(serializeModel(gpt.model), ids, val.shape);
    const e = (x: Float32Array) => maxAbsDiff(x, fp);
    expect(e(ref)).toBeLessThan(e(await logits(withWeights(gpt.model, dequantOverrides(all4)), ids, val.shape)));
    // the multi-row int8 branch unpacks both widths; one-row steps stay bit-identical to MatMulNBits
    const withBranch = exportWeightOnly(gpt.model, results, { format: 'matmulnbits', accuracyLevel: 0 }).model;
    expect(withBranch.graph!.node.some((n) => n.opType === 'If')).toBe(true);
    const one = BigInt64Array.of(72n);
    expect(await logits(serializeModel(withBranch), one, [1, 1])).toEqual(await logits(serializeModel(exact), one, [1, 1]));
    const viaInt8 = await logits(serializeModel(withBranch), ids, val.shape);
    expect(maxAbsDiff(viaInt8, ref)).toBeLessThan(0.08 * maxAbs(ref));
  });

  it('merging MatMulNBits that share an input (q/k/v + bias) changes no logit, at accuracy_level 0 and 4', async () => {
    const layers = findLinearLayers(gpt.model, { opTypes: ['MatMul'], exclude: [] });
    const results = rtnLayers(new Map(layers.map((l) => [l, layerWeightNK(gpt.model, gpt.baseDir, l)])), { bits: 4, symmetric: true, groupSize: 32 });
    for (const accuracyLevel of [0, 4]) {
      const merged = exportWeightOnly(gpt.model, results, { format: 'matmulnbits', prefill: 'matmulnbits', accuracyLevel });
      const separate = exportWeightOnly(gpt.model, results, { format: 'matmulnbits', prefill: 'matmulnbits', accuracyLevel, mergeSharedInput: false }).model;
      expect(merged.notices.some((n) => n.startsWith('Merged 6 group(s)'))).toBe(true);
      expect(separate.graph!.node.filter((n) => n.opType === 'MatMulNBits').length).toBe(37);
      const mm = merged.model.graph!.node.filter((n) => n.opType === 'MatMulNBits' && n.attribute.find((a) => a.name === 'N')!.i === 960n);
      expect(mm.length).toBe(6);
      expect(mm.every((n) => n.input[5])).toBe(true); // the q/k/v bias Adds moved into MatMulNBits
      expect(maxAbsDiff(await logits(serializeModel(merged.model), ids, val.shape), await logits(serializeModel(separate), ids, val.shape))).toBe(0);
    }
  });

  it('fuses the six tanh-GELUs into FastGelu (same logits as the nine-node form), not one whose inside is read elsewhere', async () => {
    const layers = findLinearLayers(gpt.model, { opTypes: ['MatMul'], exclude: [] });
    const results = rtnLayers(new Map(layers.map((l) => [l, layerWeightNK(gpt.model, gpt.baseDir, l)])), { bits: 4, symmetric: true, groupSize: 32 });
    const plain = exportWeightOnly(gpt.model, results, { format: 'matmulnbits', prefill: 'matmulnbits', accuracyLevel: 0, fuseGelu: false });
    const fused = exportWeightOnly(gpt.model, results, { format: 'matmulnbits', prefill: 'matmulnbits', accuracyLevel: 0 });
    const count = (m: typeof plain.model, op: string) => m.graph!.node.filter((n) => n.opType === op).length;
    expect(count(plain.model, 'Tanh')).toBe(6);
    expect(count(fused.model, 'FastGelu')).toBe(6);
    expect(count(fused.model, 'Tanh')).toBe(0);
    expect(count(fused.model, 'Mul')).toBe(count(plain.model, 'Mul') - 36);
    const a = await logits(serializeModel(plain.model), ids, val.shape);
    expect(maxAbsDiff(await logits(serializeModel(fused.model), ids, val.shape), a)).toBeLessThan(1e-3 * maxAbs(a));
    // A value inside one pattern is a graph output: that GELU stays as it is.
    const exposed = clone(ModelProtoSchema, gpt.model);
    const tanh = exposed.graph!.node.find((n) => n.opType === 'Tanh')!;
    exposed.graph!.output.push(clone(ValueInfoProtoSchema, exposed.graph!.output[0]!));
    exposed.graph!.output.at(-1)!.name = tanh.output[0]!;
    exposed.graph!.output.at(-1)!.type = undefined;
    const partial = exportWeightOnly(exposed, results, { format: 'matmulnbits', prefill: 'matmulnbits' });
    expect(count(partial.model, 'FastGelu')).toBe(5);
    expect(count(partial.model, 'Tanh')).toBe(1);
    // The int4 QDQ format is for runtimes without com.microsoft: no FastGelu there.
    expect(count(exportWeightOnly(gpt.model, results, { format: 'qdq' }).model, 'FastGelu')).toBe(0);
  });

  it('int4 export is at most 0.2× the FP32 file; opset-21 int4 QDQ export matches the dequantized model', async () => {
    const layers = findLinearLayers(gpt.model, { opTypes: ['MatMul'], exclude: [] });
    const results = rtnLayers(new Map(layers.map((l) => [l, layerWeightNK(gpt.model, gpt.baseDir, l)])), { bits: 4, symmetric: true, groupSize: 32 });
    const fp32Size = readFileSync(models.gpt).length;
    const nbits = serializeModel(exportWeightOnly(gpt.model, results, { format: 'matmulnbits', prefill: 'matmulnbits' }).model);
    const SIZE_RATIO = 0.2;
    expect(nbits.length).toBeLessThan(SIZE_RATIO * fp32Size);
    const qdq = exportWeightOnly(gpt.model, results, { format: 'qdq' }).model;
    expect(Number(qdq.opsetImport.find((o) => o.domain === '')!.version)).toBe(21);
    const dq = qdq.graph!.node.filter((n) => n.opType === 'DequantizeLinear');
    expect(dq.length).toBe(37);
    const qdqBytes = serializeModel(qdq);
    expect(qdqBytes.length).toBeLessThan(SIZE_RATIO * fp32Size);
    const ref = await logits(withWeights(gpt.model, dequantOverrides(results)), ids, val.shape);
    expect(maxAbsDiff(await logits(qdqBytes, ids, val.shape, 'basic'), ref)).toBeLessThan(2e-3 * maxAbs(ref));
  });
});

describe('weight-only export on a LLaMA-style fixture (tied, transposed head; RMSNorm with ReduceMean axes)', () => {
  const { model, seq } = buildLlamaFixture();
  const ids = BigInt64Array.from({ length: 2 * seq }, (_, i) => BigInt((i * 53 + 7) % 256));
  const layers = findLinearLayers(model, { opTypes: ['MatMul'], exclude: [] });
  const results = rtnLayers(new Map(layers.map((l) => [l, layerWeightNK(model, undefined, l)])), { bits: 4, symmetric: false, groupSize: 32 });

  it('keeps the float embedding for the Gather and packs the head from Transpose(embedding)', async () => {
    const head = layers.find((l) => l.nodes[0]!.name === '/head/MatMul')!;
    expect(head.kn).toBe(false);
    expect(head.sharedWith).toEqual(['/embed/Gather']);
    // Reference: float graph with every dequantized weight, the head reading its own copy through the Transpose.
    const hr = results.find((r) => r.layer === head)!;
    const refModel = clone(ModelProtoSchema, model);
    refModel.graph!.initializer.push(makeTensor('head_dq', DataType.FLOAT, [head.rows, head.cols], hr.qw.dequantized));
    refModel.graph!.node.find((n) => n.name === '/head/Transpose')!.input[0] = 'head_dq';
    const ref = await logits(withWeights(refModel, dequantOverrides(results.filter((r) => r !== hr))), ids, [2, seq], 'basic');
    const out = exportWeightOnly(model, results, { format: 'matmulnbits', prefill: 'matmulnbits', accuracyLevel: 0 }).model;
    const g = out.graph!;
    expect(g.node.some((n) => n.name === '/head/Transpose')).toBe(false); // pruned: MatMulNBits stores [N, K]
    const emb = g.initializer.find((t) => t.name === 'embed.weight')!;
    expect(tensorToFloat32(emb)).toEqual(tensorToFloat32(model.graph!.initializer.find((t) => t.name === 'embed.weight')!));
    // The head's packed weight dequantizes to the head's quantized weight.
    const hn = g.node.find((n) => n.name.startsWith('/head/MatMul'))!;
    const B = tensorToTypedArray(g.initializer.find((t) => t.name === hn.input[1])!) as Uint8Array;
    const S = tensorToFloat32(g.initializer.find((t) => t.name === hn.input[2])!);
    const Z = tensorToTypedArray(g.initializer.find((t) => t.name === hn.input[3])!) as Uint8Array;
    expect(maxAbsDiff(unpackMatMulNBits(B, S, Z, head.rows, head.cols, 32), hr.qw.dequantized)).toBe(0);
    const full = await logits(serializeModel(out), ids, [2, seq]);
    const TOL = 2e-3 * maxAbs(ref);
    expect(maxAbsDiff(full, ref)).toBeLessThan(TOL);
    const qdq = exportWeightOnly(model, results, { format: 'qdq' }).model;
    const viaQdq = await logits(serializeModel(qdq), ids, [2, seq], 'basic');
    expect(maxAbsDiff(viaQdq, ref)).toBeLessThan(TOL);
  });
});

describe('Gemm weights (transB, alpha, beta, bias)', () => {
  it('export to MatMulNBits and QDQ matches Gemm with the dequantized weight', async () => {
    const { create, ModelProtoSchema: MPS, GraphProtoSchema, NodeProtoSchema, ValueInfoProtoSchema, OperatorSetIdProtoSchema, AttributeProtoSchema, AttributeType } = await import('../../../engine/onnx/proto');
    const K = 96, N = 40, M = 5;
    const w = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 0.7) * 0.3);
    const bias = Float32Array.from({ length: N }, (_, i) => Math.cos(i));
    const build = (weight: Float32Array) => create(MPS, {
      irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
      graph: create(GraphProtoSchema, {
        name: 'gemm', input: [valueInfo('x')], output: [valueInfo('y')],
        initializer: [makeTensor('W', DataType.FLOAT, [N, K], weight), makeTensor('C', DataType.FLOAT, [N], bias)],
        node: [create(NodeProtoSchema, { name: 'fc', opType: 'Gemm', input: ['x', 'W', 'C'], output: ['y'], attribute: [
          create(AttributeProtoSchema, { name: 'transB', type: AttributeType.INT, i: 1n }),
          create(AttributeProtoSchema, { name: 'alpha', type: AttributeType.FLOAT, f: 0.5 }),
          create(AttributeProtoSchema, { name: 'beta', type: AttributeType.FLOAT, f: 2 }),
        ] })],
      }),
    });
    const model = build(w);
    const layers = findLinearLayers(model, { opTypes: ['Gemm'], exclude: [] });
    expect(layers.length).toBe(1);
    expect(layers[0]!.kn).toBe(false);
    const results = rtnLayers(new Map([[layers[0]!, layerWeightNK(model, undefined, layers[0]!)]]), { bits: 4, symmetric: false, groupSize: 32 });
    const x = Float32Array.from({ length: M * K }, (_, i) => Math.cos(i * 0.3));
    const run = async (m: typeof model, level: 'basic' | 'all' = 'basic') => {
      const s = await openSession(serializeModel(m), { optimization: level });
      const y = (await s.run({ x: new ort.Tensor('float32', x, [M, K]) })).y!.data as Float32Array;
      await s.release();
      return y;
    };
    const ref = await run(build(results[0]!.qw.dequantized));
    const TOL = 1e-4 * maxAbs(ref);
    expect(maxAbsDiff(await run(exportWeightOnly(model, results, { format: 'matmulnbits', prefill: 'matmulnbits', accuracyLevel: 0 }).model), ref)).toBeLessThan(TOL);
    expect(maxAbsDiff(await run(exportWeightOnly(model, results, { format: 'qdq' }).model), ref)).toBeLessThan(TOL);
  });
});
