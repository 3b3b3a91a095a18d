// A second kernel for multi-token steps, chosen inside the model. ORT's MatMulNBits is the right kernel
// for decoding (one row: it streams half a byte per weight), but with several rows its int8 path pays a
// fixed cost per output and per 32-weight block that makes it slower than FP32 MatMul on x86 (measured:
// ~1.4× at 16 rows, block 32). ORT's u8×s8 QGEMM (DynamicQuantizeMatMul: activations quantized per
// tensor, VNNI/AMX) is ~3× faster than MatMulNBits there. So the exported graph becomes
//   prefix (embeddings …)  →  If(rows of the first MatMulNBits input ≥ minRows)
//                                 then: the rest of the graph with DynamicQuantizeMatMul on int8 weights
//                                 else: the rest of the graph as it was (MatMulNBits)
// The file still stores each weight once, as the int4 MatMulNBits data: the int8 [K, N] weights are
// computed from it by a constant subgraph (unpack nibbles, (q − zp) · scale / S, round) that ORT folds
// when the session is created, re-quantized per output column with S = max|w| / 127 of the int4 weight
// (an extra rounding of at most S/2, about a 32nd of an int4 step). Memory at run time: the int4 data plus
// the int8 copy (1.5 bytes per weight, against 4 for FP32).
import {
  clone, create, GraphProtoSchema, NodeProtoSchema, TensorProtoSchema, ValueInfoProtoSchema, AttributeProtoSchema, AttributeType,
  type ModelProto, type GraphProto, type NodeProto, type TensorProto,
} from '../onnx/proto';
import { DataType, makeTensor, tensorToFloat32, tensorToTypedArray } from '../onnx/tensor';
import { GraphIndex, intAttr, makeNode, onnxOpset, outerReads, subgraphsOf } from '../onnx/graph';
import { attrInt } from '../onnx/attributes';
import { blockBytes, unpackMatMulNBits, zeroPointRowBytes } from './matmulnbits-layout';
import { isExternal } from '../onnx/external-data';
import { renameOuterReads } from '../onnx/outer-scope';

export interface Int8PrefillOptions {
  /** Steps with at least this many rows (batch × tokens) take the int8 QGEMM branch. Default 2. */
  minRows?: number;
  baseDir?: string;
  /**
   * Per-channel max |x| of MatMulNBits inputs (input name → K values) measured on calibration samples
   * (`measureInputRanges`). Inputs listed here are smoothed from these ranges, whatever op writes them
   * (attention outputs, SwiGLU products: not only norms); others fall back to the norm-weight estimate.
   */
  inputRanges?: Map<string, Float32Array>;
  /**
   * How the branch quantizes activations: 'tensor' = one dynamic scale per step (DynamicQuantizeMatMul),
   * 'row' = one scale per row (token), max |x| / 127 — MatMulInteger on u8 codes then the two scales as
   * float Muls: a token with large values no longer coarsens every other token's grid;
   * 'row-centered' = per row around the row's mid-range c = (max + min) / 2: codes of x − c, and
   * c·Σ_k W[k, n] added back (one more Mul + Add per layer). Meant for one-sided rows (GELU/SiLU
   * outputs), but measured worse on moby-gpt (1.021× MatMulNBits' error vs 1.013× for 'row'): kept as
   * an option for the bench. Default 'row'.
   */
  activationScale?: 'tensor' | 'row' | 'row-centered';
  /** MatMulNBits node names that stay MatMulNBits inside the multi-row branch (layers whose int8 error is not negligible). */
  keepMatMulNBits?: ReadonlySet<string>;
}

export interface Int8PrefillResult { layers: number; minRows: number; smoothedInputs: number; activationScale: 'tensor' | 'row' | 'row-centered'; keptMatMulNBits: number }

