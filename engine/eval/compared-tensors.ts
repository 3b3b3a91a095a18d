// Where each quantized node's output is compared between the FP32 and the quantized model (names
// differ when the export renamed or merged values). A leaf of engine/eval: evaluation and analysis use it.
import type { ModelProto, GraphProto } from '../onnx/proto';
import type { ComparedTensor } from './layer-error';

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

