// One evaluation of a partly quantized model: the unit of work of sensitivity analysis and of the
// mixed-precision search. A task names, for every quantizable layer, the precision its weight takes
// ("recipe": the recipe's dtype, "int8", "float"), and which activation tensors are quantized; the
// shared part (the prepared float model, the calibrated ranges or the quantized weights, the
// evaluation data and the FP32 reference outputs) is computed ONCE (engine/analysis/prepare.ts) and
// reused by every task. Both are plain serialisable data, and runVariant is a pure function of
// (shared, task), so tasks run in any worker of the pool (engine/analysis/pool.ts) and could as well
// be fanned out to other machines through a queue.
import { parseModel, serializeModel } from '../onnx/model-io';
import type { ModelProto, TensorProto } from '../onnx/proto';
import type { NpyArray } from '../data/npy';
import type { Recipe } from '../../contract/recipe';
import { planQdq, dropUncalibrated } from '../export/qdq-plan';
import { rewriteQdq } from '../export/qdq-rewrite';
import { makeTensor } from '../onnx/tensor';
import { createSession, type StudioSession } from '../runtime/session';
import { batchRanges, feedsFor } from '../runtime/batching';
import { OutputScorer, lmWindows, scoreValues, type OutputScores } from '../eval/output-scores';

export type LayerPrecision = 'recipe' | 'int8' | 'float';

/** A weight-only layer's weight in each precision the search may give it, in the initializer's own layout. */
export interface WeightOnlyLayerData {
  /** The layer's key: its first MatMul/Gemm node. */
  node: string;
  /** All nodes reading the weight. */
  nodes: string[];
  weight: string;
  dims: number[];
  recipe: Float32Array;
  int8: Float32Array;
}

export interface AnalysisShared {
  /** The float model every variant starts from (Conv+BN folded, SmoothQuant applied as the recipe says). */
  modelBytes: Uint8Array;
  baseDir?: string;
  recipe: Recipe;
  mode: 'qdq' | 'weight-only';
  /** qdq: calibrated activation ranges (source tensor -> range), measured once. */
  ranges: [string, { min: number; max: number }][];
  /** weight-only: every layer's weight, quantized once (GPTQ/AWQ/RTN as the recipe says) and at int8. */
  layers: WeightOnlyLayerData[];
  evalInputs: Record<string, NpyArray>;
  evalLabels?: NpyArray;
  samples: number;
  batchSize: number;
  /** FP32 outputs (the model's first output), one per batch of batchRanges(samples, batchSize). */
  /** Per batch: the FP32 first output, and in `others` every further float output (scored too: the worst counts). */
  reference: { data: Float32Array; dims: number[]; type: string; others?: { name: string; data: Float32Array; dims: number[]; type: string }[] }[];
}

export interface VariantTask {
  id: string;
  /** Precision of each quantizable layer's weight, by node name; a node left out stays float. */
  weights: Record<string, LayerPrecision>;
  /** Activation tensors given a QuantizeLinear/DequantizeLinear pair (qdq only). */
  activations: string[];
  /** Score on the first N evaluation samples only (rounded up to whole batches); default all. */
  samples?: number;
}

export interface VariantResult { id: string; scores: OutputScores; ms: number; sizeBytes: number }

/** The variant's model: the shared float model with only what the task names quantized. */
export function buildVariant(shared: AnalysisShared, task: VariantTask, model: ModelProto = parseModel(shared.modelBytes, 'analysis model')): ModelProto {
  return buildVariantDetailed(shared, task, model).model;
}

