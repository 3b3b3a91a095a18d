// Export-time fusion of the tanh-approximated GELU that PyTorch/GPT exporters write out as nine
// elementwise ops (x·x·x, ·0.044715, +x, ·√(2/π), Tanh, +1, ·x, ·0.5) into one ONNX `Gelu`
// (opset 20, approximate="tanh"). ORT does not fuse this spelling by itself, and in a quantized
// transformer those float ops are a third of the run time once the MatMuls are int8 (moby-gpt:
// ~7 ms of 30 ms CPU time at T=256). Same function, float rounding aside. Only done when the model's
// opset already is 20+ or can be raised to 20 (engine/onnx/opset.ts), and never through a tensor the QDQ plan
// quantizes.
import type { GraphProto, ModelProto, NodeProto } from '../onnx/proto';
import { AttributeProtoSchema, AttributeType, create } from '../onnx/proto';
import { tensorToFloat32 } from '../onnx/tensor';
import { GraphIndex, makeNode, onnxOpset, subgraphsOf } from './qdq-graph';
import { canUpgradeOpset, upgradeOpset } from '../onnx/opset';

interface Match { x: string; y: string; nodes: NodeProto[] }

const near = (v: number | undefined, want: number, tol = 1e-3) => v !== undefined && Math.abs(v - want) <= tol * Math.abs(want);

function scalarOf(idx: GraphIndex, name: string, baseDir?: string): number | undefined {
  const t = idx.constant(name);
  if (!t || t.dims.reduce((a, b) => a * Number(b), 1) !== 1) return undefined;
  try { return tensorToFloat32(t, baseDir)[0]; } catch { return undefined; }
}

function matchAt(tanh: NodeProto, idx: GraphIndex, baseDir?: string): Match | undefined {
  const prod = (name: string | undefined) => (name ? idx.producer.get(name) : undefined);
  const only = (name: string) => idx.consumersOf(name).length === 1 && !idx.graphOutputs.has(name);
  const is = (n: NodeProto | undefined, op: string): n is NodeProto => !!n && n.opType === op && (n.domain === '' || n.domain === 'ai.onnx') && n.input.length === 2;
  /** For a binary node with one scalar-constant input: [other input, the constant]. */
  const withConst = (n: NodeProto): [string, number] | undefined => {
    for (const k of [0, 1]) {
      const c = scalarOf(idx, n.input[k]!, baseDir);
      if (c !== undefined && !idx.isConstant(n.input[1 - k]!)) return [n.input[1 - k]!, c];
    }
    return undefined;
  };
  const nodes: NodeProto[] = [tanh];
  // Before the Tanh: Mul(√(2/π), Add(x, Mul(0.044715, x³)))
  const m4 = prod(tanh.input[0]);
  if (!is(m4, 'Mul') || !only(tanh.input[0]!)) return;
  const k1 = withConst(m4);
  if (!k1 || !near(k1[1], Math.sqrt(2 / Math.PI))) return;
  const a1 = prod(k1[0]);
  if (!is(a1, 'Add') || !only(k1[0])) return;
  nodes.push(m4, a1);
  let x: string | undefined;
  for (const k of [0, 1]) {
    const m3 = prod(a1.input[1 - k]);
    if (!is(m3, 'Mul') || !only(a1.input[1 - k]!)) continue;
    const k2 = withConst(m3);
    if (!k2 || !near(k2[1], 0.044715)) continue;
    const cand = a1.input[k]!;
    // x³ as Pow(x, 3) or Mul(x, Mul(x, x)) in any order
    const c3 = prod(k2[0]);
    if (!c3 || !only(k2[0])) continue;
    if (c3.opType === 'Pow' && c3.input[0] === cand && near(scalarOf(idx, c3.input[1]!, baseDir), 3, 1e-6)) { nodes.push(m3, c3); x = cand; break; }
    if (is(c3, 'Mul')) {
      const sq = c3.input[0] === cand ? c3.input[1]! : c3.input[1] === cand ? c3.input[0]! : undefined;
      const s = prod(sq);
      if (sq && is(s, 'Mul') && s.input[0] === cand && s.input[1] === cand && only(sq)) { nodes.push(m3, c3, s); x = cand; break; }
    }
  }
  if (!x) return;
  // After the Tanh: Add(1, t), then 0.5·x·(1 + t) as Mul(Mul(x, a), 0.5), Mul(Mul(x, 0.5), a) or Mul(x, Mul(a, 0.5)).
  const a2 = idx.consumersOf(tanh.output[0]!)[0];
  if (!is(a2, 'Add') || !only(tanh.output[0]!)) return;
  const k3 = withConst(a2);
  if (!k3 || k3[1] !== 1) return;
  nodes.push(a2);
  const a = a2.output[0]!;
  if (!only(a)) return;
  const next = idx.consumersOf(a)[0]!;
  if (!is(next, 'Mul')) return;
  const other = next.input[0] === a ? next.input[1]! : next.input[0]!;
  let y: string | undefined;
  if (other === x && only(next.output[0]!)) {
    // Mul(x, a) -> Mul(·, 0.5)
    const last = idx.consumersOf(next.output[0]!)[0];
    const k = last && is(last, 'Mul') ? withConst(last) : undefined;
    if (last && k && k[0] === next.output[0] && near(k[1], 0.5, 1e-6)) { nodes.push(next, last); y = last.output[0]; }
  } else if (other !== x) {
    const h = prod(other);
    const k = h && is(h, 'Mul') ? withConst(h) : undefined;
    if (h && k && near(k[1], 0.5, 1e-6) && only(other) && (k[0] === x)) { nodes.push(next, h); y = next.output[0]; }
  }
  if (!y) return;
  return { x, y, nodes };
}

/** Tanh-GELU subgraphs in a graph (and its subgraphs) that touch none of the `keep` tensors inside. */
function findAll(g: GraphProto, keep: Set<string>, baseDir: string | undefined, parent?: GraphIndex): { graph: GraphProto; m: Match }[] {
  const idx = new GraphIndex(g, parent);
  const out: { graph: GraphProto; m: Match }[] = [];
  for (const n of g.node) {
    for (const a of n.attribute) for (const sg of subgraphsOf(a)) out.push(...findAll(sg, keep, baseDir, idx));
    if (n.opType !== 'Tanh' || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
    const m = matchAt(n, idx, baseDir);
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
    const gelu = new Map(ms.map((m) => {
      const last = m.nodes.find((n) => n.output[0] === m.y)!;
      return [last, makeNode('Gelu', [m.x], [m.y], `${last.name || m.y}_Gelu`, [approx()])] as const;
    }));
    g.node = g.node.flatMap((n) => (gelu.has(n) ? [gelu.get(n)!] : drop.has(n) ? [] : [n]));
  }
  return found.length;
}
