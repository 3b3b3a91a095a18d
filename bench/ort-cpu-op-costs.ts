// `node bin/run-ts.mjs bench/ort-cpu-op-costs.ts`: how onnxruntime's CPU kernels price the QDQ forms the
// exporter can write, one op at a time, against the same op in float. Each case is a one-Conv model
// (a Mul after it, so the Conv's output is quantized and ORT can fuse QLinearConv), exported through
// the real planner and writer (planQdq + rewriteQdq) in several forms, and timed with 1 thread (process CPU
// time) in interleaved rounds (the fastest round of each form against float's fastest). The figures behind
// engine/core/ort-cpu-costs.ts come from this script.
import { create, ModelProtoSchema, GraphProtoSchema, OperatorSetIdProtoSchema, AttributeProtoSchema, ValueInfoProtoSchema, TypeProtoSchema, TypeProto_TensorSchema, TensorShapeProtoSchema, TensorShapeProto_DimensionSchema, DataType, type ModelProto } from '../engine/onnx/proto';
import { floatTensor } from '../engine/onnx/tensor';
import { makeNode } from '../engine/onnx/graph';
import { serializeModel, parseModel } from '../engine/onnx/model-io';
import { planQdq } from '../engine/export/qdq-plan';
import { rewriteQdq } from '../engine/export/qdq-rewrite';
import { parseRecipe } from '../engine/pipeline/recipe';
import { createSession, ort } from '../engine/runtime/session';

const CHAIN = 6;

interface Case {
  id: string; op: 'Conv' | 'ConvTranspose'; cin: number; cout: number; k: number; group: number; stride: number; hw: number; batch: number;
  /** Each op of the chain follows a 1x1 pointwise Conv (a MobileNet/BlazeFace block): the decision the search makes is a depthwise Conv between int8 pointwise ones. */
  afterPointwise?: boolean;
}

const CASES: Case[] = [
  { id: 'depthwise 3x3 C=24 @128x128', op: 'Conv', cin: 24, cout: 24, k: 3, group: 24, stride: 1, hw: 128, batch: 1 },
  { id: 'depthwise 3x3 C=96 @32x32', op: 'Conv', cin: 96, cout: 96, k: 3, group: 96, stride: 1, hw: 32, batch: 1 },
  { id: 'pointwise + depthwise 3x3 C=24 @128x128', op: 'Conv', cin: 24, cout: 24, k: 3, group: 24, stride: 1, hw: 128, batch: 1, afterPointwise: true },
  { id: 'pointwise + depthwise 3x3 C=96 @32x32', op: 'Conv', cin: 96, cout: 96, k: 3, group: 96, stride: 1, hw: 32, batch: 1, afterPointwise: true },
  { id: 'grouped 3x3 C=48 g=4 @64x64', op: 'Conv', cin: 48, cout: 48, k: 3, group: 4, stride: 1, hw: 64, batch: 1 },
  { id: 'pointwise 1x1 24->24 @128x128', op: 'Conv', cin: 24, cout: 24, k: 1, group: 1, stride: 1, hw: 128, batch: 1 },
  { id: 'conv 3x3 32->32 @64x64', op: 'Conv', cin: 32, cout: 32, k: 3, group: 1, stride: 1, hw: 64, batch: 1 },
  { id: 'conv 5x5 s2 3->24 @256x256', op: 'Conv', cin: 3, cout: 24, k: 5, group: 1, stride: 2, hw: 256, batch: 1 },
  { id: 'conv 3x3 1->16 @28x28 batch 64', op: 'Conv', cin: 1, cout: 16, k: 3, group: 1, stride: 1, hw: 28, batch: 64 },
  { id: 'convtranspose 2x2 s2 32->16 @64x64', op: 'ConvTranspose', cin: 32, cout: 16, k: 2, group: 1, stride: 2, hw: 64, batch: 1 },
];

const valueInfo = (name: string, dims?: number[]) => create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: DataType.FLOAT, ...(dims ? { shape: create(TensorShapeProtoSchema, { dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: BigInt(d) } })) }) } : {}) }) } }) });

function rng(seed: number) { return () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32 - 0.5; }; }

function caseModel(c: Case): ModelProto {
  const r = rng(11);
  const ints = (name: string, v: number[]) => create(AttributeProtoSchema, { name, type: 7, ints: v.map(BigInt) });
  const wDims = c.op === 'Conv' ? [c.cout, c.cin / c.group, c.k, c.k] : [c.cin, c.cout / c.group, c.k, c.k];
  const n = wDims.reduce((a, b) => a * b, 1);
  const pad = c.op === 'Conv' ? Math.floor(c.k / 2) : 0;
  // Ops that keep the shape run as a chain of CHAIN (the same weight), as inside a network: the
  // float input's Q and the last output's DQ are paid once, not per op.
  const chain = c.cin === c.cout && c.stride === 1 && c.op === 'Conv' ? CHAIN : 1;
  const attrs = [ints('kernel_shape', [c.k, c.k]), ints('strides', [c.stride, c.stride]), ints('pads', [pad, pad, pad, pad]), create(AttributeProtoSchema, { name: 'group', type: 2, i: BigInt(c.group) })];
  return create(ModelProtoSchema, {
    irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph: create(GraphProtoSchema, {
      name: c.id,
      input: [valueInfo('x', [c.batch, c.cin, c.hw, c.hw])], output: [valueInfo('z', undefined)],
      initializer: [floatTensor('wp', [c.cin, c.cin, 1, 1], Float32Array.from({ length: c.cin * c.cin }, () => r() * 0.3)), floatTensor('w', wDims, Float32Array.from({ length: n }, () => r() * 0.5)), floatTensor('b', [c.cout], Float32Array.from({ length: c.cout }, () => r() * 0.1)), floatTensor('two', [], Float32Array.of(2))],
      node: [
        ...Array.from({ length: chain }, (_, i) => [
          ...(c.afterPointwise ? [makeNode('Conv', [i ? `y${i - 1}` : 'x', 'wp', 'b'], [`p${i}`], `pointwise${i}`)] : []),
          makeNode(c.op, [c.afterPointwise ? `p${i}` : i ? `y${i - 1}` : 'x', 'w', 'b'], [`y${i}`], `op${i}`, attrs),
        ]).flat(),
        makeNode('Mul', [`y${chain - 1}`, 'two'], ['z'], 'tail'),
      ],
    }),
  });
}

