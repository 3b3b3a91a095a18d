// Weight-only export of RTN/GPTQ/AWQ results:
//  - `matmulnbits`: com.microsoft MatMulNBits (ORT's int4 kernels) with accuracy_level 4, so ORT quantizes
//    the activations per block to int8 and uses its int8 dot-product path instead of dequantizing to float.
//  - `qdq`: opset-21 blocked DequantizeLinear (uint4 + scale + zero point, block over K) feeding the
//    original MatMul, for runtimes without MatMulNBits.
// Layers sharing a weight share one set of packed tensors; a Gather reading the same tensor (tied
// embeddings) keeps the float original; Gemm's bias/alpha/beta become an Add / folded scales; MatMuls reading
// Transpose(W) need no transpose (MatMulNBits stores [N, K] anyway).
import { create, clone, ModelProtoSchema, NodeProtoSchema, AttributeProtoSchema, AttributeType, OperatorSetIdProtoSchema, type ModelProto, type NodeProto, type TensorProto, type GraphProto } from '../onnx/proto';
import { DataType, makeTensor, makeFloatTensor, tensorToFloat32 } from '../onnx/tensor';
import { elementTypes, FLOAT_TYPES } from '../onnx/elem-types';
import { StudioError, quote } from '../errors';
import { upgradeOpset } from '../onnx/opset';
import { pruneUnused, walkGraphs } from '../onnx/graph';
import { attrFloat, attrInt } from '../onnx/attributes';
import type { WeightOnlyLayerResult } from '../quant/algorithms/weight-only';
import { foldBiasIntoFastGelu, fuseTanhGelu } from '../onnx/fusions/fast-gelu';
import { fuseAttention } from './fuse-attention';
import { fuseSkipLayerNorm } from './fuse-skip-layernorm';
import { addInt8PrefillPath, int8PrefillNotice } from './int8-prefill';
import { blockBytes, packMatMulNBits } from './matmulnbits-layout';
import { mergeSharedInputMatMulNBits } from './matmulnbits-merge';
import { opsetVersion } from '../onnx/opset';

export interface WeightOnlyExportOptions {
  format: 'matmulnbits' | 'qdq';
  /** MatMulNBits accuracy_level: 0 = ORT's default (dequantize to float), 4 = int8 compute. Default 4. */
  accuracyLevel?: number;
  /** matmulnbits only: rewrite tanh-approximated GELUs as com.microsoft FastGelu. Default true. */
  fuseGelu?: boolean;
  /** matmulnbits only: merge MatMulNBits nodes that read the same input (q/k/v, gate/up) into one + Split. Default true. */
  mergeSharedInput?: boolean;
  /** matmulnbits only: fuse attention into MultiHeadAttention and residual Add + LayerNorm into SkipLayerNormalization. Default true. */
  fuseTransformerOps?: boolean;
  /** matmulnbits only: how steps of several rows run — 'int8' adds the If branch with ORT's int8 QGEMM
   *  (engine/export/int8-prefill.ts), 'matmulnbits' keeps MatMulNBits for every step. Default 'int8'. */
  prefill?: 'int8' | 'matmulnbits';
  /** Rows (batch × tokens) from which the int8 branch runs. Default 2. */
  prefillMinRows?: number;
  baseDir?: string;
}

const intAttr = (name: string, v: number) => create(AttributeProtoSchema, { name, type: AttributeType.INT, i: BigInt(v) });

export function ensureOpset(model: ModelProto, domain: string, version: number): void {
  const o = model.opsetImport.find((x) => x.domain === domain || (domain === '' && x.domain === 'ai.onnx'));
  if (!o) model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }));
  else if (Number(o.version) < version) o.version = BigInt(version);
}

