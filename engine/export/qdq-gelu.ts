// Export-time fusion of the tanh-approximated GELU that PyTorch/GPT exporters write out as nine
// elementwise ops (x·x·x, ·0.044715, +x, ·√(2/π), Tanh, +1, ·x, ·0.5) into one ONNX `Gelu`
// (opset 20, approximate="tanh"). ORT does not fuse this spelling by itself, and in a quantized
// transformer those float ops are a third of the run time once the MatMuls are int8 (moby-gpt:
// ~7 ms of 30 ms CPU time at T=256). Same function, float rounding aside. Only done when the model's
// opset already is 20+ or can be raised to 20 (engine/onnx/opset.ts), and never through a tensor the QDQ plan
// quantizes. The pattern is matched by tanh-gelu.ts (shared with the MatMulNBits export's FastGelu).
import type { GraphProto, ModelProto } from '../onnx/proto';
import { AttributeProtoSchema, AttributeType, create } from '../onnx/proto';
import { GraphIndex, makeNode, onnxOpset, subgraphsOf } from '../onnx/graph';
import { canUpgradeOpset, upgradeOpset } from '../onnx/opset';
import { matchTanhGelu, type TanhGeluMatch as Match } from '../onnx/fusions/tanh-gelu';

/** Tanh-GELU subgraphs in a graph (and its subgraphs) that touch none of the `keep` tensors inside. */
function findAll(g: GraphProto, keep: Set<string>, baseDir: string | undefined, parent?: GraphIndex): { graph: GraphProto; m: Match }[] {
  const idx = new GraphIndex(g, parent);
  const out: { graph: GraphProto; m: Match }[] = [];
  for (const n of g.node) {
    for (const { graph: sg } of subgraphsOf(n)) out.push(...findAll(sg, keep, baseDir, idx));
    const m = matchTanhGelu(n, idx, baseDir);
    if (!m) continue;
    if (m.nodes.some((k) => k.output.some((o) => o !== m.y && keep.has(o)))) continue;
    out.push({ graph: g, m });
  }
  return out;
}

/**
 * Replace every tanh-GELU subgraph by `Gelu(approximate="tanh")`, raising the opset to 20 if needed
 * and possible. `keep`: tensors that must stay (quantized activations). Returns how many were fused.
 */
export function fuseTanhGelu(model: ModelProto, keep: Set<string>, baseDir?: string): number {
  const found = findAll(model.graph!, keep, baseDir);
  if (found.length === 0) return 0;
  if (onnxOpset(model) < 20) {
    if (!canUpgradeOpset(model, 20)) return 0;
    upgradeOpset(model, 20);
  }
  const approx = () => create(AttributeProtoSchema, { name: 'approximate', type: AttributeType.STRING, s: new TextEncoder().encode('tanh') });
  const byGraph = new Map<GraphProto, Match[]>();
  for (const f of found) byGraph.set(f.graph, [...(byGraph.get(f.graph) ?? []), f.m]);
  for (const [g, ms] of byGraph) {
    const drop = new Set(ms.flatMap((m) => m.nodes));
    const gelu = new Map(ms.map((m) => [m.root, makeNode('Gelu', [m.x], [m.y], `${m.root.name || m.y}_Gelu`, [approx()])] as const));
    g.node = g.node.flatMap((n) => (gelu.has(n) ? [gelu.get(n)!] : drop.has(n) ? [] : [n]));
  }
  return found.length;
}
