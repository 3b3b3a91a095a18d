// What a pipeline's recipe does to one tensor, as the exporter does it: a weight of a quantized op
// becomes an integer tensor with the recipe's dtype, scheme and granularity (per tensor, per output
// channel, or in groups); a Conv/Gemm bias becomes int32 (its scale is input scale × weight scale);
// an activation feeding a quantized op gets the activation dtype and the calibration method; anything
// else — embeddings when Gather is not in the op types, excluded nodes, integer (shape) tensors,
// activations of a weight-only recipe, non-MatMul weights of a MatMulNBits export — stays float, and
// the reason is said. The Ranges view marks only what this says.
import type { GraphView } from '../../../../contract/ipc';
import type { RecipeJson } from '../pipeline/compile';

export type Treatment =
  | { kind: 'weight'; dtype: string; scheme: string; granularity: 'tensor' | 'channel' | 'group'; group?: number; bits: number; node: string }
  | { kind: 'bias'; dtype: 'int32'; node: string }
  | { kind: 'activation'; dtype: string; scheme: string; method: string; percentile?: number; bits: number; node: string }
  | { kind: 'float'; why: string };

const BITS: Record<string, number> = { int8: 8, uint8: 8, int4: 4, uint4: 4, int3: 3 };
/** Integer, bool and string element types (shape tensors, indices, masks): never quantized. A tensor
 *  whose type the graph does not know (no shape inference) is not assumed to be one. */
export const INTEGER_DTYPE = /^(u?int\d*|U?INT\d*|bool|BOOL|string|STRING)$/;
/** Index of the weight input and the bias input per op (ONNX's operand order). */
const WEIGHT_INPUT: Record<string, number> = { Conv: 1, ConvTranspose: 1, Gemm: 1, MatMul: 1, Gather: 0 };
const BIAS_INPUT: Record<string, number> = { Conv: 2, ConvTranspose: 2, Gemm: 2 };

export function pipelineTreatment(tensor: string, graph: GraphView, recipe: RecipeJson): Treatment {
  const info = graph.tensors.find((t) => t.name === tensor);
  const consumers = graph.nodes.filter((n) => n.inputs.includes(tensor));
  const ops = new Set(recipe.opTypes);
  const excluded = new Set(recipe.exclude);
  const nodeName = (n: { name: string; id: string }) => n.name || n.id;
  if (info && INTEGER_DTYPE.test(info.dtype)) return { kind: 'float', why: `${info.dtype} tensor: integers are not quantized` };
  const isWeight = info?.kind === 'weight' || consumers.some((n) => n.weights.includes(tensor));
  if (isWeight) {
    for (const n of consumers) {
      const at = n.inputs.indexOf(tensor);
      const why = !ops.has(n.opType) ? `${n.opType} '${nodeName(n)}' is not among the recipe's op types (${recipe.opTypes.join(', ') || 'none'})${n.opType === 'Gather' ? ': the embedding stays float' : ''}`
        : excluded.has(nodeName(n)) ? `node '${nodeName(n)}' is excluded by the recipe`
        : recipe.format === 'matmulnbits' && n.opType !== 'MatMul' ? `a MatMulNBits export quantizes MatMul weights only (${n.opType} '${nodeName(n)}' stays float)`
        : undefined;
      if (why) continue;
      if (BIAS_INPUT[n.opType] === at) {
        if (recipe.activations === null || recipe.format === 'matmulnbits') return { kind: 'float', why: `bias of ${n.opType} '${nodeName(n)}': a weight-only recipe leaves biases float` };
        return { kind: 'bias', dtype: 'int32', node: nodeName(n) };
      }
      const wi = n.opType === 'MatMul' ? (n.weights.includes(n.inputs[1] ?? '') ? 1 : 0) : WEIGHT_INPUT[n.opType];
      if (wi !== at) continue;
      const g = recipe.weights.granularity;
      const granularity = typeof g === 'object' && g ? 'group' : g === 'tensor' ? 'tensor' : 'channel';
      // Fields the recipe leaves out take the recipe contract's defaults (int8, symmetric, per channel).
      const dtype = recipe.weights.dtype ?? 'int8', scheme = recipe.weights.scheme ?? 'symmetric';
      return { kind: 'weight', dtype, scheme, granularity, ...(typeof g === 'object' ? { group: g.group } : {}), bits: BITS[dtype] ?? 8, node: nodeName(n) };
    }
    const n = consumers[0];
    if (!n) return { kind: 'float', why: 'no node reads this weight' };
    return { kind: 'float', why: !ops.has(n.opType) ? `${n.opType} '${nodeName(n)}' is not among the recipe's op types (${recipe.opTypes.join(', ') || 'none'})${n.opType === 'Gather' ? ': the embedding stays float' : ''}` : excluded.has(nodeName(n)) ? `node '${nodeName(n)}' is excluded by the recipe` : `not a weight input of ${n.opType} '${nodeName(n)}'` };
  }
  if (recipe.activations === null) return { kind: 'float', why: 'a weight-only recipe leaves activations float' };
  if (recipe.format === 'matmulnbits') return { kind: 'float', why: 'a MatMulNBits export leaves activations float' };
  // The activation operand: input 0 of Conv/ConvTranspose/Gemm, either input of MatMul; Gather's indices are integers.
  const activationInput = (n: GraphView['nodes'][number]) => (n.opType === 'MatMul' ? true : n.opType === 'Gather' ? false : n.inputs.indexOf(tensor) === 0);
  const q = consumers.find((n) => ops.has(n.opType) && !excluded.has(nodeName(n)) && activationInput(n));
  if (!q) return { kind: 'float', why: consumers.length ? `no quantized op reads it (${[...new Set(consumers.map((n) => n.opType))].join(', ')})` : 'no node reads it' };
  const a = recipe.activations;
  return { kind: 'activation', dtype: a.dtype, scheme: a.scheme, method: a.calibration.method, ...(a.calibration.percentile !== undefined ? { percentile: a.calibration.percentile } : {}), bits: BITS[a.dtype] ?? 8, node: nodeName(q) };
}

/** One line for the view: "int4 symmetric, groups of 32 (per block along the input), weight of MatMul 'fc1'". */
export function treatmentText(t: Treatment): string {
  switch (t.kind) {
    case 'weight': return `${t.dtype} ${t.scheme}, ${t.granularity === 'tensor' ? 'one scale for the tensor' : t.granularity === 'channel' ? 'one scale per output channel' : `one scale per group of ${t.group}`} — weight of '${t.node}'`;
    case 'bias': return `int32 bias of '${t.node}' (scale = input scale × weight scale, zero point 0): no range of its own`;
    case 'activation': return `${t.dtype} ${t.scheme}, range by ${t.method}${t.percentile !== undefined && t.method === 'percentile' ? ` ${t.percentile}` : ''} — input of '${t.node}'`;
    case 'float': return `left in float: ${t.why}`;
  }
}
