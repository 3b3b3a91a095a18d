// The residual Add in front of a LayerNormalization (x + sublayer(x), then LN) becomes one
// com.microsoft SkipLayerNormalization, which adds, normalises and — through its fourth output — hands
// the sum on to the next residual, in one pass instead of two. A constant [D] bias Add on the sublayer's
// output (the projection's `+ b`) goes into the fused node's bias input as well. ORT's own
// SkipLayerNormFusion needs static shapes and so misses models exported with dynamic batch and sequence
// axes. Fused only where ranks are known: the input 3-D, the skip 3-D or 2-D (the op's contract), LN over
// the last axis with constant scale and bias, and nobody reading LN's mean / inverse-std outputs.
import { AttributeProtoSchema, AttributeType, create, type GraphProto, type NodeProto } from '../onnx/proto';
import { DataType } from '../onnx/tensor';
import { inferRanks } from '../onnx/ranks';
import { GraphIndex, makeNode } from '../onnx/graph';
import { attrFloat, attrInt } from '../onnx/attributes';

/** Fuse Add → LayerNormalization(axis −1) pairs of `g` (the caller imports com.microsoft). Returns the count. */
export function fuseSkipLayerNorm(graph: GraphProto, baseDir?: string): number {
  const g = new GraphIndex(graph);
  const ranks = inferRanks(graph, baseDir);
  const replaced = new Map<NodeProto, NodeProto>();
  const drop = new Set<NodeProto>();
  const order = new Map(graph.node.map((n, i) => [n, i]));
  for (const ln of graph.node) {
    if (ln.opType !== 'LayerNormalization' || ln.domain || ln.input.length < 3 || !ln.input[2]) continue;
    if (attrInt(ln, 'axis', -1) !== -1 || ln.output.slice(1).some((o) => o && (g.consumersOf(o).length || g.graphOutputs.has(o)))) continue;
    if (attrInt(ln, 'stash_type', 1) !== 1) continue;
    const gamma = g.constant(ln.input[1]!), beta = g.constant(ln.input[2]!);
    if (!gamma || !beta || gamma.dims.length !== 1 || beta.dims.length !== 1) continue;
    const D = Number(gamma.dims[0]);
    const add = g.producer.get(ln.input[0]!);
    if (!add || add.opType !== 'Add' || add.domain || add.input.length !== 2 || drop.has(add)) continue;
    // input: the 3-D addend; skip: the other, 3-D or 2-D. The op broadcasts skip, never input, so when
    // both are 3-D (one might be [1, S, D]) only a residual is fused: skip = a sublayer's output.
    const [a, b] = [add.input[0]!, add.input[1]!];
    let input: string, skip: string;
    if (ranks.get(a) === 3 && ranks.get(b) === 3) {
      if (isSublayerOutput(g, b)) [input, skip] = [a, b];
      else if (isSublayerOutput(g, a)) [input, skip] = [b, a];
      else continue;
    } else if (ranks.get(a) === 3 && ranks.get(b) === 2) [input, skip] = [a, b];
    else if (ranks.get(b) === 3 && ranks.get(a) === 2) [input, skip] = [b, a];
    else continue;
    const sum = add.output[0]!;
    const others = g.consumersOf(sum).filter((c) => c !== ln);
    // the sum comes from the fused node now, so every other reader must sit after the LN
    if (others.some((c) => (order.get(c) ?? -1) < order.get(ln)!)) continue;
    const sumRead = others.length > 0 || g.graphOutputs.has(sum);
    // skip = y + bias with a constant float [D] bias and y read only here: the bias moves into the node
    let skipIn = skip, bias = '';
    const biasAdd = g.producer.get(skip);
    if (biasAdd?.opType === 'Add' && !biasAdd.domain && g.consumersOf(skip).length === 1 && !g.graphOutputs.has(skip)) {
      for (const [ci, yi] of [[0, 1], [1, 0]] as const) {
        const t = g.initializers.get(biasAdd.input[ci]!);
        const y = biasAdd.input[yi]!;
        if (t && t.dataType === DataType.FLOAT && t.dims.length === 1 && Number(t.dims[0]) === D && ranks.get(y) === ranks.get(skip)) { skipIn = y; bias = biasAdd.input[ci]!; drop.add(biasAdd); break; }
      }
    }
    const eps = attrFloat(ln, 'epsilon', 1e-5);
    const inputs = [input, skipIn, ln.input[1]!, ln.input[2]!, ...(bias ? [bias] : [])];
    const skipLn = makeNode('SkipLayerNormalization', inputs, sumRead ? [ln.output[0]!, '', '', sum] : [ln.output[0]!],
      g.unique(`${ln.name || ln.output[0]}_SkipLayerNorm`), [create(AttributeProtoSchema, { name: 'epsilon', type: AttributeType.FLOAT, f: eps })], 'com.microsoft');
    replaced.set(ln, skipLn);
    drop.add(add);
  }
  if (!replaced.size) return 0;
  // The SkipLayerNormalization takes the LN's place and the Adds it absorbed go; the sum, if read, now
  // comes from the fused node's fourth output (all its other readers sit after the LN, checked above).
  graph.node = graph.node.filter((n) => !drop.has(n)).map((n) => replaced.get(n) ?? n);
  return replaced.size;
}

const SUBLAYER_OPS = new Set(['MatMul', 'MatMulNBits', 'Gemm', 'FusedMatMul', 'DynamicQuantizeMatMul', 'MultiHeadAttention', 'Attention']);

/** Whether `name` is a projection's output, possibly through a constant bias Add: a full-shape hidden state. */
function isSublayerOutput(g: GraphIndex, name: string, depth = 0): boolean {
  const p = g.producer.get(name);
  if (!p || depth > 2) return false;
  if (p.opType === 'Add' && !p.domain && p.input.length === 2) {
    const c = p.input.findIndex((i) => g.isConstant(i));
    return c >= 0 && isSublayerOutput(g, p.input[1 - c]!, depth + 1);
  }
  return SUBLAYER_OPS.has(p.opType);
}