/** What the export says it did. */
export function int8PrefillNotice(p: Int8PrefillResult): string {
  const kept = p.keptMatMulNBits ? `, ${p.keptMatMulNBits} layer(s) stay MatMulNBits there` : '';
  return `Steps of ${p.minRows} or more rows run ${p.layers} int8 QGEMM layer(s) (weights unpacked from the int4 data when the session starts; activations quantized per ${p.activationScale === 'tensor' ? 'step' : 'row'}${kept}); single-row steps run MatMulNBits.`;
}

const graphAttr = (name: string, g: GraphProto) => create(AttributeProtoSchema, { name, type: AttributeType.GRAPH, g });

/**
 * Add the int8 prefill branch to a model whose quantized MatMuls are MatMulNBits (4-bit, float scales,
 * no g_idx). Returns undefined (and leaves the model as it was) when the graph has no such node or a
 * MatMulNBits the branch cannot take.
 */
export function addInt8PrefillPath(model: ModelProto, opts: Int8PrefillOptions = {}): Int8PrefillResult | undefined {
  const g = model.graph!;
  const minRows = Math.max(2, Math.floor(opts.minRows ?? 2));
  const idx = new GraphIndex(g);
  const nbits = g.node.filter((n) => n.opType === 'MatMulNBits' && n.domain === 'com.microsoft');
  if (!nbits.length) return undefined;
  for (const n of nbits) {
    const bits = attrInt(n, 'bits', 4);
    if ((bits !== 4 && bits !== 8) || n.input[4] || !idx.initializers.has(n.input[1]!) || !idx.initializers.has(n.input[2]!)) return undefined;
    if (idx.initializers.get(n.input[2]!)!.dataType !== DataType.FLOAT) return undefined;
    if (n.input[3] && idx.initializers.get(n.input[3])?.dataType !== DataType.UINT8) return undefined;
  }
  // Split the nodes: the suffix is every node that (transitively) reads a MatMulNBits output.
  const tainted = new Set<string>();
  const suffix = new Set<NodeProto>();
  for (const n of g.node) {
    const reads = [...n.input, ...subgraphsOf(n).flatMap(({ graph }) => [...outerReads(graph)])];
    if (n.opType === 'MatMulNBits' && n.domain === 'com.microsoft' || reads.some((r) => tainted.has(r))) {
      suffix.add(n);
      for (const o of n.output) if (o) tainted.add(o);
    }
  }
  const first = nbits[0]!;
  if (tainted.has(first.input[0]!)) return undefined; // not in topological order
  const prefix = g.node.filter((n) => !suffix.has(n));
  const outputsFromSuffix = g.output.filter((o) => tainted.has(o.name));

  // Condition: rows = ∏ shape(A)[:-1] ≥ minRows
  const newMain: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const name = (base: string) => idx.unique(base);
  const i64 = (base: string, v: number[], dims?: number[]) => { const n = name(base); inits.push(makeTensor(n, DataType.INT64, dims ?? [v.length], BigInt64Array.from(v.map(BigInt)))); return n; };
  const shape = name('prefill_rows_shape'), lead = name('prefill_rows_lead'), rows = name('prefill_rows'), cond = name('prefill_cond');
  newMain.push(makeNode('Shape', [first.input[0]!], [shape], name('prefill_Shape')));
  newMain.push(makeNode('Slice', [shape, i64('prefill_slice_start', [0]), i64('prefill_slice_end', [-1]), i64('prefill_slice_axes', [0])], [lead], name('prefill_Slice')));
  newMain.push(makeNode('ReduceProd', [lead], [rows], name('prefill_ReduceProd'), [intAttr('keepdims', 0)]));
  newMain.push(makeNode('Less', [rows, i64('prefill_min_rows', [minRows], [])], [cond], name('prefill_Less')));

  // One layer's int4 weights unpacked to float (N × K) at a time: memory stays at one layer however
  // large the model. First pass: check each node and keep the per-input-channel max |w| (for smoothing).
  const unpack = (n: NodeProto) => {
    const K = attrInt(n, 'K', 0), N = attrInt(n, 'N', 0), bs = attrInt(n, 'block_size', 0);
    const nB = Math.ceil(K / bs);
    const B = tensorToTypedArray(idx.initializers.get(n.input[1]!)!, opts.baseDir) as Uint8Array;
    const scales = tensorToFloat32(idx.initializers.get(n.input[2]!)!, opts.baseDir);
    const zp = n.input[3] ? tensorToTypedArray(idx.initializers.get(n.input[3])!, opts.baseDir) as Uint8Array : undefined;
    const bits = attrInt(n, 'bits', 4);
    if (!(K > 0 && N > 0 && bs >= 16) || B.length !== N * nB * blockBytes(bs, bits) || scales.length !== N * nB) return undefined;
    return unpackMatMulNBits(B, scales, zp, N, K, bs, bits);
  };
  const keep = opts.keepMatMulNBits ?? new Set<string>();
  const converted = nbits.filter((n) => !keep.has(n.name));
  if (!converted.length) return undefined;
  const rowMax = new Map<NodeProto, Float32Array>();
  for (const n of converted) {
    const w = unpack(n);
    if (!w) return undefined;
    const K = attrInt(n, 'K', 0), N = attrInt(n, 'N', 0);
    const m = new Float32Array(K);
    for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) m[k] = Math.max(m[k]!, Math.abs(w[j * K + k]!));
    rowMax.set(n, m);
  }
  const smoothing = smoothingVectors(idx, converted, rowMax, opts.baseDir, opts.inputRanges);

  // int8 weights for each MatMulNBits, from its own int4 data (folded by ORT at session creation)
  const int8Of = new Map<NodeProto, { w: string; s: string; colSum?: string }>();
  const f32 = (base: string, v: number[], dims: number[]) => { const n = name(base); inits.push(makeTensor(n, DataType.FLOAT, dims, Float32Array.from(v))); return n; };
  // Shape constants are shared between layers of the same shape; the chain's tensors get short names
  // (a model has one chain per linear layer, and names are stored in the file).
  const shared = new Map<string, string>();
  const i64s = (v: number[], dims?: number[]) => {
    const key = JSON.stringify([v, dims]);
    if (!shared.has(key)) shared.set(key, i64(`i8c.${shared.size}`, v, dims));
    return shared.get(key)!;
  };
  const sixteen = name('i8c.16');
  inits.push(makeTensor(sixteen, DataType.INT32, [], Int32Array.of(16)));
  let eight = '', c128f = '';
  let layer = 0;
  for (const n of converted) {
    const K = attrInt(n, 'K', 0), N = attrInt(n, 'N', 0), bs = attrInt(n, 'block_size', 0);
    const nB = Math.ceil(K / bs);
    const zp = n.input[3] ? tensorToTypedArray(idx.initializers.get(n.input[3])!, opts.baseDir) as Uint8Array : undefined;
    const w = unpack(n)!; // N × K
    const smooth = smoothing.get(n.input[0]!);
    const sm = smooth?.s;
    // S[n] = max |w · s| / 127 over the column (s: the input's smoothing vector, else 1)
    const S = new Float32Array(N);
    for (let j = 0; j < N; j++) { let m = 0; for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(w[j * K + k]! * (sm ? sm[k]! : 1))); S[j] = m > 0 ? m / 127 : 1; }
    const id = layer++;
    const sName = name(`i8.${id}.S`);
    inits.push(makeTensor(sName, DataType.FLOAT, [N], S));
    const t = (x: string) => name(`i8.${id}.${x}`);
    const node = (op: string, ins: string[], out: string, attrs: ReturnType<typeof intAttr>[] = []) => { newMain.push(makeNode(op, ins, [out], '', attrs)); return out; };
    const bits = attrInt(n, 'bits', 4);
    let qf: string;
    if (bits === 8) {
      // a code a byte: B [N, nB, bs] as it is
      qf = node('Cast', [node('Reshape', [n.input[1]!, i64s([N, nB, bs])], t('qb'))], t('qf'), [intAttr('to', DataType.FLOAT)]);
    } else {
      const Bi = node('Cast', [n.input[1]!], t('b'), [intAttr('to', DataType.INT32)]);
      const hi = node('Div', [Bi, sixteen], t('hi'));
      const lo = node('Sub', [Bi, node('Mul', [hi, sixteen], t('h16'))], t('lo'));
      const quarter = i64s([N, nB, bs / 2, 1]);
      const q = node('Concat', [node('Reshape', [lo, quarter], t('l4')), node('Reshape', [hi, quarter], t('h4'))], t('q'), [intAttr('axis', 3)]);
      qf = node('Cast', [node('Reshape', [q, i64s([N, nB, bs])], t('qb'))], t('qf'), [intAttr('to', DataType.FLOAT)]);
    }
    // zero point: 2^(bits−1) (symmetric, no zp input) or the per-block values (4-bit: packed nibbles)
    let zName: string;
    if (!zp && bits === 8) zName = c128f ||= f32('i8c.128', [128], []);
    else if (!zp) zName = eight ||= f32('i8c.8', [8], []);
    else {
      const zPer = zeroPointRowBytes(nB, bits);
      const zf = new Float32Array(N * nB);
      for (let j = 0; j < N; j++) for (let b = 0; b < nB; b++) { const byte = zp[j * zPer + (bits === 8 ? b : b >> 1)]!; zf[j * nB + b] = bits === 8 ? byte : (b & 1) ? byte >> 4 : byte & 15; }
      // stored as float [N, nB, 1]: small (one value per block, like the scales)
      zName = f32(`i8.${id}.zp`, Array.from(zf), [N, nB, 1]);
    }
    let qs = node('Sub', [qf, zName], t('qc'));
    if (smooth) {
      // the weight rows times s = 1 / (the branch's input multiplier), padded to whole blocks
      let sRows: string;
      if (nB * bs === K) sRows = node('Reshape', [node('Reciprocal', [smooth.inv], t('s')), i64s([1, nB, bs])], t('s3'));
      else { const pad = new Float32Array(nB * bs).fill(1); pad.set(sm!); sRows = f32(`i8.${id}.s3`, Array.from(pad), [1, nB, bs]); }
      qs = node('Mul', [qs, sRows], t('qs'));
    }
    // ratio[n, b] = scale[n, b] / S[n], shaped [N, nB, 1]
    const ratio = node('Div', [node('Reshape', [n.input[2]!, i64s([N, nB, 1])], t('sc')), node('Reshape', [sName, i64s([N, 1, 1])], t('S3'))], t('r'));
    const w8 = node('Cast', [node('Round', [node('Mul', [qs, ratio], t('wf'))], t('wr'))], t('w8'), [intAttr('to', DataType.INT8)]);
    let wKN = node('Reshape', [w8, i64s([N, nB * bs])], t('w2'));
    if (nB * bs !== K) wKN = node('Slice', [wKN, i64s([0]), i64s([K]), i64s([1])], t('wk'));
    const wT = t('w');
    newMain.push(makeNode('Transpose', [wKN], [wT], '', [create(AttributeProtoSchema, { name: 'perm', type: AttributeType.INTS, ints: [1n, 0n] })]));
    // Column sums of the int8 weights as the branch uses them (round(w·s / S)·S): what a row's centre
    // multiplies. JS rounds half away from zero where ORT's Round rounds to even: a tie moves one
    // column sum by S, rarely and harmlessly.
    let colSum: string | undefined;
    if (opts.activationScale === 'row-centered') {
      const cs = new Float32Array(N);
      for (let j = 0; j < N; j++) { let acc = 0; for (let k = 0; k < K; k++) acc += Math.round((w[j * K + k]! * (sm ? sm[k]! : 1)) / S[j]!); cs[j] = acc * S[j]!; }
      colSum = name(`i8.${id}.colsum`);
      inits.push(makeTensor(colSum, DataType.FLOAT, [N], cs));
    }
    int8Of.set(n, { w: wT, s: sName, colSum });
  }

  // Per-row activation quantization: s_row = max(max_k |x_k| / 127, tiny), codes = round(x / s_row) + 128
  // as uint8 (the u8×s8 QGEMM ORT runs fastest; the zero point 128 is one scalar for every row).
  const mode = opts.activationScale ?? 'row';
  const rowScale = mode !== 'tensor';
  const centered = mode === 'row-centered';
  const opset = onnxOpset(model);
  const c128 = rowScale ? name('i8c.zp128') : '';
  if (rowScale) {
    inits.push(makeTensor(c128, DataType.UINT8, [], Uint8Array.of(128)));
    inits.push(makeTensor(name('i8c.inv127'), DataType.FLOAT, [], Float32Array.of(1 / 127)));
    inits.push(makeTensor(name('i8c.tiny'), DataType.FLOAT, [], Float32Array.of(1e-30)));
    inits.push(makeTensor(name('i8c.f128'), DataType.FLOAT, [], Float32Array.of(128)));
    if (opset >= 18) inits.push(makeTensor(name('i8c.lastAxis'), DataType.INT64, [1], BigInt64Array.of(-1n)));
  }
  const [inv127, tiny, f128, lastAxis] = rowScale ? inits.slice(-(opset >= 18 ? 4 : 3)).map((t) => t.name) : [];
  const half = centered ? f32('i8c.half', [0.5], []) : '';
  const reduce = (op: string, x: string, out: string) => opset >= 18
    ? makeNode(op, [x, lastAxis!], [out], '', [intAttr('keepdims', 1)])
    : makeNode(op, [x], [out], '', [intAttr('keepdims', 1), create(AttributeProtoSchema, { name: 'axes', type: AttributeType.INTS, ints: [-1n] })]);
  const quantizeRows = (x: string, out: NodeProto[]): { codes: string; scale: string; center?: string } => {
    const t = (s: string) => name(`${x}.${s}`);
    const mx = t('max'), sc0 = t('s0'), sc = t('s'), inv = t('inv'), xs = t('xs'), xr = t('xr'), xu = t('xu'), codes = t('u8');
    let xq = x, center: string | undefined;
    if (centered) {
      // c = (max + min) / 2, half-range (max − min) / 2 = max |x − c|
      const hi = t('hi'), lo = t('lo'), sum = t('sum'), diff = t('diff');
      center = t('c'); xq = t('xc');
      out.push(reduce('ReduceMax', x, hi), reduce('ReduceMin', x, lo));
      out.push(makeNode('Add', [hi, lo], [sum], ''), makeNode('Mul', [sum, half], [center], ''));
      out.push(makeNode('Sub', [x, center], [xq], ''));
      out.push(makeNode('Sub', [hi, lo], [diff], ''), makeNode('Mul', [diff, half], [mx], ''));
    } else {
      const abs = t('abs');
      out.push(makeNode('Abs', [x], [abs], ''), reduce('ReduceMax', abs, mx));
    }
    out.push(makeNode('Mul', [mx, inv127!], [sc0], ''));
    out.push(makeNode('Max', [sc0, tiny!], [sc], ''));
    out.push(makeNode('Reciprocal', [sc], [inv], ''));
    out.push(makeNode('Mul', [xq, inv], [xs], ''));
    out.push(makeNode('Round', [xs], [xr], ''));
    out.push(makeNode('Add', [xr, f128!], [xu], ''));
    out.push(makeNode('Cast', [xu], [codes], '', [intAttr('to', DataType.UINT8)]));
    return { codes, scale: sc, center };
  };

  // The two branches: the suffix, cloned with its own names
  // The int8 branch keeps the original value and node names (only the branch outputs, which the If
  // itself produces, get a suffix): it is the branch multi-row data — evaluation and calibration
  // included — takes, so per-layer comparisons find their tensors when the branch is inlined. The
  // decode branch's names get a suffix, so every name in the model stays unique.
  const graphOutputs = new Set(outputsFromSuffix.map((o) => o.name));
  const branch = (tag: string, int8: boolean): GraphProto => {
    const local = new Map<string, string>();
    for (const n of suffix) for (const o of n.output) if (o && (!int8 || graphOutputs.has(o))) local.set(o, `${o}__${tag}`);
    const rename = (x: string) => (x && local.has(x) ? local.get(x)! : x);
    const nodeName = (x: string) => (x && !int8 ? `${x}__${tag}` : x);
    const smoothed = new Map<string, string>();
    const rowCodes = new Map<string, { codes: string; scale: string; center?: string }>();
    const nodes = [...suffix].flatMap((n) => {
      if (int8 && int8Of.has(n)) {
        const q = int8Of.get(n)!;
        const bias = n.input[5] ?? '';
        const a = n.input[0]!;
        const pre: NodeProto[] = [];
        let aIn = rename(a);
        const sm = smoothing.get(a);
        if (sm) {
          if (!smoothed.has(a)) {
            const out = name(`${sm.inv}.x`);
            smoothed.set(a, out);
            pre.push(makeNode('Mul', [aIn, sm.inv], [out], ''));
          }
          aIn = smoothed.get(a)!;
        }
        if (rowScale) {
          // u8 codes (x / s_row + 128) shared by every layer reading this input, then per layer
          // int32 = MatMulInteger(codes − 128, w8) and y = int32 · s_row · S[n] (+ bias).
          if (!rowCodes.has(aIn)) rowCodes.set(aIn, quantizeRows(aIn, pre));
          const c = rowCodes.get(aIn)!;
          const base = n.name || n.output[0]!;
          const acc = name(`${base}.i32`), accF = name(`${base}.f`), rowS = name(`${base}.rs`);
          pre.push(makeNode('MatMulInteger', [c.codes, q.w, c128], [acc], n.name ? `${n.name}_MatMulInteger` : ''));
          pre.push(makeNode('Cast', [acc], [accF], '', [intAttr('to', DataType.FLOAT)]));
          pre.push(makeNode('Mul', [accF, c.scale], [rowS], ''));
          const outs = n.output.map(rename);
          const tail: [string, string][] = [];
          if (c.center) tail.push([name(`${base}.cc`), q.colSum!]);
          if (bias) tail.push(['', bias]);
          let y = rowS, last = tail.length ? name(`${base}.cs`) : '';
          pre.push(makeNode('Mul', [y, q.s], tail.length ? [last] : outs, ''));
          y = last;
          tail.forEach(([cc, add], i) => {
            let addend = add;
            if (cc) { pre.push(makeNode('Mul', [c.center!, q.colSum!], [cc], '')); addend = cc; } // c_row · Σ_k W[k, n]
            const o = i === tail.length - 1 ? outs : [name(`${base}.a${i}`)];
            pre.push(makeNode('Add', [y, addend], o, ''));
            y = o[0]!;
          });
          return pre;
        }
        return [...pre, makeNode('DynamicQuantizeMatMul', [aIn, q.w, q.s, ...(bias ? ['', bias] : [])], n.output.map(rename), n.name ? `${n.name}_DynamicQuantizeMatMul` : '', [], 'com.microsoft')];
      }
      // A nested If/Loop/Scan (the model's own) reads the branch's names too.
      return create(NodeProtoSchema, { ...n, name: nodeName(n.name), input: n.input.map(rename), output: n.output.map(rename), attribute: n.attribute.map((x) => renameOuterReads(x, rename)) });
    });
    return create(GraphProtoSchema, {
      name: `${g.name || 'main'}_${tag}`,
      node: nodes,
      output: outputsFromSuffix.map((o) => create(ValueInfoProtoSchema, { name: rename(o.name), type: o.type })),
    });
  };
  const ifNode = makeNode('If', [cond], outputsFromSuffix.map((o) => o.name), name('prefill_If'), [graphAttr('then_branch', branch('decode', false)), graphAttr('else_branch', branch('prefill', true))]);
  g.node = [...prefix, ...newMain, ifNode];
  g.initializer.push(...inits);
  for (const sm of smoothing.values()) g.initializer.push(sm.tensor);
  localizeSmallInitializers(g, ifNode);
  return { layers: converted.length, minRows, smoothedInputs: smoothing.size, activationScale: mode, keptMatMulNBits: nbits.length - converted.length };
}

