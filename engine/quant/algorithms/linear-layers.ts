// The linear layers weight-only algorithms work on: MatMul / Gemm nodes whose weight is a 2-D float
// initializer (directly, or through a Transpose). Each layer is seen as W [rows = N outputs × cols = K
// inputs], the GPTQ/AWQ layout; `kn` says whether the stored initializer is [K, N] (MatMul, Gemm transB=0)
// or [N, K] (Gemm transB=1, MatMul reading Transpose(init)). Layers sharing a weight are one entry.
import type { ModelProto, NodeProto, TensorProto } from '../../onnx/proto';
import { DataType, tensorDims, tensorToFloat32 } from '../../onnx/tensor';
import { transposeMatrix } from './weight-quant';
import { attrInt, attrFloat } from '../../onnx/attributes';
import { walkGraphs } from '../../onnx/graph';

export interface LinearLayer {
  /** Initializer name of the weight. */
  weight: string;
  /** Nodes (MatMul/Gemm) using it, in model order. */
  nodes: NodeProto[];
  /** Activation tensor each node multiplies (same order as nodes). */
  inputs: string[];
  opType: 'MatMul' | 'Gemm';
  /** Outputs N and inputs K. */
  rows: number;
  cols: number;
  /** true: stored as [K, N]; false: stored as [N, K]. */
  kn: boolean;
  /** Transpose node between the initializer and the MatMul, if any. */
  transposeNode?: NodeProto;
  /** Other, non-linear consumers of the initializer (e.g. a Gather for tied embeddings). */
  sharedWith: string[];
  /** Inside an If/Loop/Scan body (found with `subgraphs`): calibration data does not reach it. */
  inSubgraph?: boolean;
}


export interface LinearSelection {
  opTypes: string[];
  exclude: string[];
}

/** Find the quantizable linear layers of the main graph (and with `subgraphs`, of If/Loop/Scan bodies
 *  too, which calibration data cannot reach but round-to-nearest can), in model order. */
export function findLinearLayers(model: ModelProto, sel: LinearSelection, o: { subgraphs?: boolean } = {}): LinearLayer[] {
  const main = model.graph!;
  const graphs = o.subgraphs ? [...walkGraphs(main)].map((v) => v.graph) : [main];
  // A body may read an initializer of a graph around it.
  const inits = new Map<string, TensorProto>(graphs.flatMap((g) => g.initializer.map((t) => [t.name, t] as const)));
  const nodes = graphs.flatMap((g) => g.node.map((n) => [n, g] as const));
  const producer = new Map<string, NodeProto>();
  for (const [n] of nodes) for (const o of n.output) producer.set(o, n);
  const consumers = new Map<string, NodeProto[]>();
  for (const [n] of nodes) for (const i of n.input) { if (!consumers.has(i)) consumers.set(i, []); consumers.get(i)!.push(n); }
  const byWeight = new Map<string, LinearLayer>();
  const out: LinearLayer[] = [];
  for (const [n, g] of nodes) {
    if (!sel.opTypes.includes(n.opType) || sel.exclude.includes(n.name)) continue;
    if (n.opType !== 'MatMul' && n.opType !== 'Gemm') continue;
    let wName = n.input[1] ?? '';
    let kn = true;
    let transposeNode: NodeProto | undefined;
    if (!inits.has(wName)) {
      const p = producer.get(wName);
      if (!p || p.opType !== 'Transpose' || !inits.has(p.input[0] ?? '')) continue;
      const perm = p.attribute.find((a) => a.name === 'perm')?.ints.map(Number);
      if (perm && !(perm.length === 2 && perm[0] === 1 && perm[1] === 0)) continue;
      transposeNode = p;
      wName = p.input[0]!;
      kn = false;
    }
    const t = inits.get(wName)!;
    if (t.dataType !== DataType.FLOAT && t.dataType !== DataType.FLOAT16) continue; // float16: MatMulNBits takes float16 scales
    const dims = tensorDims(t);
    if (dims.length !== 2) continue;
    if (n.opType === 'Gemm') {
      if (attrInt(n, 'transA', 0) !== 0) continue;
      if (attrInt(n, 'transB', 0) === 1) kn = !kn;
    }
    const [K, N] = kn ? [dims[0]!, dims[1]!] : [dims[1]!, dims[0]!];
    const existing = byWeight.get(wName);
    if (existing) {
      if (existing.kn !== kn || existing.opType !== n.opType) continue; // the same tensor read two ways: leave the second in float
      existing.nodes.push(n);
      existing.inputs.push(n.input[0]!);
      continue;
    }
    const layer: LinearLayer = { weight: wName, nodes: [n], inputs: [n.input[0]!], opType: n.opType, rows: N, cols: K, kn, transposeNode, sharedWith: [], ...(g !== main ? { inSubgraph: true } : {}) };
    byWeight.set(wName, layer);
    out.push(layer);
  }
  for (const l of out) {
    const users = [...(consumers.get(l.weight) ?? [])];
    l.sharedWith = users.filter((u) => !l.nodes.includes(u) && u !== l.transposeNode).map((u) => u.name || u.opType);
  }
  return out;
}

