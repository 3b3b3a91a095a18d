// Keeping the float ops of a weight-only int4 export cheap: the tanh-approximated GELU that GPT-2-style
// exporters write as nine elementwise nodes (x·x, ·x, ·0.044715, +x, ·√(2/π), Tanh, +1, ·x, ·0.5) becomes
// one com.microsoft FastGelu, which computes the same formula in one pass. ORT's own FastGeluFusion does
// not match the shape these exporters emit (it stays nine nodes even at graphOptimizationLevel 'all'),
// and with the MatMuls in int4 those elementwise passes are a visible share of a short decode step.
import { create, NodeProtoSchema, type GraphProto, type NodeProto } from '../proto';
import { GraphIndex } from '../graph';
import { matchTanhGelu } from './tanh-gelu';

/**
 * Replace every tanh-GELU pattern in `g` (matched by tanh-gelu.ts) by FastGelu (domain com.microsoft,
 * which the caller must import). Returns how many were fused. Only patterns whose intermediate values
 * nobody else reads are touched.
 */
export function fuseTanhGelu(g: GraphProto, baseDir?: string): number {
  const idx = new GraphIndex(g);
  const added = new Map<NodeProto, NodeProto>(); // root → FastGelu
  for (const tanh of g.node) {
    const m = matchTanhGelu(tanh, idx, baseDir);
    if (!m) continue;
    added.set(m.root, create(NodeProtoSchema, { opType: 'FastGelu', domain: 'com.microsoft', name: `${m.root.name || m.y}_FastGelu`, input: [m.x], output: [m.y] }));
  }
  if (!added.size) return 0;
  // The root's output now comes from FastGelu; the other pattern nodes lose their readers and are
  // dropped by the export's pruneUnused.
  g.node = g.node.map((n) => added.get(n) ?? n);
  return added.size;
}

/**
 * FastGelu(x + b) with a constant float [N] bias b, the Add read only by the FastGelu: b moves into
 * FastGelu's own bias input (it computes gelu(x + b) in the same pass). Returns how many were folded.
 */
export function foldBiasIntoFastGelu(graph: GraphProto): number {
  const g = new GraphIndex(graph);
  const drop = new Set<NodeProto>();
  for (const fg of graph.node) {
    if (fg.opType !== 'FastGelu' || fg.domain !== 'com.microsoft' || fg.input.length !== 1) continue;
    const add = g.producer.get(fg.input[0]!);
    if (!add || add.opType !== 'Add' || add.domain || add.input.length !== 2 || g.consumersOf(add.output[0]!).length !== 1 || g.graphOutputs.has(add.output[0]!)) continue;
    for (const [ci, xi] of [[0, 1], [1, 0]] as const) {
      const t = g.initializers.get(add.input[ci]!);
      if (!t || t.dataType !== 1 || t.dims.length !== 1 || g.initializers.has(add.input[xi]!)) continue;
      fg.input = [add.input[xi]!, add.input[ci]!];
      drop.add(add);
      break;
    }
  }
  if (drop.size) graph.node = graph.node.filter((n) => !drop.has(n));
  return drop.size;
}