/** Initializers up to this size that only the branches read are copied into them. */
const LOCAL_INITIALIZER_BYTES = 64 * 1024;

/**
 * ORT hands every outer-scope value a branch reads to the If on each run (an implicit input each: about
 * half a microsecond apiece here, ~35 µs of a 0.5 ms decode step for moby-gpt's norms, biases and
 * smoothing vectors). Small initializers that no main-graph node reads move into the branch(es) reading
 * them — copied when both do, which costs the file a few kilobytes; large ones stay shared.
 */
function localizeSmallInitializers(g: GraphProto, ifNode: NodeProto): void {
  const mainReads = new Set(g.node.filter((n) => n !== ifNode).flatMap((n) => [...n.input, ...subgraphsOf(n).flatMap(({ graph }) => [...outerReads(graph)])]));
  const outputs = new Set(g.output.map((o) => o.name));
  const branches = ifNode.attribute.map((a) => a.g!).filter(Boolean);
  const reads = branches.map((b) => outerReads(b));
  const moved = new Set<string>();
  for (const t of g.initializer) {
    if (mainReads.has(t.name) || outputs.has(t.name)) continue;
    const bytes = t.rawData.length + 4 * (t.floatData.length + t.int32Data.length) + 8 * (t.int64Data.length + t.doubleData.length);
    if (bytes > LOCAL_INITIALIZER_BYTES || isExternal(t)) continue;
    branches.forEach((b, i) => { if (reads[i]!.has(t.name)) b.initializer.push(clone(TensorProtoSchema, t)); });
    moved.add(t.name);
  }
  if (moved.size) {
    g.initializer = g.initializer.filter((t) => !moved.has(t.name));
    g.input = g.input.filter((i) => !moved.has(i.name));
  }
}

