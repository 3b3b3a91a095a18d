// The latency side of the target search for QDQ recipes on onnxruntime's CPU provider. Accuracy alone
// would keep every weight it can at int8, but on the CPU an int8 weight only pays inside a fused
// integer kernel, and some integer kernels are slower than their float twins: the table
// (engine/core/ort-cpu-costs.ts) says which. From an assignment that meets the target, this module
// names the weights to leave float for speed (`latencyRaises`), and measures the model a candidate
// makes against FP32 (`measureLatency`), so the report says what the written model costs to run.
import { clone } from '@bufbuild/protobuf';
import { ModelProtoSchema, type ModelProto } from '../onnx/proto';
import { planQdq, dropUncalibrated, graphIndexes } from '../export/qdq-plan';
import { attrInt } from '../onnx/attributes';
import { GraphIndex } from '../onnx/graph';
import { fusesToIntegerKernel, slowerInInt8OnCpu, type KernelShape } from '../core/ort-cpu-costs';
import { SHARE_SCALE_OPS } from '../core/ops';
import { buildVariant, type AnalysisShared, type VariantTask } from './variant-task';
import { createSession } from '../runtime/session';
import { serializeModel } from '../onnx/model-io';
import { feedsFor } from '../runtime/batching';

/** A weight unit's node as the exporter writes it: which activation tensors it reads and writes. */
export interface WeightKernel {
  node: string;
  shape: KernelShape;
  /** Activation tensors the node reads (its Q/DQ'd inputs). */
  inputs: string[];
  /** The tensor whose Q makes the node's integer output (a folded Relu's output, else the node's). */
  output: string;
}

/** Every weight target of the prepared model's QDQ plan (as the variants build it), by node name. */
export function weightKernels(prepared: ModelProto, shared: Pick<AnalysisShared, 'recipe' | 'ranges'>): Map<string, WeightKernel> {
  const model = clone(ModelProtoSchema, prepared);
  const plan = planQdq(model, shared.recipe, 'analysis model');
  dropUncalibrated(plan, new Set(shared.ranges.map(([t]) => t)));
  // One index per graph, each with its parent: a weight inside an If/Loop body may be an outer-scope constant.
  const indexOf = new Map(graphIndexes(model).map((i) => [i.graph, i]));
  const out = new Map<string, WeightKernel>();
  for (const t of plan.targets) {
    if (t.weightInput === undefined) continue;
    const w = indexOf.get(t.graph)?.constant(t.node.input[t.weightInput]!);
    const dims = w?.dims.map(Number) ?? [];
    const group = attrInt(t.node, 'group', 1);
    const [d0 = 0, d1 = 0] = dims;
    // Conv W [M, C/group, ...]; ConvTranspose W [C, M/group, ...].
    const shape: KernelShape = t.node.opType === 'ConvTranspose'
      ? { opType: t.node.opType, group, inChannels: d0, outChannels: d1 * group }
      : { opType: t.node.opType, group, inChannels: d1 * group, outChannels: d0 };
    out.set(t.node.name, { node: t.node.name, shape, inputs: t.activationInputs.map((i) => t.node.input[i]!), output: (t.foldedRelu ?? t.node).output[0]! });
  }
  return out;
}

export interface LatencyRaise {
  node: string;
  /** 'slower in int8': the table's row; 'no integer kernel': its input or output stays float. */
  reason: string;
}

/**
 * The quantized weights to leave float on the CPU: with `slowKernels`, those whose int8 kernel the
 * table prices above float; always those ORT cannot fuse into an integer kernel because an activation around
 * them stays float (the weight would be dequantized on every run). `quantizedWeights` and
 * `quantizedTensors` describe the assignment.
 */
export function latencyRaises(kernels: Map<string, WeightKernel>, quantizedWeights: Set<string>, quantizedTensors: Set<string>, o: { slowKernels: boolean } = { slowKernels: true }): LatencyRaise[] {
  const out: LatencyRaise[] = [];
  for (const name of quantizedWeights) {
    const k = kernels.get(name);
    if (!k) continue;
    // A weight no integer kernel takes goes float whatever the table says, and the report says so first.
    const inQ = k.inputs.length > 0 && k.inputs.every((t) => quantizedTensors.has(t));
    const outQ = quantizedTensors.has(k.output);
    if (!fusesToIntegerKernel(k.shape.opType, inQ, outQ)) {
      const floatOnes = [...(inQ ? [] : k.inputs.filter((t) => !quantizedTensors.has(t)).map((t) => `input ${t}`)), ...(outQ ? [] : [`output ${k.output}`])];
      out.push({ node: name, reason: `no integer kernel: ${floatOnes.join(' and ') || 'no quantized input'} float, so the int8 weight would be dequantized on every run` });
      continue;
    }
    const slow = o.slowKernels ? slowerInInt8OnCpu(k.shape) : undefined;
    if (slow) out.push({ node: name, reason: `${slow.id}: int8 runs ${slow.int8OverFloat[0]}-${slow.int8OverFloat[1]}x its float time on onnxruntime's CPU provider` });
  }
  return out;
}

