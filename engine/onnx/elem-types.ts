// Element types of a graph's values without running it: declared types (inputs, initializers,
// value_info, outputs) and a forward pass over the nodes for the rest. Enough to tell which float
// type (float32, float16, bfloat16, double) each activation has in mixed-precision graphs, so the
// QDQ writer can give scales the activation's own type and the plan can refuse what ORT cannot run.
import type { GraphProto, ModelProto, NodeProto } from './proto';
import { DataType } from './tensor';
import { constantNodeTensor } from './constants';

export const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression', 'TopK:1']);
const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
// Ops whose (first) output takes its type from a later input, not the first one.
const TYPE_FROM_INPUT: Record<string, number> = { Where: 1, Expand: 0, Gather: 0, DequantizeLinear: 1, Reshape: 0 };

function declared(g: GraphProto, into: Map<string, number>): void {
  for (const v of [...g.input, ...g.valueInfo, ...g.output]) {
    const tt = v.type?.value.case === 'tensorType' ? v.type.value.value : undefined;
    if (tt?.elemType) into.set(v.name, tt.elemType);
  }
  for (const t of g.initializer) into.set(t.name, t.dataType);
}

function nodeOutputType(n: NodeProto, types: Map<string, number>, k: number): number | undefined {
  if (n.opType === 'Cast') return Number(n.attribute.find((a) => a.name === 'to')?.i ?? 0) || undefined;
  if (n.opType === 'CastLike') return types.get(n.input[1] ?? '');
  if (n.opType === 'Constant') return constantNodeTensor(n)?.dataType;
  if (n.opType === 'ConstantOfShape') return n.attribute.find((a) => a.name === 'value')?.t?.dataType ?? DataType.FLOAT;
  if (n.opType === 'QuantizeLinear') return types.get(n.input[2] ?? '') ?? DataType.UINT8;
  if (n.opType === 'DynamicQuantizeLinear') return k === 0 ? DataType.UINT8 : k === 1 ? DataType.FLOAT : DataType.UINT8;
  if (INT64_OUT.has(n.opType) || INT64_OUT.has(`${n.opType}:${k}`)) return DataType.INT64;
  if (BOOL_OUT.has(n.opType)) return DataType.BOOL;
  if (n.opType === 'LSTM' || n.opType === 'GRU' || n.opType === 'RNN') return types.get(n.input[0] ?? '');
  const from = TYPE_FROM_INPUT[n.opType];
  if (from !== undefined) return types.get(n.input[from] ?? '');
  for (const i of n.input) { const t = i ? types.get(i) : undefined; if (t !== undefined) return t; }
  return undefined;
}

function infer(g: GraphProto, types: Map<string, number>): void {
  declared(g, types);
  for (const n of g.node) {
    for (const a of n.attribute) for (const sg of [...(a.g ? [a.g] : []), ...a.graphs]) infer(sg, types);
    // If/Loop/Scan outputs: the then-branch's outputs, in order (Loop/Scan: after the condition).
    const branch = n.opType === 'If' ? n.attribute.find((a) => a.name === 'then_branch')?.g : n.opType === 'Loop' || n.opType === 'Scan' ? n.attribute.find((a) => a.name === 'body')?.g : undefined;
    n.output.forEach((o, k) => {
      if (!o || types.has(o)) return;
      let t: number | undefined;
      if (branch) t = types.get(branch.output[n.opType === 'Loop' ? k + 1 : k]?.name ?? '');
      else t = nodeOutputType(n, types, k);
      if (t) types.set(o, t);
    });
  }
}

/** Element type of every value of the model (subgraphs included) that declared types and the
 *  forward pass determine; values it cannot place are absent. */
export function elementTypes(model: ModelProto): Map<string, number> {
  const types = new Map<string, number>();
  if (model.graph) infer(model.graph, types);
  return types;
}