type Form = { id: string; recipe: object; pad?: 'force' | 'none'; weightOnly?: boolean; opFloat?: boolean };
const FORMS: Form[] = [
  { id: 'int8 pointwise, the op left float', recipe: {}, opFloat: true },
  { id: 'u8 act, s8 w per-channel', recipe: {} },
  { id: 'u8 act, s8 w per-tensor', recipe: { weights: { granularity: 'tensor' } } },
  { id: 's8 act (sym), s8 w per-channel', recipe: { activations: { dtype: 'int8', scheme: 'symmetric' } } },
  { id: 'u8 act, s8 w per-channel, channels padded to x4', recipe: {}, pad: 'force' },
  { id: 'u8 act, s8 w per-channel, no channel pad', recipe: {}, pad: 'none' },
  { id: 'weight-only s8 (float input)', recipe: {}, weightOnly: true },
];

function exportForm(c: Case, f: Form): ModelProto | undefined {
  const model = caseModel(c);
  if (f.opFloat && !c.afterPointwise) return undefined;
  const recipe = parseRecipe({ opTypes: [c.op], ...f.recipe, ...(f.opFloat ? { exclude: model.graph!.node.filter((n) => n.name.startsWith('op')).map((n) => n.name) } : {}) });
  const plan = planQdq(model, recipe, c.id);
  if (plan.targets.length === 0) throw new Error(`${c.id}: nothing quantized (${JSON.stringify(plan.skipped)})`);
  for (const t of plan.targets) {
    if (f.pad === 'force') { if (c.cin % 4 === 0 || c.group !== 1 || c.op !== 'Conv') return undefined; t.padChannelsTo = Math.ceil(c.cin / 4) * 4; }
    if (f.pad === 'none') { if (!t.padChannelsTo) return undefined; t.padChannelsTo = undefined; }
    if (f.weightOnly) { t.activationInputs = []; t.padChannelsTo = undefined; }
  }
  if (f.weightOnly) plan.activations.clear();
  // Latency does not depend on the ranges' values: a fixed range per tensor.
  const ranges = new Map([...plan.activations.values()].map((s) => [s, { min: -2, max: 2 }]));
  rewriteQdq(model, plan, ranges, recipe);
  return parseModel(serializeModel(model), c.id);
}

async function ratios(models: Uint8Array[], feeds: Record<string, InstanceType<typeof ort.Tensor>>, rounds: number, reps: number): Promise<{ ms: number; ratio: number }[]> {
  const ss = await Promise.all(models.map((m) => createSession(m, { device: 'cpu', threads: 1 })));
  // Process CPU time, not wall: on a shared machine the wall clock also counts other jobs' time slices.
  const time = async (s: (typeof ss)[number]) => { const c0 = process.cpuUsage(); for (let i = 0; i < reps; i++) await s.run(feeds); const c = process.cpuUsage(c0); return (c.user + c.system) / 1000 / reps; };
  for (const s of ss) await time(s);
  const ms: number[][] = ss.map(() => []);
  for (let r = 0; r < rounds; r++) { const v: number[] = []; for (const s of ss) v.push(await time(s)); v.forEach((m, i) => ms[i]!.push(m)); }
  await Promise.all(ss.map((s) => s.release()));
  // The fastest round of each model: other jobs on a shared machine only ever add time (cache and
  // core contention), so the minimum is the steadiest estimate of the kernel's own cost.
  const min = (v: number[]) => Math.min(...v);
  return ss.map((_, i) => ({ ms: min(ms[i]!), ratio: min(ms[i]!) / min(ms[0]!) }));
}

const only = process.argv.slice(2);
for (const c of CASES.filter((x) => !only.length || only.some((o) => x.id.includes(o)))) {
  const forms = FORMS.map((f) => ({ f, m: exportForm(c, f) })).filter((x) => x.m);
  const r = rng(5);
  const x = new Float32Array(c.batch * c.cin * c.hw * c.hw).map(() => r() * 4);
  const feeds = { x: new ort.Tensor('float32', x, [c.batch, c.cin, c.hw, c.hw]) };
  const res = await ratios([serializeModel(caseModel(c)), ...forms.map((x) => serializeModel(x.m!))], feeds, 21, 10);
  console.log(`${c.id}${c.cin === c.cout && c.stride === 1 && c.op === 'Conv' ? ` (chain of ${CHAIN})` : ''}: float ${res[0]!.ms.toFixed(3)} ms`);
  forms.forEach((x, i) => console.log(`  ${x.f.id.padEnd(48)} ${res[i + 1]!.ms.toFixed(3)} ms  ${res[i + 1]!.ratio.toFixed(3)}x float`));
}
