// Tensor ranks through a graph, without values: what graph rewrites need to know when an op's contract
// depends on rank (a fused op that wants its "input" 3-D and its "skip" 3-D or 2-D). Ranks start from the
// graph inputs' declared shapes and the initializers, and follow a small table of ops; anything outside
// the table, or whose rank depends on a value not known here, is left unknown — callers treat unknown as
// "do not touch".
import { type GraphProto, type NodeProto } from './proto';
import { tensorToTypedArray } from './tensor';

const SAME_AS_FIRST = new Set([
  'Identity', 'Cast', 'Relu', 'Gelu', 'FastGelu', 'BiasGelu', 'Tanh', 'Sigmoid', 'Erf', 'Sqrt', 'Neg', 'Abs', 'Exp', 'Log', 'Not', 'Softmax',
  'LayerNormalization', 'SkipLayerNormalization', 'SimplifiedLayerNormalization', 'SkipSimplifiedLayerNormalization', 'RMSNormalization',
  'MatMulNBits', 'DynamicQuantizeMatMul', 'MultiHeadAttention', 'Transpose', 'Split', 'Dropout', 'QuickGelu', 'Silu', 'Clip',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Where', 'Equal', 'Less', 'Greater', 'And', 'Or', 'Max', 'Min']);

/** Rank of every tensor name in `g` that can be worked out (graph inputs, initializers, node outputs). */
export function inferRanks(g: GraphProto, baseDir?: string): Map<string, number> {
  const rank = new Map<string, number>();
  const constInts = new Map<string, number[]>();
  for (const t of g.initializer) {
    rank.set(t.name, t.dims.length);
    if (t.dataType === 7 && t.dims.length <= 1) constInts.set(t.name, Array.from(tensorToTypedArray(t, baseDir), Number));
  }
  for (const i of g.input) {
    const dims = i.type?.value.case === 'tensorType' ? i.type.value.value.shape?.dim : undefined;
    if (dims && !rank.has(i.name)) rank.set(i.name, dims.length);
  }
  for (const n of g.node) {
    const r = outputRank(n, rank, constInts);
    if (r !== undefined) for (const o of n.output) if (o) rank.set(o, r);
    if (n.opType === 'Constant' && !n.domain) {
      const t = n.attribute.find((a) => a.name === 'value')?.t;
      if (t) { rank.set(n.output[0]!, t.dims.length); if (t.dataType === 7 && t.dims.length <= 1) constInts.set(n.output[0]!, Array.from(tensorToTypedArray(t, baseDir), Number)); }
    }
  }
  return rank;
}

function outputRank(n: NodeProto, rank: Map<string, number>, constInts: Map<string, number[]>): number | undefined {
  const r = (i: number) => (n.input[i] ? rank.get(n.input[i]!) : undefined);
  const ints = (name: string) => n.attribute.find((a) => a.name === name)?.ints.map(Number);
  const op = n.opType;
  if (SAME_AS_FIRST.has(op)) return r(0);
  if (BROADCAST.has(op)) {
    const rs = n.input.filter((x) => x).map((x) => rank.get(x));
    return rs.some((x) => x === undefined) ? undefined : Math.max(...(rs as number[]));
  }
  switch (op) {
    case 'Gather': return r(0) !== undefined && r(1) !== undefined ? r(0)! - 1 + r(1)! : undefined;
    case 'MatMul': return r(0) !== undefined && r(1) !== undefined ? Math.max(r(0)!, r(1)!, 2) : undefined;
    case 'Gemm': return 2;
    case 'Shape': case 'Range': return 1;
    case 'Reshape': {
      const shape = constInts.get(n.input[1]!);
      return shape ? shape.length : undefined;
    }
    case 'Unsqueeze': {
      const axes = ints('axes') ?? constInts.get(n.input[1] ?? '');
      return r(0) !== undefined && axes ? r(0)! + axes.length : undefined;
    }
    case 'Squeeze': {
      const axes = ints('axes') ?? constInts.get(n.input[1] ?? '');
      return r(0) !== undefined && axes ? r(0)! - axes.length : undefined;
    }
    case 'Concat': return r(0);
    case 'Slice': return r(0);
    default: return undefined;
  }
}