/** The layer's weight as rows × cols (N × K), from the model or from an override map. */
export function layerWeightNK(model: ModelProto, baseDir: string | undefined, layer: LinearLayer): Float32Array {
  const t = model.graph!.initializer.find((x) => x.name === layer.weight) ?? [...walkGraphs(model.graph!)].flatMap((v) => v.graph.initializer).find((x) => x.name === layer.weight)!;
  const data = tensorToFloat32(t, baseDir);
  return layer.kn ? transposeMatrix(data, layer.cols, layer.rows) : data;
}

/** Store an N × K weight back in the initializer's own layout. */
export function weightToStored(layer: LinearLayer, wNK: Float32Array): Float32Array {
  return layer.kn ? transposeMatrix(wNK, layer.rows, layer.cols) : wNK;
}

/**
 * Order layers into stages: stage s holds the layers whose input activations depend on no layer of a
 * later stage (q/k/v together, then the attention output projection, then fc1, then fc2, …). GPTQ
 * quantizes a stage, then measures the next stage's inputs through the already-quantized layers.
 */
export function stageLayers(model: ModelProto, layers: LinearLayer[]): LinearLayer[][] {
  const g = model.graph!;
  const producer = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) producer.set(o, n);
  const layerOfNode = new Map<NodeProto, LinearLayer>();
  for (const l of layers) for (const n of l.nodes) layerOfNode.set(n, l);
  // For each layer: the set of layers its inputs depend on (transitively).
  const depMemo = new Map<string, Set<LinearLayer>>();
  const depsOfTensor = (name: string): Set<LinearLayer> => {
    const hit = depMemo.get(name);
    if (hit) return hit;
    const result = new Set<LinearLayer>();
    depMemo.set(name, result);
    // Iterative DFS over producers.
    const stack = [name];
    const seen = new Set<string>([name]);
    while (stack.length) {
      const t = stack.pop()!;
      const p = producer.get(t);
      if (!p) continue;
      const l = layerOfNode.get(p);
      if (l) result.add(l);
      for (const i of p.input) if (i && !seen.has(i)) { seen.add(i); stack.push(i); }
    }
    return result;
  };
  const deps = new Map<LinearLayer, Set<LinearLayer>>();
  for (const l of layers) {
    const d = new Set<LinearLayer>();
    for (const i of l.inputs) for (const x of depsOfTensor(i)) if (x !== l) d.add(x);
    deps.set(l, d);
  }
  const remaining = new Set(layers);
  const stages: LinearLayer[][] = [];
  while (remaining.size) {
    const stage = layers.filter((l) => remaining.has(l) && [...deps.get(l)!].every((d) => !remaining.has(d)));
    if (stage.length === 0) { stages.push(layers.filter((l) => remaining.has(l))); break; }
    for (const l of stage) remaining.delete(l);
    stages.push(stage);
  }
  return stages;
}