/**
 * Per-tensor activation quantization (what DynamicQuantizeMatMul does) loses the small channels when a
 * few channels are large — the outlier channels LLM norms produce. For inputs written by a norm
 * (LayerNormalization / SkipLayerNormalization, RMSNormalization / (Skip)SimplifiedLayerNormalization,
 * or the Mul by the weight vector that ends an RMSNorm written out) the channel's range follows the norm's weight: |x_k| ≲ c·|γ_k| + |β_k|. SmoothQuant's
 * migration with α = 0.5 on that data-free estimate, s_k = √(a_k / max_n |W_kn|), divides the input by s
 * (one Mul in the int8 branch) and multiplies the weight rows by s before they are rounded to int8, so
 * x·W is unchanged and both sides share the range.
 */
function smoothingVectors(idx: GraphIndex, nbits: NodeProto[], rowMax: Map<NodeProto, Float32Array>, baseDir?: string, ranges?: Map<string, Float32Array>): Map<string, { s: Float32Array; inv: string; tensor: TensorProto }> {
  const out = new Map<string, { s: Float32Array; inv: string; tensor: TensorProto }>();
  const byInput = new Map<string, NodeProto[]>();
  for (const n of nbits) { const a = n.input[0]!; if (!byInput.has(a)) byInput.set(a, []); byInput.get(a)!.push(n); }
  const vec = (name: string | undefined, K: number) => {
    if (!name) return undefined;
    const t = idx.constant(name);
    if (!t || t.dataType !== DataType.FLOAT || t.dims.length !== 1 || Number(t.dims[0]) !== K) return undefined;
    return tensorToFloat32(t, baseDir);
  };
  for (const [a, readers] of byInput) {
    const K = attrInt(readers[0]!, 'K', 0);
    if (readers.some((r) => attrInt(r, 'K', 0) !== K)) continue;
    const measured = ranges?.get(a);
    if (measured && measured.length === K) {
      out.set(a, smoothingFrom(idx, out.size, measured, readers, rowMax));
      continue;
    }
    const p = idx.producer.get(a);
    if (!p || p.output[0] !== a) continue;
    let gamma: Float32Array | undefined, beta: Float32Array | undefined;
    if (p.opType === 'LayerNormalization' && !p.domain) { gamma = vec(p.input[1], K); beta = vec(p.input[2], K); }
    else if (p.opType === 'SkipLayerNormalization' && p.domain === 'com.microsoft') { gamma = vec(p.input[2], K); beta = vec(p.input[3], K); }
    else if ((p.opType === 'RMSNormalization' || p.opType === 'SimplifiedLayerNormalization') && (!p.domain || p.domain === 'com.microsoft')) gamma = vec(p.input[1], K);
    else if (p.opType === 'SkipSimplifiedLayerNormalization' && p.domain === 'com.microsoft') gamma = vec(p.input[2], K);
    else if (p.opType === 'Mul' && !p.domain) gamma = vec(p.input[1], K) ?? vec(p.input[0], K);
    if (!gamma) continue;
    const act = Float32Array.from(gamma, (g, k) => Math.abs(g) + (beta ? Math.abs(beta[k]!) : 0));
    const medianAct = Float32Array.from(act).sort()[K >> 1]! || 1;
    const s = new Float32Array(K);
    for (let k = 0; k < K; k++) {
      let wmax = 0;
      for (const r of readers) wmax = Math.max(wmax, rowMax.get(r)![k]!);
      // A row the int4 rounding zeroed (a large channel read by tiny weights) carries nothing: bring the
      // channel down to the median range so it does not stretch the per-tensor scale.
      const v = act[k]! <= 0 ? 1 : wmax > 0 ? Math.sqrt(act[k]! / wmax) : act[k]! / medianAct;
      s[k] = Math.min(1e4, Math.max(1e-4, v));
    }
    const inv = idx.unique(`i8.inv.${out.size}`);
    out.set(a, { s, inv, tensor: makeTensor(inv, DataType.FLOAT, [K], Float32Array.from(s, (v) => 1 / v)) });
  }
  return out;
}

