// The one matcher of the tanh-approximated GELU that PyTorch/GPT exporters write as nine elementwise
// ops: 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))). Products are read as trees of Mul nodes, so
// any order and grouping of the factors matches (x·x·x, Pow(x, 3), Mul(Mul(x, a), 0.5),
// Mul(x, Mul(a, 0.5)) ...). Two emitters use it: the QDQ export writes an opset-20 `Gelu`
// (engine/export/qdq-gelu.ts), the weight-only export a com.microsoft `FastGelu` (fast-gelu.ts).
import type { NodeProto } from '../proto';
import { tensorToFloat32 } from '../tensor';
import type { GraphIndex } from '../graph';

export interface TanhGeluMatch {
  /** The GELU's input. */
  x: string;
  /** The GELU's output (the last Mul's output). */
  y: string;
  /** Every node of the pattern, Tanh first; the node producing `y` is among them. */
  nodes: NodeProto[];
  /** The node producing `y`. */
  root: NodeProto;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const near = (v: number | undefined, want: number, tol: number) => v !== undefined && Math.abs(v - want) <= tol * Math.abs(want);
const isDefault = (n: NodeProto) => n.domain === '' || n.domain === 'ai.onnx';

/** The value of a one-element constant (initializer or Constant node, here or in an outer scope). */
function scalarOf(idx: GraphIndex, name: string, baseDir?: string): number | undefined {
  const t = idx.constant(name);
  if (!t || t.dims.reduce((a, b) => a * Number(b), 1) !== 1) return undefined;
  try { return tensorToFloat32(t, baseDir)[0]; } catch { return undefined; }
}

/** Read only by one node and not a graph output: a value the fused op may swallow. */
const private1 = (idx: GraphIndex, name: string) => idx.consumersOf(name).length === 1 && !idx.graphOutputs.has(name);

/**
 * The factors of the product `name`: walks into Mul nodes (and Pow(v, 3) as v·v·v) whose result only
 * this product reads; the nodes walked go into `inner`. Constants are multiplied into `k`.
 */
function product(idx: GraphIndex, name: string, baseDir: string | undefined, inner: NodeProto[], top = true): { k: number; rest: string[] } {
  const p = idx.producer.get(name);
  const walk = p && isDefault(p) && (top || private1(idx, name));
  if (walk && p.opType === 'Mul' && p.input.length === 2) {
    inner.push(p);
    const a = product(idx, p.input[0]!, baseDir, inner, false), b = product(idx, p.input[1]!, baseDir, inner, false);
    return { k: a.k * b.k, rest: [...a.rest, ...b.rest] };
  }
  if (walk && p.opType === 'Pow' && p.input.length === 2 && near(scalarOf(idx, p.input[1]!, baseDir), 3, 1e-6) && !idx.isConstant(p.input[0]!)) {
    inner.push(p);
    return { k: 1, rest: [p.input[0]!, p.input[0]!, p.input[0]!] };
  }
  const c = scalarOf(idx, name, baseDir);
  return c !== undefined ? { k: c, rest: [] } : { k: 1, rest: [name] };
}

/** The tanh-GELU around this Tanh node, when every value inside it is private to the pattern. */
export function matchTanhGelu(tanh: NodeProto, idx: GraphIndex, baseDir?: string): TanhGeluMatch | undefined {
  if (tanh.opType !== 'Tanh' || !isDefault(tanh)) return undefined;
  const nodes: NodeProto[] = [tanh];
  // Tanh argument: √(2/π) · (x + 0.044715 · x³)
  const argIn = tanh.input[0]!;
  if (!private1(idx, argIn)) return undefined;
  const arg = product(idx, argIn, baseDir, nodes);
  if (!near(arg.k, SQRT_2_OVER_PI, 1e-3) || arg.rest.length !== 1) return undefined;
  const add = idx.producer.get(arg.rest[0]!);
  if (!add || add.opType !== 'Add' || !isDefault(add) || add.input.length !== 2 || !private1(idx, add.output[0]!)) return undefined;
  nodes.push(add);
  let x: string | undefined;
  for (const [i, j] of [[0, 1], [1, 0]] as const) {
    if (!private1(idx, add.input[j]!) || idx.isConstant(add.input[i]!)) continue;
    const cube: NodeProto[] = [];
    const f = product(idx, add.input[j]!, baseDir, cube);
    if (near(f.k, 0.044715, 1e-3) && f.rest.length === 3 && f.rest.every((v) => v === add.input[i])) { x = add.input[i]; nodes.push(...cube); break; }
  }
  if (!x) return undefined;
  // 1 + tanh, then x · 0.5 · (1 + tanh) as a Mul tree ending at the root.
  if (!private1(idx, tanh.output[0]!)) return undefined;
  const onePlus = idx.consumersOf(tanh.output[0]!)[0]!;
  if (onePlus.opType !== 'Add' || !isDefault(onePlus) || onePlus.input.length !== 2) return undefined;
  const one = onePlus.input[0] === tanh.output[0] ? onePlus.input[1]! : onePlus.input[0]!;
  if (scalarOf(idx, one, baseDir) !== 1) return undefined;
  nodes.push(onePlus);
  const a = onePlus.output[0]!;
  let cur = private1(idx, a) ? idx.consumersOf(a)[0] : undefined;
  while (cur && cur.opType === 'Mul' && isDefault(cur)) {
    const inner: NodeProto[] = [];
    const f = product(idx, cur.output[0]!, baseDir, inner);
    if (near(f.k, 0.5, 1e-6) && f.rest.length === 2 && f.rest.includes(x) && f.rest.includes(a)) {
      nodes.push(...inner);
      return { x, y: cur.output[0]!, nodes: [...new Set(nodes)], root: cur };
    }
    cur = private1(idx, cur.output[0]!) ? idx.consumersOf(cur.output[0]!)[0] : undefined;
  }
  return undefined;
}
