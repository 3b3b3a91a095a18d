// A small LLaMA-style byte LM built as an ONNX graph with deterministic weights: RMSNorm written as
// Pow/ReduceMean/Add/Sqrt/Div/Mul (opset 17, ReduceMean axes as an attribute), rotary position
// embeddings (rotate-half with Split/Neg/Concat), causal attention, SwiGLU MLP (SiLU = x·Sigmoid(x)),
// and an LM head tied to the embedding through Transpose (tied + transposed weight).
// A few RMSNorm weight channels are large, as in real LLMs, so activation outliers exist.
import {
  create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, AttributeProtoSchema, AttributeType,
  toBinary, type ModelProto, type NodeProto, type TensorProto,
} from '../../../../engine/onnx/proto';
import { DataType, makeTensor } from '../../../../engine/onnx/tensor';
import { seededRandom as rng } from '../../../../engine/util/seeded-random';
import { valueInfo } from '../../../fixtures/value-info';

export interface LlamaFixtureOptions {
  vocab?: number;
  dim?: number;
  heads?: number;
  layers?: number;
  hidden?: number;
  /** Sequence length (static: the rotary tables and causal mask are sized for it). */
  seq?: number;
  seed?: number;
}


export function buildLlamaFixture(o: LlamaFixtureOptions = {}): { model: ModelProto; bytes: Uint8Array; seq: number } {
  const V = o.vocab ?? 256, D = o.dim ?? 64, Hh = o.heads ?? 4, L = o.layers ?? 2, F = o.hidden ?? 128, T = o.seq ?? 32;
  const hd = D / Hh;
  const r = rng(o.seed ?? 1234);
  const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let id = 0;
  const t = (p: string) => `${p}_${id++}`;
  const attrI = (name: string, v: number) => create(AttributeProtoSchema, { name, type: AttributeType.INT, i: BigInt(v) });
  const attrIs = (name: string, v: number[]) => create(AttributeProtoSchema, { name, type: AttributeType.INTS, ints: v.map(BigInt) });
  const op = (opType: string, inputs: string[], attrs: ReturnType<typeof attrI>[] = [], name?: string): string => {
    const out = t(name ?? opType);
    nodes.push(create(NodeProtoSchema, { name: name ?? out, opType, input: inputs, output: [out], attribute: attrs }));
    return out;
  };
  const f32 = (name: string, dims: number[], gen: (i: number) => number) => {
    const n = dims.reduce((a, b) => a * b, 1);
    inits.push(makeTensor(name, DataType.FLOAT, dims, Float32Array.from({ length: n }, (_, i) => gen(i))));
    return name;
  };
  const i64 = (name: string, v: number[]) => { inits.push(makeTensor(name, DataType.INT64, [v.length], BigInt64Array.from(v.map(BigInt)))); return name; };
  const mat = (name: string, K: number, N: number) => f32(name, [K, N], () => gauss() / Math.sqrt(K));

  f32('two', [], () => 2);
  f32('eps', [], () => 1e-5);
  f32('inv_sqrt_hd', [], () => 1 / Math.sqrt(hd));
  i64('shape_bthd', [0, T, Hh, hd]);
  i64('shape_btd', [0, T, D]);
  i64('split_half', [hd / 2, hd / 2]);
  f32('causal_mask', [T, T], (i) => (i % T > Math.floor(i / T) ? -1e9 : 0));
  // Rotary tables [T, hd]: cos/sin of pos·θ_i, θ_i = 10000^(−2i/hd), repeated for both halves.
  f32('rope_cos', [T, hd], (i) => Math.cos(Math.floor(i / hd) * 10000 ** (-(2 * (i % (hd / 2))) / hd)));
  f32('rope_sin', [T, hd], (i) => Math.sin(Math.floor(i / hd) * 10000 ** (-(2 * (i % (hd / 2))) / hd)));
  const emb = f32('embed.weight', [V, D], () => 0.5 * gauss());

  const rmsnorm = (x: string, p: string) => {
    // Outlier channels: a few norm weights ×8.
    const w = f32(`${p}.weight`, [D], (i) => (i % 16 === 3 ? 8 : 1) * (0.8 + 0.4 * r()));
    const sq = op('Pow', [x, 'two'], [], `/${p}/Pow`);
    const mean = op('ReduceMean', [sq], [attrIs('axes', [-1]), attrI('keepdims', 1)], `/${p}/ReduceMean`);
    const add = op('Add', [mean, 'eps'], [], `/${p}/Add`);
    const rt = op('Sqrt', [add], [], `/${p}/Sqrt`);
    const div = op('Div', [x, rt], [], `/${p}/Div`);
    return op('Mul', [div, w], [], `/${p}/Mul`);
  };
  const rope = (x: string, p: string) => {
    // x [B, H, T, hd]
    const halves = `${p}_halves`;
    nodes.push(create(NodeProtoSchema, { name: `/${p}/Split`, opType: 'Split', input: [x, 'split_half'], output: [`${halves}_0`, `${halves}_1`], attribute: [attrI('axis', -1)] }));
    const neg = op('Neg', [`${halves}_1`], [], `/${p}/Neg`);
    const rot = op('Concat', [neg, `${halves}_0`], [attrI('axis', -1)], `/${p}/Concat`);
    const a = op('Mul', [x, 'rope_cos'], [], `/${p}/MulCos`);
    const b = op('Mul', [rot, 'rope_sin'], [], `/${p}/MulSin`);
    return op('Add', [a, b], [], `/${p}/Add`);
  };
  const heads = (x: string, p: string) => op('Transpose', [op('Reshape', [x, 'shape_bthd'], [], `/${p}/Reshape`)], [attrIs('perm', [0, 2, 1, 3])], `/${p}/Transpose`);

  let h = op('Gather', [emb, 'input_ids'], [], '/embed/Gather');
  for (let l = 0; l < L; l++) {
    const p = `layers.${l}`;
    const x1 = rmsnorm(h, `${p}.attn_norm`);
    const q = op('MatMul', [x1, mat(`${p}.q.weight`, D, D)], [], `/${p}/q/MatMul`);
    const k = op('MatMul', [x1, mat(`${p}.k.weight`, D, D)], [], `/${p}/k/MatMul`);
    const v = op('MatMul', [x1, mat(`${p}.v.weight`, D, D)], [], `/${p}/v/MatMul`);
    const qh = rope(heads(q, `${p}/qh`), `${p}/rope_q`);
    const kh = rope(heads(k, `${p}/kh`), `${p}/rope_k`);
    const vh = heads(v, `${p}/vh`);
    const kt = op('Transpose', [kh], [attrIs('perm', [0, 1, 3, 2])], `/${p}/kT`);
    const sc = op('Mul', [op('MatMul', [qh, kt], [], `/${p}/scores/MatMul`), 'inv_sqrt_hd'], [], `/${p}/scale`);
    const pr = op('Softmax', [op('Add', [sc, 'causal_mask'], [], `/${p}/mask`)], [attrI('axis', -1)], `/${p}/Softmax`);
    const ctx = op('MatMul', [pr, vh], [], `/${p}/ctx/MatMul`);
    const merged = op('Reshape', [op('Transpose', [ctx], [attrIs('perm', [0, 2, 1, 3])], `/${p}/ctxT`), 'shape_btd'], [], `/${p}/merge`);
    const o = op('MatMul', [merged, mat(`${p}.o.weight`, D, D)], [], `/${p}/o/MatMul`);
    h = op('Add', [h, o], [], `/${p}/res1`);
    const x2 = rmsnorm(h, `${p}.mlp_norm`);
    const gate = op('MatMul', [x2, mat(`${p}.gate.weight`, D, F)], [], `/${p}/gate/MatMul`);
    const up = op('MatMul', [x2, mat(`${p}.up.weight`, D, F)], [], `/${p}/up/MatMul`);
    const silu = op('Mul', [gate, op('Sigmoid', [gate], [], `/${p}/Sigmoid`)], [], `/${p}/silu`);
    const act = op('Mul', [silu, up], [], `/${p}/swiglu`);
    const down = op('MatMul', [act, mat(`${p}.down.weight`, F, D)], [], `/${p}/down/MatMul`);
    h = op('Add', [h, down], [], `/${p}/res2`);
  }
  const xf = rmsnorm(h, 'final_norm');
  const embT = op('Transpose', [emb], [attrIs('perm', [1, 0])], '/head/Transpose');
  nodes.push(create(NodeProtoSchema, { name: '/head/MatMul', opType: 'MatMul', input: [xf, embT], output: ['logits'] }));

  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'quant-studio-llama-fixture',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph: create(GraphProtoSchema, {
      name: 'llama_fixture', node: nodes, initializer: inits,
      input: [valueInfo('input_ids', DataType.INT64, ['batch', T])],
      output: [valueInfo('logits', DataType.FLOAT, ['batch', T, V])],
    }),
  });
  return { model, bytes: toBinary(ModelProtoSchema, model), seq: T };
}
