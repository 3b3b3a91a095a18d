// Keeping the float ops of a weight-only int4 export cheap: the tanh-approximated GELU that GPT-2-style
// exporters write as nine elementwise nodes (x·x, ·x, ·0.044715, +x, ·√(2/π), Tanh, +1, ·x, ·0.5) becomes
// one com.microsoft FastGelu, which computes the same formula in one pass. ORT's own FastGeluFusion does
// not match the shape these exporters emit (it stays nine nodes even at graphOptimizationLevel 'all'),
// and with the MatMuls in int4 those elementwise passes are a visible share of a short decode step.
import { create, NodeProtoSchema, type GraphProto, type NodeProto } from '../onnx/proto';
import { tensorToFloat32 } from '../onnx/tensor';
import { GraphIndex } from './qdq-graph';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

interface Ctx {
  producer: Map<string, NodeProto>;
  consumers: Map<string, NodeProto[]>;
  constant: (name: string) => number | undefined;
  outputs: Set<string>;
}

/** Factors of a product: walks into Mul nodes whose result is read only by this product. */
function factors(c: Ctx, name: string, inner: NodeProto[], top = true): string[] {
  const p = c.producer.get(name);
  if (!p || p.opType !== 'Mul' || (!top && ((c.consumers.get(name)?.length ?? 0) !== 1 || c.outputs.has(name)))) return [name];
  inner.push(p);
  return [...factors(c, p.input[0]!, inner, false), ...factors(c, p.input[1]!, inner, false)];
}

const near = (v: number | undefined, want: number) => v !== undefined && Math.abs(v - want) <= 1e-4 * Math.abs(want);

/** Splits factors into (constants, others) and checks the constant product. */
function splitConst(c: Ctx, fs: string[]): { k: number; rest: string[] } {
  let k = 1;
  const rest: string[] = [];
  for (const f of fs) { const v = c.constant(f); if (v === undefined) rest.push(f); else k *= v; }
  return { k, rest };
}

function single(c: Ctx, name: string): NodeProto | undefined {
  const cs = c.consumers.get(name) ?? [];
  return cs.length === 1 && !c.outputs.has(name) ? cs[0] : undefined;
}

/**
 * Replace every tanh-GELU pattern in `g` by FastGelu (domain com.microsoft, which the caller must import).
 * Returns how many were fused. Only patterns whose intermediate values nobody else reads are touched.
 */
export function fuseTanhGelu(g: GraphProto, baseDir?: string): number {
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) {
    for (const o of n.output) producer.set(o, n);
    for (const i of n.input) { if (!consumers.has(i)) consumers.set(i, []); consumers.get(i)!.push(n); }
  }
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const constant = (name: string): number | undefined => {
    const p = producer.get(name);
    const t = inits.get(name) ?? (p?.opType === 'Constant' ? p.attribute.find((at) => at.name === 'value')?.t : undefined);
    if (!t || t.dims.reduce((a, b) => a * Number(b), 1) !== 1 || t.dataType !== 1) return undefined;
    return tensorToFloat32(t, baseDir)[0];
  };
  const c: Ctx = { producer, consumers, constant, outputs: new Set(g.output.map((o) => o.name)) };
  const added = new Map<NodeProto, NodeProto>(); // root → FastGelu
  let fused = 0;
  for (const tanh of g.node) {
    if (tanh.opType !== 'Tanh') continue;
    // Tanh argument: √(2/π) · (x + 0.044715 · x³)
    const innerArg: NodeProto[] = [];
    const a = splitConst(c, factors(c, tanh.input[0]!, innerArg));
    if (!near(a.k, SQRT_2_OVER_PI) || a.rest.length !== 1 || (innerArg.length && single(c, tanh.input[0]!) !== tanh)) continue;
    const add = producer.get(a.rest[0]!);
    if (!add || add.opType !== 'Add' || single(c, add.output[0]!) === undefined) continue;
    let x: string | undefined, cubic: string | undefined;
    for (const [i, j] of [[0, 1], [1, 0]] as const) {
      const innerCube: NodeProto[] = [];
      const f = splitConst(c, factors(c, add.input[j]!, innerCube));
      if (near(f.k, 0.044715) && f.rest.length === 3 && f.rest.every((v) => v === add.input[i]) && single(c, add.input[j]!)) { x = add.input[i]; cubic = add.input[j]; innerArg.push(...innerCube); }
    }
    if (!x || !cubic) continue;
    // 1 + tanh, then x · 0.5 · (1 + tanh) as a Mul tree ending at `root`.
    const onePlus = single(c, tanh.output[0]!);
    if (!onePlus || onePlus.opType !== 'Add') continue;
    const other = onePlus.input[0] === tanh.output[0] ? onePlus.input[1]! : onePlus.input[0]!;
    if (!near(constant(other), 1)) continue;
    let root: NodeProto | undefined;
    let cur = single(c, onePlus.output[0]!);
    while (cur && cur.opType === 'Mul') {
      const inner: NodeProto[] = [];
      const f = splitConst(c, factors(c, cur.output[0]!, inner));
      if (near(f.k, 0.5) && f.rest.length === 2 && f.rest.includes(x) && f.rest.includes(onePlus.output[0]!)) { root = cur; break; }
      cur = single(c, cur.output[0]!);
    }
    if (!root) continue;
    const fg = create(NodeProtoSchema, { opType: 'FastGelu', domain: 'com.microsoft', name: `${root.name || root.output[0]}_FastGelu`, input: [x], output: [root.output[0]!] });
    added.set(root, fg);
    fused++;
  }
  if (!fused) return 0;
  // The root's output now comes from FastGelu; the other pattern nodes lose their readers and are
  // dropped by the export's pruneUnused.
  g.node = g.node.map((n) => added.get(n) ?? n);
  return fused;
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
