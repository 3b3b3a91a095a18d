// Scaled dot-product attention written out as ~25 small ONNX nodes (the GPT-2-style export: per-head
// Reshape/Transpose of q, k, v, MatMul, scale, a causal mask sliced from a constant lower-triangular
// buffer, Where, Softmax, MatMul, Transpose, Reshape — plus the Shape/Gather/Concat arithmetic that builds
// the shapes) becomes one com.microsoft MultiHeadAttention (num_heads, scale, unidirectional for the
// causal mask). ORT's own AttentionFusion does not match this shape, and once the projections are int4
// those small nodes are a large share of a short step. Only the exact pattern is touched: constant head
// count and head size, a scale constant, and a mask that is provably causal (the constant's [:S, :S]
// corner is lower-triangular) with a fill value that zeroes the masked probabilities. Anything else —
// rotary embeddings between the projection and the Reshape, a KV cache, an additive padding mask — is
// left as it was.
import { type GraphProto, type NodeProto, type TensorProto } from '../onnx/proto';
import { tensorToTypedArray } from '../onnx/tensor';
import { GraphIndex, intAttr, makeNode } from '../onnx/graph';
import { attrInt, attrInts as ints } from '../onnx/attributes';
import { AttributeProtoSchema, AttributeType, create } from '../onnx/proto';

const floatAttr = (name: string, f: number) => create(AttributeProtoSchema, { name, type: AttributeType.FLOAT, f });

function scalarOf(g: GraphIndex, name: string, baseDir?: string): number | undefined {
  const t = g.constant(name);
  if (!t || t.dims.reduce((a, b) => a * Number(b), 1) !== 1) return undefined;
  const v = tensorToTypedArray(t, baseDir);
  return Number(v[0]);
}

function intsOf(g: GraphIndex, name: string, baseDir?: string): number[] | undefined {
  const t = g.constant(name);
  if (!t) return undefined;
  return Array.from(tensorToTypedArray(t, baseDir), Number);
}

/** The sole reader of `name` (undefined when several nodes or a graph output read it). */
function soleReader(g: GraphIndex, name: string): NodeProto | undefined {
  const cs = g.consumersOf(name);
  return cs.length === 1 && !g.graphOutputs.has(name) ? cs[0] : undefined;
}

/** The per-head split: Reshape(x, [B, S, H, dh]) with H, dh constant. Returns x, H, dh. */
function headSplit(g: GraphIndex, reshapeOut: string, baseDir?: string): { x: string; heads: number; headSize: number } | undefined {
  const r = g.producer.get(reshapeOut);
  if (!r || r.opType !== 'Reshape' || r.domain || attrInt(r, 'allowzero', 0) !== 0) return undefined;
  const dims = shapeDims(g, r.input[1]!, baseDir);
  if (!dims || dims.length !== 4 || dims[2] === undefined || dims[3] === undefined || dims[2]! <= 0 || dims[3]! <= 0) return undefined;
  return { x: r.input[0]!, heads: dims[2]!, headSize: dims[3]! };
}

/** A shape operand as known-or-unknown entries: a constant, or Concat of pieces (constants where constant). */
function shapeDims(g: GraphIndex, name: string, baseDir?: string): (number | undefined)[] | undefined {
  const c = intsOf(g, name, baseDir);
  if (c) return c;
  const p = g.producer.get(name);
  if (!p || p.opType !== 'Concat' || p.domain) return undefined;
  const out: (number | undefined)[] = [];
  for (const i of p.input) {
    const v = intsOf(g, i, baseDir);
    if (v) out.push(...v);
    else out.push(undefined); // one dynamic entry (Unsqueeze of a Gather of Shape): B or S
  }
  return out;
}

function transposeOf(g: GraphIndex, name: string, perm: number[]): string | undefined {
  const t = g.producer.get(name);
  if (!t || t.opType !== 'Transpose' || t.domain) return undefined;
  const p = ints(t, 'perm');
  return p && p.join() === perm.join() ? t.input[0] : undefined;
}

/** k as [B, H, dh, S]: Transpose(perm 0,2,3,1) of the split, or Transpose(0,1,3,2) of Transpose(0,2,1,3). */
function keyT(g: GraphIndex, name: string): string | undefined {
  const direct = transposeOf(g, name, [0, 2, 3, 1]);
  if (direct) return direct;
  const inner = transposeOf(g, name, [0, 1, 3, 2]);
  return inner ? transposeOf(g, inner, [0, 2, 1, 3]) : undefined;
}

/**
 * Whether `cond` (read by Where(cond, fill, scores)) is true exactly above the diagonal of the S × S score
 * matrix: a chain of Not / Cast over Slices taking [0:end] of the last two axes of a constant buffer whose
 * every square top-left corner is triangular. Returns true when masked = above the diagonal.
 */