/** A copy of `model` with every quantized layer rewritten for the chosen format. */
export function exportWeightOnly(model: ModelProto, results: WeightOnlyLayerResult[], opts: WeightOnlyExportOptions): { model: ModelProto; notices: string[] } {
  const m = clone(ModelProtoSchema, model);
  const g = m.graph!;
  const notices: string[] = [];
  const names = new Set<string>([...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => [...n.input, ...n.output]), ...g.node.map((n) => n.name)]);
  const uniq = (base: string) => { let s = base; for (let i = 1; names.has(s); i++) s = `${base}_${i}`; names.add(s); return s; };
  const byName = new Map(g.node.map((n) => [n.name ? n.name : n.output[0]!, n]));
  // The copy's twin of each node of `model`, with the graph holding it (If branches often repeat node
  // names, so bodies are matched by position, not by name).
  const twin = new Map<NodeProto, { node: NodeProto; graph: GraphProto }>();
  const pair = (a: GraphProto, b: GraphProto) => a.node.forEach((n, i) => {
    const c = b.node[i]!;
    twin.set(n, { node: c, graph: b });
    n.attribute.forEach((at, j) => { if (at.g) pair(at.g, c.attribute[j]!.g!); at.graphs.forEach((sg, k) => pair(sg, c.attribute[j]!.graphs[k]!)); });
  });
  pair(model.graph!, g);
  const find = (orig: NodeProto) => twin.get(orig)?.node ?? byName.get(orig.name ? orig.name : orig.output[0]!)!;
  const graphOf = (orig: NodeProto): GraphProto => twin.get(orig)?.graph ?? g;
  const newInits: TensorProto[] = [];
  const accuracyLevel = opts.accuracyLevel ?? 4;
  if (opts.format === 'qdq') {
    // Blocked int4 DequantizeLinear needs opset 21 (engine/onnx/opset.ts's upgrade rewrites the ops that changed).
    const up = upgradeOpset(m, 21);
    if (up.changes.length) notices.push(`Raised the opset from ${up.from} to 21 for int4 DequantizeLinear (${up.changes.length} node(s) rewritten).`);
  }
  else ensureOpset(m, 'com.microsoft', 1);

  // Scales in the weight's own float type: a float16 model keeps float16 activations (MatMulNBits T1).
  const types = elementTypes(m);
  for (const r of results) {
    const { rows: N, cols: K } = r.layer;
    const base = r.layer.weight.replace(/[^A-Za-z0-9_.]/g, '_');
    const ft = FLOAT_TYPES.has(types.get(r.layer.weight) ?? 0) ? types.get(r.layer.weight)! : DataType.FLOAT;
    // A layer whose nodes all sit in one If/Loop body gets its tensors (and DequantizeLinear) there;
    // otherwise in the main graph, which every body can read.
    const homes = new Set(r.layer.nodes.map(graphOf));
    const home = homes.size === 1 ? [...homes][0]! : g;
    const inits = home === g ? newInits : home.initializer;
    if (opts.format === 'matmulnbits') {
      const p = packMatMulNBits(r);
      const bName = uniq(`${base}_Q4`), sName = uniq(`${base}_scales`);
      inits.push(makeTensor(bName, DataType.UINT8, [N, p.nBlocks, blockBytes(p.blockSize, p.bits)], p.B));
      const zName = p.zeroPoints ? uniq(`${base}_zp`) : '';
      for (const orig of r.layer.nodes) {
        const node = find(orig);
        let scales = p.scales;
        let outName = node.output[0]!;
        let addBias: string | undefined;
        if (r.layer.opType === 'Gemm') {
          const alpha = attrFloat(node, 'alpha', 1);
          if (alpha !== 1) scales = p.scales.map((s) => s * alpha);
          if (node.input[2]) {
            const beta = attrFloat(node, 'beta', 1);
            let c = node.input[2];
            if (beta !== 1) {
              const ct = g.initializer.find((t) => t.name === c);
              if (!ct) throw new StudioError('UNSUPPORTED_OP', `Gemm ${quote(node.name)}: beta ${quote(beta)} with a non-constant C cannot be exported to MatMulNBits.`);
              c = uniq(`${c}_beta`);
              inits.push(makeFloatTensor(c, ft, ct.dims.map(Number), tensorToFloat32(ct, opts.baseDir).map((v) => v * beta)));
            }
            addBias = c;
            outName = uniq(`${node.output[0]}_nobias`);
          }
        }
        const scaleName = scales === p.scales ? sName : uniq(`${base}_scales_alpha`);
        if (!inits.some((t) => t.name === scaleName)) inits.push(makeFloatTensor(scaleName, ft, [N * p.nBlocks], scales));
        if (zName && !inits.some((t) => t.name === zName)) inits.push(makeTensor(zName, DataType.UINT8, [p.zeroPoints!.length], p.zeroPoints!));
        const mm = create(NodeProtoSchema, {
          name: uniq(`${node.name || 'MatMul'}_MatMulNBits`), opType: 'MatMulNBits', domain: 'com.microsoft',
          input: zName ? [node.input[0]!, bName, scaleName, zName] : [node.input[0]!, bName, scaleName],
          output: [outName],
          attribute: [intAttr('K', K), intAttr('N', N), intAttr('bits', p.bits), intAttr('block_size', p.blockSize), intAttr('accuracy_level', accuracyLevel)],
        });
        const own = graphOf(orig);
        const at = own.node.indexOf(node);
        const repl = [mm];
        if (addBias) repl.push(create(NodeProtoSchema, { name: uniq(`${node.name}_bias`), opType: 'Add', input: [outName, addBias], output: [node.output[0]!] }));
        own.node.splice(at, 1, ...repl);
      }
    } else {
      // Opset-21 blocked DequantizeLinear: uint4 [K, N] along axis 0 (MatMul's layout), scales/zps [K/bs, N].
      const gs = r.config.groupSize;
      const nG = gs > 0 ? Math.ceil(K / gs) : 1;
      const qKN = new Uint8Array(K * N);
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) qKN[k * N + n] = r.qw.q[n * K + k]!;
      const sT = new Float32Array(nG * N);
      const zT = new Uint8Array(nG * N);
      for (let n = 0; n < N; n++) for (let j = 0; j < nG; j++) { sT[j * N + n] = r.qw.scales[n * nG + j]!; zT[j * N + n] = r.qw.zeroPoints[n * nG + j]!; }
      const dtype = r.config.bits <= 4 ? DataType.UINT4 : DataType.UINT8;
      const qName = uniq(`${base}_q`), sName = uniq(`${base}_scale`), zName = uniq(`${base}_zero_point`), wName = uniq(`${base}_dq`);
      inits.push(makeTensor(qName, dtype, [K, N], qKN));
      const perChannel = gs === 0;
      inits.push(makeFloatTensor(sName, ft, perChannel ? [N] : [nG, N], sT));
      inits.push(makeTensor(zName, dtype, perChannel ? [N] : [nG, N], zT));
      const dq = create(NodeProtoSchema, {
        name: uniq(`${base}_DequantizeLinear`), opType: 'DequantizeLinear', input: [qName, sName, zName], output: [wName],
        attribute: perChannel ? [intAttr('axis', 1)] : [intAttr('axis', 0), intAttr('block_size', gs)],
      });
      let first = -1;
      for (const orig of r.layer.nodes) {
        const node = find(orig);
        const at = home.node.indexOf(node);
        if (at >= 0 && (first < 0 || at < first)) first = at;
        if (r.layer.opType === 'Gemm') {
          // Gemm reads B as [K, N] once transB is cleared.
          node.attribute = node.attribute.filter((a) => a.name !== 'transB');
        }
        node.input[1] = wName;
      }
      home.node.splice(Math.max(0, first), 0, dq);
    }
  }
  g.initializer.push(...newInits);
  if (opts.format === 'matmulnbits' && (opts.fuseGelu ?? true)) {
    const n = fuseTanhGelu(g, opts.baseDir);
    if (n) notices.push(`Fused ${n} tanh-GELU pattern(s) into com.microsoft FastGelu (one pass instead of nine elementwise nodes).`);
  }
  if (opts.format === 'matmulnbits' && (opts.mergeSharedInput ?? true)) {
    const n = mergeSharedInputMatMulNBits(g, opsetVersion(m), opts.baseDir);
    if (n) notices.push(`Merged ${n} group(s) of MatMulNBits reading the same input into one wider MatMulNBits + Split each.`);
  }
  if (opts.format === 'matmulnbits' && (opts.fuseTransformerOps ?? true)) notices.push(...fuseTransformerOps(g, opts.baseDir));
  if (opts.format === 'matmulnbits' && (opts.fuseGelu ?? true)) foldBiasIntoFastGelu(g);
  // Float weights the rewrite left unread inside If/Loop bodies go too (bodies first: the main graph's
  // pass then sees what the bodies still read).
  for (const { graph } of [...walkGraphs(g)].reverse()) if (graph !== g) pruneUnused(graph);
  pruneUnused(g);
  if (opts.format === 'matmulnbits' && (opts.prefill ?? 'int8') === 'int8') {
    const p = addInt8PrefillPath(m, { minRows: opts.prefillMinRows, baseDir: opts.baseDir });
    if (p) notices.push(int8PrefillNotice(p));
  }
  return { model: m, notices };
}

/**
 * Attention → com.microsoft MultiHeadAttention, then residual Add + LayerNorm → SkipLayerNormalization
 * (the caller imports com.microsoft). Returns what it fused, as notices.
 */
export function fuseTransformerOps(g: GraphProto, baseDir?: string): string[] {
  const notices: string[] = [];
  const a = fuseAttention(g, baseDir);
  if (a.fused) notices.push(`Fused ${a.fused} attention subgraph(s) into com.microsoft MultiHeadAttention (${a.heads[0]} heads).`);
  const s = fuseSkipLayerNorm(g, baseDir);
  if (s) notices.push(`Fused ${s} residual Add + LayerNormalization pair(s) into com.microsoft SkipLayerNormalization.`);
  return notices;
}


