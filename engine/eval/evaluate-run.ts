// The evaluation at the end of a quantization run: FP32 vs quantized on the evaluation data (never the
// calibration or training samples unless nothing else exists, which the description then says), the
// cumulative per-layer error of every quantized node, output agreement and the task metrics the data
// allows. The pipeline calls this once (engine/pipeline/quantize.ts).
import type { ModelProto, GraphProto } from '../onnx/proto';
import type { QuantizeReport } from '../pipeline/report';
import type { Device } from '../runtime/session';
import type { WorkContext } from '../jobs/progress';
import { compareModels, type ComparedTensor } from './layer-error';
import type { EvaluationData } from './eval-data';
import type { NpyArray } from '../data/npy';
import type { Recipe } from '../pipeline/recipe';
import { qualityWarnings } from '../analysis/warnings';

/** A quantized node as the evaluation needs it: its name, op and the FP32 tensor it writes. */
export interface EvaluatedNode { node: string; opType: string; tensor: string }

function producedNames(g: GraphProto, out = new Set<string>()): Set<string> {
  for (const n of g.node) {
    for (const o of n.output) out.add(o);
    for (const a of n.attribute) for (const sg of [...(a.g ? [a.g] : []), ...a.graphs]) producedNames(sg, out);
  }
  return out;
}

/**
 * Where each node's output can be compared. A node whose output name no longer exists in the
 * quantized model is compared at its bias Add when only that Add reads it and the Add's output
 * exists in both models: the MatMulNBits export merges q/k/v into one wide MatMulNBits whose Split
 * writes the bias Adds' outputs (the MatMuls' own outputs vanish), which is why q/k/v were missing
 * from the per-layer view.
 */
export function comparedTensorsFor(original: ModelProto, quantized: ModelProto, nodes: EvaluatedNode[], dequantized?: Map<string, string>): ComparedTensor[] {
  const inOriginal = producedNames(original.graph!);
  const inQuantized = producedNames(quantized.graph!);
  const consumers = new Map<string, { opType: string; input: string[]; output: string[] }[]>();
  const constants = new Set(original.graph!.initializer.map((t) => t.name));
  for (const n of original.graph!.node) {
    if (n.opType === 'Constant') for (const o of n.output) constants.add(o);
    for (const i of n.input) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  }
  const list: ComparedTensor[] = [];
  for (const t of nodes) {
    if (!inOriginal.has(t.tensor)) continue;
    const q = dequantized?.get(t.tensor) ?? t.tensor;
    if (inQuantized.has(q)) { list.push({ tensor: t.tensor, quantizedTensor: q, node: t.node, opType: t.opType }); continue; }
    const cs = consumers.get(t.tensor) ?? [];
    const add = cs.length === 1 && cs[0]!.opType === 'Add' && cs[0]!.input.some((i) => i !== t.tensor && constants.has(i)) ? cs[0]! : undefined;
    const after = add?.output[0];
    if (after && inQuantized.has(dequantized?.get(after) ?? after)) list.push({ tensor: after, quantizedTensor: dequantized?.get(after) ?? after, node: t.node, opType: t.opType });
  }
  return list;
}

/** Fill the report's evaluation, per-layer (cumulative) error, output agreement and task metrics. */
export async function evaluateRun(report: QuantizeReport, o: {
  original: ModelProto; quantized: ModelProto; nodes: EvaluatedNode[]; dequantized?: Map<string, string>;
  evaluation: EvaluationData; batchSize: number; device?: Device; ctx?: WorkContext;
  /** Where a quality warning's quick sensitivity pass gets the model, recipe and calibration data. */
  diagnose?: { modelPath: string; recipe: Recipe; calibration: Record<string, NpyArray> };
}): Promise<void> {
  const tensors = comparedTensorsFor(o.original, o.quantized, o.nodes, o.dequantized);
  const cmp = await compareModels(o.original, o.quantized, tensors, o.evaluation.inputs, {
    samples: o.evaluation.info.samples, offset: 0, batchSize: Math.max(1, Math.min(8, o.batchSize)), device: o.device, ctx: o.ctx, labels: o.evaluation.labels,
  });
  report.evaluation = o.evaluation.info;
  report.layers = cmp.layers;
  report.layerErrorKind = 'cumulative';
  const { top1Fp32, top1Quantized, perplexityFp32, perplexityQuantized, ...agreement } = cmp.outputAgreement;
  report.outputAgreement = agreement;
  const metrics: Record<string, number> = {};
  if (top1Fp32 !== undefined && top1Quantized !== undefined) Object.assign(metrics, { top1Fp32, top1Quantized });
  if (perplexityFp32 !== undefined && perplexityQuantized !== undefined) Object.assign(metrics, { perplexityFp32, perplexityQuantized });
  if (Object.keys(metrics).length) report.metrics = { ...report.metrics, ...metrics };
  if (o.diagnose) {
    // Likeliest culprits first, so a time-bounded pass still reaches them: layers by cumulative
    // error, interleaved with activation tensors in graph order (an input spanning 0...8e11 is one).
    const cumulative = new Map(cmp.layers.map((l) => [l.node ?? l.tensor, Number.isNaN(l.sqnrDb) ? -Infinity : l.sqnrDb]));
    const warnings = await qualityWarnings(cmp.outputAgreement, {
      ...o.diagnose, evaluation: o.evaluation, ctx: o.ctx,
      unitOrder: (units) => {
        const w = units.filter((u) => u.kind === 'weight').sort((a, b) => (cumulative.get(a.name) ?? Infinity) - (cumulative.get(b.name) ?? Infinity));
        const a = units.filter((u) => u.kind === 'activation');
        const out = [];
        for (let i = 0; i < Math.max(w.length, a.length); i++) { if (a[i]) out.push(a[i]!); if (w[i]) out.push(w[i]!); }
        return out;
      },
    });
    if (warnings.length) report.warnings = warnings;
  }
}

/** The nodes a QDQ plan quantized, with the tensor each writes (after a Relu fold, the Relu's output). */
export function evaluatedNodes(plan: { targets: { node: { name: string; opType: string; output: string[] } }[] } | undefined): EvaluatedNode[] {
  return (plan?.targets ?? []).map((t) => ({ node: t.node.name, opType: t.node.opType, tensor: t.node.output[0]! }));
}