function isCausalCondition(g: GraphIndex, cond: string, baseDir?: string): boolean {
  let name = cond;
  let negate = false;
  const sliced = new Set<number>();
  let buffer: TensorProto | undefined;
  for (let guard = 0; guard < 8; guard++) {
    const t = g.constant(name);
    if (t) { buffer = t; break; }
    const p = g.producer.get(name);
    if (!p || p.domain) return false;
    if (p.opType === 'Not') { negate = !negate; name = p.input[0]!; continue; }
    if (p.opType === 'Cast') { name = p.input[0]!; continue; }
    if (p.opType === 'Slice' && p.input.length >= 4) {
      const starts = intsOf(g, p.input[1]!, baseDir), axes = intsOf(g, p.input[3]!, baseDir);
      const steps = p.input[4] ? intsOf(g, p.input[4], baseDir) : undefined;
      if (!starts || !axes || starts.some((s) => s !== 0) || (p.input[4] && (!steps || steps.some((s) => s !== 1)))) return false;
      for (const a of axes) sliced.add(a);
      name = p.input[0]!;
      continue;
    }
    return false;
  }
  if (!buffer) return false;
  const dims = buffer.dims.map(Number);
  const rank = dims.length;
  if (rank < 2 || dims.slice(0, -2).some((d) => d !== 1)) return false;
  const rowsAxis = new Set([rank - 2, -2]), colsAxis = new Set([rank - 1, -1]);
  if (![...sliced].some((a) => rowsAxis.has(a)) || ![...sliced].some((a) => colsAxis.has(a))) return false;
  const L = dims[rank - 1]!;
  if (dims[rank - 2] !== L || L > 8192) return false;
  const v = tensorToTypedArray(buffer, baseDir);
  for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) {
    const masked = (Number(v[i * L + j]) !== 0) !== negate;
    if (masked !== j > i) return false;
  }
  return true;
}

export interface AttentionFusionResult { fused: number; heads: number[] }

/**
 * Replace every matching attention subgraph of `g` by com.microsoft MultiHeadAttention (the caller imports
 * the domain). The nodes it replaces lose their readers and are removed by the export's pruneUnused.
 */
export function fuseAttention(graph: GraphProto, baseDir?: string): AttentionFusionResult {
  const g = new GraphIndex(graph);
  const replaced = new Map<NodeProto, NodeProto>();
  const heads: number[] = [];
  for (const sm of graph.node) {
    if (sm.opType !== 'Softmax' || sm.domain) continue;
    const axis = attrInt(sm, 'axis', -1);
    if (axis !== -1 && axis !== 3) continue;
    // scores → optional causal Where → Softmax
    let scores = sm.input[0]!;
    let causal = false;
    const where = g.producer.get(scores);
    if (where?.opType === 'Where' && !where.domain) {
      const fill = scalarOf(g, where.input[1]!, baseDir);
      if (fill === undefined || !(fill <= -1e4) || !isCausalCondition(g, where.input[0]!, baseDir) || soleReader(g, scores) !== sm) continue;
      causal = true;
      scores = where.input[2]!;
    }
    // scale: Mul(MatMul, c) | Div(MatMul, c) | none
    let scale = 1;
    let qk = g.producer.get(scores);
    if (qk && (qk.opType === 'Mul' || qk.opType === 'Div') && !qk.domain) {
      const ci = scalarOf(g, qk.input[1]!, baseDir) !== undefined ? 1 : scalarOf(g, qk.input[0]!, baseDir) !== undefined && qk.opType === 'Mul' ? 0 : -1;
      if (ci < 0) continue;
      const c = scalarOf(g, qk.input[ci]!, baseDir)!;
      if (!Number.isFinite(c) || c === 0) continue;
      scale = qk.opType === 'Mul' ? c : 1 / c;
      qk = g.producer.get(qk.input[1 - ci]!);
    }
    if (!qk || qk.opType !== 'MatMul' || qk.domain) continue;
    const qSplit = transposeOf(g, qk.input[0]!, [0, 2, 1, 3]);
    const kSplit = keyT(g, qk.input[1]!);
    if (!qSplit || !kSplit) continue;
    // Softmax → MatMul(probs, v) → Transpose(0,2,1,3) → Reshape([B, S, H·dh])
    const pv = soleReader(g, sm.output[0]!);
    if (!pv || pv.opType !== 'MatMul' || pv.domain || pv.input[0] !== sm.output[0]) continue;
    const vSplit = transposeOf(g, pv.input[1]!, [0, 2, 1, 3]);
    const back = soleReader(g, pv.output[0]!);
    if (!vSplit || !back || back.opType !== 'Transpose' || ints(back, 'perm')?.join() !== '0,2,1,3') continue;
    const merge = soleReader(g, back.output[0]!);
    if (!merge || merge.opType !== 'Reshape' || merge.domain) continue;
    const q = headSplit(g, qSplit, baseDir), k = headSplit(g, kSplit, baseDir), v = headSplit(g, vSplit, baseDir);
    if (!q || !k || !v || q.heads !== k.heads || q.heads !== v.heads || q.headSize !== k.headSize || q.headSize !== v.headSize) continue;
    const outDims = shapeDims(g, merge.input[1]!, baseDir);
    if (!outDims || outDims.length !== 3 || outDims[2] !== q.heads * q.headSize) continue;
    const mha = makeNode('MultiHeadAttention', [q.x, k.x, v.x], [merge.output[0]!], g.unique(`${merge.name || merge.output[0]}_MultiHeadAttention`),
      [intAttr('num_heads', q.heads), floatAttr('scale', scale), intAttr('unidirectional', causal ? 1 : 0)], 'com.microsoft');
    replaced.set(merge, mha);
    heads.push(q.heads);
  }
  if (replaced.size) graph.node = graph.node.map((n) => replaced.get(n) ?? n);
  return { fused: replaced.size, heads };
}