/**
 * SmoothQuant (α = 0.5) from measured ranges: s_k = √(max|x_k| / max_n |W_kn|); a channel that never
 * moved (range 0) keeps s = 1.
 */
function smoothingFrom(idx: GraphIndex, id: number, act: Float32Array, readers: NodeProto[], rowMax: Map<NodeProto, Float32Array>): { s: Float32Array; inv: string; tensor: TensorProto } {
  const K = act.length;
  const s = new Float32Array(K);
  const medianAct = Float32Array.from(act).sort()[K >> 1]! || 1;
  for (let k = 0; k < K; k++) {
    let wmax = 0;
    for (const r of readers) wmax = Math.max(wmax, rowMax.get(r)![k]!);
    // As in the norm-based estimate: a channel whose weights the int4 rounding zeroed carries nothing
    // but would still set every row's scale — bring it down to the median range.
    const v = act[k]! <= 0 ? 1 : wmax > 0 ? Math.sqrt(act[k]! / wmax) : act[k]! / medianAct;
    s[k] = Math.min(1e4, Math.max(1e-4, v));
  }
  const inv = idx.unique(`i8.inv.${id}`);
  return { s, inv, tensor: makeTensor(inv, DataType.FLOAT, [K], Float32Array.from(s, (v) => 1 / v)) };
}
