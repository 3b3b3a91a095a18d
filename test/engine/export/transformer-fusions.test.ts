// Graph fusions of the int4 export (MultiHeadAttention, SkipLayerNormalization) on the real moby-gpt
// FP32 graph: the fused graph computes the same logits in ORT, patterns that are not provably the same
// computation are left alone, and the LLaMA-style fixture (rotary, additive mask, RMSNorm) is untouched.
import { describe, it, expect, beforeAll } from 'vitest';
import { ort, openSession } from '../../helpers/ort';
import { models, hasShared } from '../../helpers/shared';
import { maxAbs, maxAbsDiff } from '../../helpers/compare';
import { loadModel, serializeModel, type LoadedModel } from '../../../engine/onnx/model-io';
import { clone, ModelProtoSchema, type ModelProto } from '../../../engine/onnx/proto';
import { tensorToTypedArray, makeTensor, DataType } from '../../../engine/onnx/tensor';
import { fuseAttention } from '../../../engine/export/fuse-attention';
import { fuseSkipLayerNorm } from '../../../engine/export/fuse-skip-layernorm';
import { pruneUnused } from '../../../engine/onnx/graph';
import { inferRanks } from '../../../engine/onnx/ranks';
import { buildLlamaFixture } from '../quant/algorithms/llama-fixture';

async function logits(m: ModelProto, T: number): Promise<Float32Array> {
  const s = await openSession(serializeModel(m), { threads: 1 });
  const ids = BigInt64Array.from({ length: T }, (_, i) => BigInt((i * 37 + 11) % 256));
  const r = await s.run({ input_ids: new ort.Tensor('int64', ids, [1, T]) });
  await s.release();
  return r[s.outputNames[0]!]!.data as Float32Array;
}
const count = (m: ModelProto, op: string) => m.graph!.node.filter((n) => n.opType === op).length;
// Float reassociation only (the fused kernels sum in another order): 1e-5 of the logits' range.
const REORDER_TOL = 1e-5;

describe.skipIf(!hasShared)('transformer fusions on moby-gpt (FP32 graph)', () => {
  let gpt: LoadedModel;
  beforeAll(async () => { gpt = await loadModel(models.gpt); });

  it('fuses the six attention blocks into MultiHeadAttention (causal, 5 heads) with the same logits', async () => {
    const m = clone(ModelProtoSchema, gpt.model);
    const r = fuseAttention(m.graph!);
    pruneUnused(m.graph!);
    expect(r.fused).toBe(6);
    expect(r.heads).toEqual([5, 5, 5, 5, 5, 5]);
    expect(count(m, 'MultiHeadAttention')).toBe(6);
    expect(count(m, 'Softmax')).toBe(0);
    const mha = m.graph!.node.find((n) => n.opType === 'MultiHeadAttention')!;
    expect(Number(mha.attribute.find((a) => a.name === 'unidirectional')!.i)).toBe(1);
    for (const T of [1, 7, 40]) {
      const ref = await logits(gpt.model, T);
      expect(maxAbsDiff(await logits(m, T), ref)).toBeLessThan(REORDER_TOL * maxAbs(ref) + 1e-5);
    }
  });

  it('leaves attention alone when the mask buffer is not causal', () => {
    const m = clone(ModelProtoSchema, gpt.model);
    // the first Slice of block 0 reads the mask buffer: flip one entry above the diagonal
    const slice = m.graph!.node.find((n) => n.name === '/blocks.0/Slice')!;
    const holder = m.graph!.node.find((n) => n.output[0] === slice.input[0]);
    const t = holder?.attribute.find((a) => a.name === 'value')?.t ?? m.graph!.initializer.find((x) => x.name === slice.input[0])!;
    const L = Number(t.dims.at(-1));
    const v = Uint8Array.from(tensorToTypedArray(t) as Uint8Array);
    v[1] = v[1] ? 0 : 1; // row 0, column 1
    const flipped = makeTensor(t.name, t.dataType, t.dims.map(Number), t.dataType === DataType.BOOL ? v : Float32Array.from(v));
    if (holder) holder.attribute.find((a) => a.name === 'value')!.t = flipped;
    else m.graph!.initializer[m.graph!.initializer.indexOf(t)] = flipped;
    expect(L).toBeGreaterThan(1);
    const r = fuseAttention(m.graph!);
    // every block slices the same buffer in this export, so none is provably causal now
    expect(r.fused).toBe(0);
  });

  it('fuses residual Add + LayerNorm into SkipLayerNormalization (ranks known) with the same logits', async () => {
    const m = clone(ModelProtoSchema, gpt.model);
    fuseAttention(m.graph!);
    const ranks = inferRanks(m.graph!);
    expect(ranks.get('/Add_output_0')).toBe(3); // token embedding [B, T, D] + position embedding [T, D]
    expect(ranks.get('/pos/Gather_output_0')).toBe(2);
    const n = fuseSkipLayerNorm(m.graph!);
    pruneUnused(m.graph!);
    // 12 block norms: block 0's ln1 reads the embedding sum, whose Add is not a residual (two Gathers) —
    // it is fused too (input rank 3, skip rank 2), and ln_f reads the last residual.
    expect(n).toBeGreaterThanOrEqual(7);
    expect(count(m, 'SkipLayerNormalization')).toBe(n);
    for (const T of [1, 9, 64]) {
      const ref = await logits(gpt.model, T);
      expect(maxAbsDiff(await logits(m, T), ref)).toBeLessThan(REORDER_TOL * maxAbs(ref) + 1e-5);
    }
  });
});

describe('transformer fusions on the LLaMA-style fixture', () => {
  it('match nothing there (rotary embeddings, additive mask, RMSNorm) and leave a runnable graph', async () => {
    const { model, seq } = buildLlamaFixture();
    const m = clone(ModelProtoSchema, model);
    expect(fuseAttention(m.graph!).fused).toBe(0);
    expect(fuseSkipLayerNorm(m.graph!)).toBe(0);
    pruneUnused(m.graph!);
    const run = async (x: ModelProto) => {
      const s = await openSession(serializeModel(x));
      const ids = BigInt64Array.from({ length: seq }, (_, i) => BigInt((i * 53 + 7) % 256));
      const r = await s.run({ input_ids: new ort.Tensor('int64', ids, [1, seq]) });
      return r[s.outputNames[0]!]!.data as Float32Array;
    };
    expect(maxAbsDiff(await run(m), await run(model))).toBe(0);
  });
});