/** buildVariant, plus each quantized activation's dequantized name (where its consumers now read it). */
export function buildVariantDetailed(shared: AnalysisShared, task: VariantTask, model: ModelProto = parseModel(shared.modelBytes, 'analysis model')): { model: ModelProto; dequantized: Map<string, string> } {
  if (shared.mode === 'weight-only') {
    const byName = new Map<string, TensorProto>();
    for (const l of shared.layers) {
      const p = task.weights[l.node];
      if (!p || p === 'float') continue;
      byName.set(l.weight, makeTensor(l.weight, 1, l.dims, p === 'int8' ? l.int8 : l.recipe));
    }
    const g = model.graph!;
    // A shallow copy: only the swapped initializers are new objects (the 30 MB GPT is not cloned per task).
    return { model: { ...model, graph: { ...g, initializer: g.initializer.map((t) => byName.get(t.name) ?? t) } } as ModelProto, dequantized: new Map() };
  }
  const plan = planQdq(model, shared.recipe, 'analysis model');
  dropUncalibrated(plan, new Set(shared.ranges.map(([t]) => t)));
  const acts = new Set(task.activations);
  for (const t of [...plan.activations.keys()]) if (!acts.has(t)) plan.activations.delete(t);
  plan.targets = plan.targets.filter((t) => {
    if (t.weightInput === undefined) return t.activationInputs.every((i) => plan.activations.has(t.node.input[i]!)) && task.weights[t.node.name] !== 'float';
    return task.weights[t.node.name] === 'recipe' || task.weights[t.node.name] === 'int8';
  });
  for (const t of plan.targets) {
    if (t.padChannelsTo && !plan.activations.has(t.node.input[0]!)) t.padChannelsTo = undefined;
    if (t.foldedRelu && !plan.activations.has(t.foldedRelu.output[0]!)) t.foldedRelu = undefined;
  }
  if (plan.targets.length === 0 && plan.activations.size === 0) return { model, dequantized: new Map() };
  const res = rewriteQdq(model, plan, new Map(shared.ranges), shared.recipe, shared.baseDir);
  return { model, dequantized: res.dequantized };
}

/** Run the task's variant over the evaluation data and score its outputs against the FP32 reference. */
export async function runVariant(shared: AnalysisShared, task: VariantTask): Promise<VariantResult> {
  const t0 = performance.now();
  const bytes = serializeModel(buildVariant(shared, task));
  const s = await createSession(bytes, { device: 'cpu', threads: 1, source: `variant ${task.id}`, baseDir: shared.baseDir });
  try {
    const scores = await scoreSession(s, shared, task.samples);
    return { id: task.id, scores, ms: performance.now() - t0, sizeBytes: bytes.byteLength };
  } finally {
    await s.release();
  }
}

export async function scoreSession(s: StudioSession, shared: AnalysisShared, samples = shared.samples): Promise<OutputScores> {
  const out = s.outputNames[0]!;
  const others = shared.reference[0]?.others?.map((o) => o.name).filter((n) => s.outputNames.includes(n)) ?? [];
  const scorer = new OutputScorer({ labels: shared.evalLabels, ids: lmWindows(shared.evalInputs) });
  // Whole batches only: the reference outputs were computed batch by batch.
  const n = Math.min(shared.samples, Math.ceil(Math.max(1, samples) / shared.batchSize) * shared.batchSize);
  let k = 0;
  for (const [a, b] of batchRanges(n, shared.batchSize)) {
    const r = await s.run(feedsFor(shared.evalInputs, a, b), [out, ...others]);
    const ref = shared.reference[k++]!;
    scorer.add(ref, { data: r[out]!.data, dims: r[out]!.dims.map(Number), type: r[out]!.type }, a, b);
    for (const o of ref.others ?? []) if (r[o.name]) scorer.addOutput(o.name, o, { data: r[o.name]!.data, dims: r[o.name]!.dims.map(Number), type: r[o.name]!.type });
  }
  return scorer.result();
}

/** The reference outputs runVariant compares with: the FP32 model on the same batches. */
export async function referenceOutputs(modelBytes: Uint8Array, evalInputs: Record<string, NpyArray>, samples: number, batchSize: number, baseDir?: string): Promise<AnalysisShared['reference']> {
  const s = await createSession(modelBytes, { device: 'cpu', source: 'FP32 reference', baseDir });
  const out = s.outputNames[0]!, lm = lmWindows(evalInputs) !== undefined;
  const refs: AnalysisShared['reference'] = [];
  try {
    for (const [a, b] of batchRanges(samples, batchSize)) {
      const all = await s.run(feedsFor(evalInputs, a, b), lm ? [out] : s.outputNames);
      const r = all[out]!;
      const v = scoreValues({ data: r.data, dims: r.dims, type: r.type });
      // Further float outputs (a detector's other heads) are kept for scoring too; non-float ones are not,
      // nor a language model's (token windows in: its figure is the logits, further outputs are KV cache).
      const others = lm ? [] : s.outputNames.slice(1).flatMap((name) => {
        const t = all[name]!, w = scoreValues({ data: t.data, dims: t.dims, type: t.type });
        return w ? [{ name, data: Float32Array.from(w), dims: t.dims.map(Number), type: t.type }] : [];
      });
      refs.push({ data: v ? Float32Array.from(v) : new Float32Array(0), dims: r.dims.map(Number), type: r.type, ...(others.length ? { others } : {}) });
    }
  } finally {
    await s.release();
  }
  return refs;
}