/**
 * Ops onnxruntime runs on integers only while every activation around them is quantized
 * (QLinearAdd/QLinearMul/QLinearConcat/QLinearAveragePool; MaxPool, Reshape, ... move the integers of
 * a shared scale): they extend an integer region, but by themselves are no reason for a Q/DQ pair.
 */
const INTEGER_PASS_OPS: ReadonlySet<string> = new Set([...SHARE_SCALE_OPS, 'Add', 'Mul', 'Concat', 'AveragePool', 'GlobalAveragePool']);

/**
 * Quantized activation tensors no integer kernel reads or writes: neither a fused weight node
 * (`anchors`, as latencyRaises leaves them) nor, through the ops above with all their activations
 * quantized, any tensor that one does. Their QuantizeLinear/DequantizeLinear pair between float ops
 * only adds work (and rounding): the target search leaves them float too.
 */
export function idleActivations(prepared: ModelProto, kernels: Map<string, WeightKernel>, anchors: Set<string>, quantizedTensors: Set<string>): string[] {
  const idx = new GraphIndex(prepared.graph!);
  const useful = new Set<string>();
  const queue: string[] = [];
  const mark = (t: string) => { if (quantizedTensors.has(t) && !useful.has(t)) { useful.add(t); queue.push(t); } };
  for (const a of anchors) { const k = kernels.get(a); if (k) { k.inputs.forEach(mark); mark(k.output); } }
  while (queue.length) {
    const t = queue.pop()!;
    for (const n of [idx.producer.get(t), ...idx.consumersOf(t)]) {
      if (!n || !INTEGER_PASS_OPS.has(n.opType)) continue;
      const acts = [...n.input, ...n.output].filter((x) => x && !idx.isConstant(x));
      if (acts.every((x) => quantizedTensors.has(x))) acts.forEach(mark);
    }
  }
  return [...quantizedTensors].filter((t) => !useful.has(t));
}

/** Wall time the latency measurement may take before it stops adding rounds (after the first 3). */
export const LATENCY_BUDGET_MS = 20_000;

export interface LatencyMeasurement {
  /** One run of the model on the evaluation batch, process CPU time (1 thread), the fastest round. */
  fp32Ms: number;
  quantizedMs: number;
  ratio: number;
  /** How it was measured, for the report. */
  method: string;
}

/**
 * Each candidate's model (the variant the search scores: same plan, same ranges as the export) against
 * the FP32 model, on one evaluation batch, 1 intra-op thread, in interleaved rounds (FP32, then every
 * candidate); process CPU time and the fastest round of each (other jobs on a shared machine only ever
 * add time). One FP32 baseline for all, so the candidates compare with each other too.
 */
export async function measureLatency(shared: AnalysisShared, tasks: VariantTask[], rounds = 9, reps = 3): Promise<LatencyMeasurement[]> {
  const a = await createSession(shared.modelBytes, { device: 'cpu', threads: 1, source: 'FP32 (latency)', baseDir: shared.baseDir });
  const bs: Awaited<ReturnType<typeof createSession>>[] = [];
  try {
    for (const t of tasks) bs.push(await createSession(serializeModel(buildVariant(shared, t)), { device: 'cpu', threads: 1, source: `target candidate ${t.id} (latency)`, baseDir: shared.baseDir }));
    const feeds = feedsFor(shared.evalInputs, 0, Math.min(shared.samples, shared.batchSize));
    const time = async (s: typeof a) => { const c0 = process.cpuUsage(); for (let i = 0; i < reps; i++) await s.run(feeds); const c = process.cpuUsage(c0); return (c.user + c.system) / 1000 / reps; };
    const t0 = performance.now();
    await time(a);
    for (const b of bs) await time(b);
    let fa = Infinity, done = 0;
    const fb = bs.map(() => Infinity);
    // A large model (a second a run) would spend minutes here: after 3 rounds, stop once ~20 s went by.
    for (let r = 0; r < rounds && (r < 3 || performance.now() - t0 < LATENCY_BUDGET_MS); r++, done++) {
      fa = Math.min(fa, await time(a));
      for (let i = 0; i < bs.length; i++) fb[i] = Math.min(fb[i]!, await time(bs[i]!));
    }
    const method = `onnxruntime CPU, 1 thread, process CPU time, fastest of ${done} interleaved rounds of ${reps} runs on one evaluation batch`;
    return fb.map((ms) => ({ fp32Ms: fa, quantizedMs: ms, ratio: ms / fa, method }));
  } finally {
    await a.release();
    for (const b of bs) await b.release();
  }
}
