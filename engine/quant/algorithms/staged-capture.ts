// Streaming activation statistics for weight-only algorithms, measured stage by stage through the model
// as it is being quantized. For each requested activation X (flattened to [rows, K]) ORT itself computes,
// per calibration batch, XᵀX (Gemm transA=1), max|X| and Σ|X| per input channel — so no activation ever
// reaches JavaScript, and memory does not grow with the number of samples.
//
// Passes are cheap: each pass runs only the nodes between the previous pass's frontier (the tensors
// later nodes still need, kept per batch) and this stage's targets. ORT prunes everything past the
// requested outputs; weights changed since (the previous stage, now quantized) are read from `overrides`.
//
// Memory: the frontier is kept for every calibration batch between passes — on moby-gpt with 128 windows
// of 256 bytes that is 42 MB (a [32768, 320] residual) up to 168 MB (the [32768, 1280] GELU output before
// the MLP projection). Streaming it away is not cheap: stage s+1 must see stage s quantized with the
// statistics of *all* batches, so dropping the frontier means re-running the graph from the inputs per
// pass (the whole prefix, O(stages²) work). Time per pass is in `passes`; on moby-gpt (2 cores) the ORT
// run dominates (session creation is 2–20 ms a pass, serialisation ≤ 10 ms): the forward MatMuls and
// the K×K Grams (the [32768, 1280] MLP input's is the largest) are most of it.
import { availableParallelism } from 'node:os';
import {
  create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, ValueInfoProtoSchema, TypeProtoSchema,
  TypeProto_TensorSchema, AttributeProtoSchema, AttributeType, OperatorSetIdProtoSchema, toBinary,
  type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto,
} from '../../onnx/proto';
import { DataType, makeTensor } from '../../onnx/tensor';
import { StudioError, quote } from '../../errors';
import { throwIfCancelled, type WorkContext } from '../../util/work-context';
import { createSession, ort } from '../../runtime/session';
import { fuseTanhGelu } from '../../onnx/fusions/fast-gelu';
import { pruneUnused } from '../../onnx/graph';

export interface ActivationStats {
  name: string;
  /** Channels (last axis). */
  cols: number;
  /** Rows seen (all leading axes, all batches). */
  count: number;
  /** Σ XᵀX, cols × cols (H = 2·gram / count). */
  gram?: Float64Array;
  /** max |X| per channel (zeros unless asked for: `want.absMax`). */
  absMax: Float32Array;
  /** Σ |X| per channel, mean = absSum / count (zeros unless asked for: `want.absSum`). */
  absSum: Float64Array;
}

/** What a pass computes per target; the |X| reductions default to on (GPTQ needs only the Gram). */
export interface CaptureWant {
  gram: boolean;
  absMax?: boolean;
  absSum?: boolean;
}

/** Where one pass's time went (wall ms), for the timings a run reports. */
export interface CapturePassTiming {
  target: string;
  nodes: number;
  createMs: number;
  runMs: number;
  accumulateMs: number;
}

const ORT_TO_ONNX: Record<string, number> = {
  float32: DataType.FLOAT, int64: DataType.INT64, int32: DataType.INT32, bool: DataType.BOOL, float16: DataType.FLOAT16,
  uint8: DataType.UINT8, int8: DataType.INT8, float64: DataType.DOUBLE, uint16: DataType.UINT16, int16: DataType.INT16,
};

function valueInfo(name: string, elemType?: number): ValueInfoProto {
  if (elemType === undefined) return create(ValueInfoProtoSchema, { name });
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType }) } }),
  });
}

function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, number | number[]> = {}): NodeProto {
  return create(NodeProtoSchema, {
    opType, input: inputs, output: outputs, name: `qs_stats_${outputs[0]}`,
    attribute: Object.entries(attrs).map(([name, v]) => Array.isArray(v)
      ? create(AttributeProtoSchema, { name, type: AttributeType.INTS, ints: v.map((x) => BigInt(x)) })
      : create(AttributeProtoSchema, { name, type: AttributeType.INT, i: BigInt(v) })),
  });
}

/** Channel blocks for the symmetric Gram: 4 for wide inputs that split evenly, else one Gemm. */
function gramParts(K: number): number {
  return K >= 512 && K % 4 === 0 ? 4 : 1;
}

export function defaultOpset(model: ModelProto): number {
  return Number(model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 13);
}

export interface StagedCaptureOptions {
  /** Batches of model inputs (each a full feed). */
  batches: Record<string, ort.Tensor>[];
  /** Current float values of changed initializers (stored layout), applied to every pass. */
  overrides: Map<string, Float32Array>;
  threads?: number;
  /** Run tanh-GELUs as one com.microsoft FastGelu in the passes (same values to float rounding). Default true. */
  fuseGelu?: boolean;
  ctx?: WorkContext;
}

export class StagedCapture {
  private readonly model: ModelProto;
  private readonly baseDir: string | undefined;
  private readonly opts: StagedCaptureOptions;
  private readonly producer = new Map<string, NodeProto>();
  private readonly consumers = new Map<string, NodeProto[]>();
  private readonly inits: Map<string, TensorProto>;
  private readonly graphInputs: Set<string>;
  private readonly executed = new Set<NodeProto>();
  /** Frontier tensors, one ort.Tensor per batch. */
  private cache = new Map<string, ort.Tensor[]>();
  private readonly opset: number;
  /** Wall time spent inside ORT (create + run) plus folding each batch's statistics in, ms. */
  ortMs = 0;
  /** One entry per pass. */
  readonly passes: CapturePassTiming[] = [];

  constructor(model: ModelProto, baseDir: string | undefined, opts: StagedCaptureOptions) {
    // The passes' forward is ORT's: a tanh-GELU written as nine elementwise nodes costs nine passes over
    // the [rows, 4·d] MLP activation per batch (ORT does not fuse this form); FastGelu is one. Tensor
    // names the algorithms ask for (MatMul inputs) survive: only patterns whose insides nobody else reads
    // are fused, and the GELU's output keeps its name.
    if (opts.fuseGelu ?? true) {
      const graph = create(GraphProtoSchema, { ...model.graph!, node: [...model.graph!.node], initializer: [...model.graph!.initializer], input: [...model.graph!.input] });
      if (fuseTanhGelu(graph, baseDir) > 0) {
        pruneUnused(graph);
        const opsetImport = model.opsetImport.some((o) => o.domain === 'com.microsoft')
          ? model.opsetImport
          : [...model.opsetImport, create(OperatorSetIdProtoSchema, { domain: 'com.microsoft', version: 1n })];
        model = create(ModelProtoSchema, { ...model, graph, opsetImport });
      }
    }
    this.model = model;
    this.baseDir = baseDir;
    this.opts = opts;
    const g = model.graph!;
    for (const n of g.node) {
      for (const o of n.output) this.producer.set(o, n);
      for (const i of n.input) { if (!this.consumers.has(i)) this.consumers.set(i, []); this.consumers.get(i)!.push(n); }
    }
    this.inits = new Map(g.initializer.map((t) => [t.name, t]));
    this.graphInputs = new Set(g.input.map((i) => i.name).filter((n) => !this.inits.has(n)));
    this.opset = defaultOpset(model);
  }

  private isAvailable(t: string): boolean {
    return t === '' || this.inits.has(t) || this.graphInputs.has(t) || this.cache.has(t);
  }

  /**
   * Run the nodes needed for `targets` (from the current frontier) on every batch and return the
   * statistics of each target. Must be called in stage order; `overrides` must already hold the
   * quantized weights of every earlier stage.
   */
  async capture(targets: string[], want: CaptureWant): Promise<Map<string, ActivationStats>> {
    const wantMax = want.absMax ?? true, wantSum = want.absSum ?? true;
    const g = this.model.graph!;
    const needed = new Set<NodeProto>();
    const stack = [...new Set(targets)];
    const seen = new Set<string>(stack);
    while (stack.length) {
      const t = stack.pop()!;
      if (this.isAvailable(t)) continue;
      const p = this.producer.get(t);
      if (!p) throw new StudioError('BAD_MODEL', `Tensor ${quote(t)} has no producer in the graph and is not an input or initializer.`);
      if (this.executed.has(p)) throw new StudioError('INTERNAL', `Staged capture: tensor ${quote(t)} was computed by an earlier pass but not kept.`);
      needed.add(p);
      for (const i of p.input) if (!seen.has(i)) { seen.add(i); stack.push(i); }
    }
    const nodes = g.node.filter((n) => needed.has(n));
    const executedAfter = new Set(this.executed);
    for (const n of nodes) if (n.opType !== 'Constant') executedAfter.add(n);

    // Frontier after this pass: produced by executed nodes, read by a node not yet executed.
    const frontier = new Set<string>();
    for (const n of executedAfter) {
      for (const o of n.output) {
        if (o && (this.consumers.get(o) ?? []).some((c) => !executedAfter.has(c) && c.opType !== 'Constant')) frontier.add(o);
      }
    }
    const feedsFromCache = new Set<string>();
    const usedInputs = new Set<string>();
    for (const n of nodes) for (const i of n.input) if (i) usedInputs.add(i);
    for (const t of targets) usedInputs.add(t);
    for (const t of frontier) usedInputs.add(t); // cached frontier tensors that stay are passed straight on
    for (const t of usedInputs) if (this.cache.has(t)) feedsFromCache.add(t);
    const modelInputs = [...usedInputs].filter((t) => this.graphInputs.has(t));
    const newFrontier = [...frontier].filter((t) => !this.cache.has(t) && !this.graphInputs.has(t));

    // Statistics nodes per target.
    const statNodes: NodeProto[] = [];
    const statInits: TensorProto[] = [];
    const statOutputs: string[] = [];
    const uniqTargets = [...new Set(targets)];
    const colsOf = new Map<string, number>();
    for (const t of uniqTargets) {
      const K = this.channelsOf(t);
      colsOf.set(t, K);
      const p = `qs_${uniqTargets.indexOf(t)}`;
      statInits.push(makeTensor(`${p}_shape`, DataType.INT64, [2], BigInt64Array.from([-1n, BigInt(K)])));
      statNodes.push(node('Reshape', [t, `${p}_shape`], [`${p}_x2d`]));
      // The |X| reductions over axis 0 of a [rows, K] tensor are slow in ORT (about a fifth of a GPTQ
      // pass's kernel time on moby-gpt): only when asked for.
      if (wantMax || wantSum) {
        if (wantSum || this.opset >= 18) statInits.push(makeTensor(`${p}_axes`, DataType.INT64, [1], BigInt64Array.from([0n])));
        statNodes.push(node('Abs', [`${p}_x2d`], [`${p}_abs`]));
      }
      if (wantMax) {
        if (this.opset >= 18) statNodes.push(node('ReduceMax', [`${p}_abs`, `${p}_axes`], [`${p}_absmax`], { keepdims: 0 }));
        else statNodes.push(node('ReduceMax', [`${p}_abs`], [`${p}_absmax`], { keepdims: 0, axes: [0] }));
        statOutputs.push(`${p}_absmax`);
      }
      if (wantSum) {
        statNodes.push(node('ReduceSum', [`${p}_abs`, `${p}_axes`], [`${p}_abssum`], { keepdims: 0 }));
        statOutputs.push(`${p}_abssum`);
      }
      statNodes.push(node('Shape', [`${p}_x2d`], [`${p}_rows`]));
      statOutputs.push(`${p}_rows`);
      if (want.gram) {
        // XᵀX is symmetric: for wide inputs compute only the upper blocks X_iᵀX_j (i ≤ j) of a P×P
        // split of the channels — 10/16 of the multiply-adds for P = 4.
        const P = gramParts(K);
        if (P === 1) {
          statNodes.push(node('Gemm', [`${p}_x2d`, `${p}_x2d`], [`${p}_gram`], { transA: 1 }));
          statOutputs.push(`${p}_gram`);
        } else {
          const w = K / P;
          statInits.push(makeTensor(`${p}_ax1`, DataType.INT64, [1], BigInt64Array.from([1n])));
          for (let i = 0; i < P; i++) {
            statInits.push(makeTensor(`${p}_s${i}`, DataType.INT64, [1], BigInt64Array.from([BigInt(i * w)])));
            statInits.push(makeTensor(`${p}_e${i}`, DataType.INT64, [1], BigInt64Array.from([BigInt((i + 1) * w)])));
            statNodes.push(node('Slice', [`${p}_x2d`, `${p}_s${i}`, `${p}_e${i}`, `${p}_ax1`], [`${p}_x${i}`]));
          }
          for (let i = 0; i < P; i++) for (let j = i; j < P; j++) {
            statNodes.push(node('Gemm', [`${p}_x${i}`, `${p}_x${j}`], [`${p}_gram_${i}_${j}`], { transA: 1 }));
            statOutputs.push(`${p}_gram_${i}_${j}`);
          }
        }
      }
    }

    const initNames = new Set<string>();
    for (const n of nodes) for (const i of n.input) if (this.inits.has(i)) initNames.add(i);
    const initializers = [...initNames].map((name) => {
      const over = this.opts.overrides.get(name);
      const t = this.inits.get(name)!;
      if (over) return makeTensor(name, DataType.FLOAT, t.dims.map(Number), over);
      return t;
    });

    const stats = new Map<string, ActivationStats>();
    for (const t of uniqTargets) {
      const K = colsOf.get(t)!;
      stats.set(t, { name: t, cols: K, count: 0, gram: want.gram ? new Float64Array(K * K) : undefined, absMax: new Float32Array(K), absSum: new Float64Array(K) });
    }

    const batches = this.opts.batches;
    const newCache = new Map<string, ort.Tensor[]>();
    for (const t of frontier) if (this.cache.has(t)) newCache.set(t, this.cache.get(t)!);
    for (const t of newFrontier) newCache.set(t, []);

    const inputInfos: ValueInfoProto[] = [
      ...modelInputs.map((name) => g.input.find((i) => i.name === name)!),
      ...[...feedsFromCache].map((name) => valueInfo(name, ORT_TO_ONNX[this.cache.get(name)![0]!.type])),
    ];
    const sub = create(ModelProtoSchema, {
      irVersion: this.model.irVersion,
      opsetImport: this.model.opsetImport,
      graph: create(GraphProtoSchema, {
        name: 'qs_stage',
        node: [...nodes, ...statNodes],
        initializer: [...initializers, ...statInits],
        input: inputInfos,
        output: [...newFrontier, ...statOutputs].map((n) => valueInfo(n)),
      }),
    });
    const t0 = performance.now();
    let runMs = 0, accMs = 0;
    // No spin-waiting: on a shared, busy CPU spinning threads cost more than they save. External
    // initializers resolve against the model's folder (baseDir), never the working directory.
    const session = await createSession(toBinary(ModelProtoSchema, sub), {
      device: 'cpu', threads: this.opts.threads ?? availableParallelism(), optimization: 'all', spinning: false, baseDir: this.baseDir, source: 'staged capture submodel',
    });
    const tCreated = performance.now();
    try {
      for (let b = 0; b < batches.length; b++) {
        throwIfCancelled(this.opts.ctx);
        const feeds: Record<string, ort.Tensor> = {};
        for (const name of modelInputs) feeds[name] = batches[b]![name]!;
        for (const name of feedsFromCache) feeds[name] = this.cache.get(name)![b]!;
        const tr = performance.now();
        const res = await session.run(feeds);
        const ta = performance.now();
        runMs += ta - tr;
        for (const t of newFrontier) newCache.get(t)!.push(res[t]!);
        uniqTargets.forEach((t, idx) => {
          const p = `qs_${idx}`;
          const s = stats.get(t)!;
          if (wantMax) {
            const am = res[`${p}_absmax`]!.data as Float32Array;
            for (let c = 0; c < s.cols; c++) if (am[c]! > s.absMax[c]!) s.absMax[c] = am[c]!;
          }
          if (wantSum) {
            const as = res[`${p}_abssum`]!.data as Float32Array;
            for (let c = 0; c < s.cols; c++) s.absSum[c]! += as[c]!;
          }
          s.count += Number((res[`${p}_rows`]!.data as BigInt64Array)[0]);
          if (s.gram) {
            const P = gramParts(s.cols);
            if (P === 1) {
              const gm = res[`${p}_gram`]!.data as Float32Array;
              for (let i = 0; i < gm.length; i++) s.gram[i]! += gm[i]!;
            } else {
              // Upper blocks only, row by row (contiguous); the lower triangle is mirrored once per pass.
              const K = s.cols, w = K / P;
              for (let bi = 0; bi < P; bi++) for (let bj = bi; bj < P; bj++) {
                const gm = res[`${p}_gram_${bi}_${bj}`]!.data as Float32Array; // [w, w]
                for (let a = 0; a < w; a++) {
                  const row = (bi * w + a) * K + bj * w;
                  for (let b = 0; b < w; b++) s.gram[row + b]! += gm[a * w + b]!;
                }
              }
            }
          }
        });
        accMs += performance.now() - ta;
      }
    } finally {
      await session.release();
    }
    const tm = performance.now();
    for (const s of stats.values()) {
      if (!s.gram || gramParts(s.cols) === 1) continue;
      const K = s.cols, w = K / gramParts(K), g = s.gram;
      // Mirror the strictly-upper off-diagonal blocks (block row < block column) into the lower ones.
      for (let i = 0; i < K; i++) {
        const bi = Math.floor(i / w);
        for (let j = (bi + 1) * w; j < K; j++) g[j * K + i] = g[i * K + j]!;
      }
    }
    accMs += performance.now() - tm;
    this.passes.push({ target: uniqTargets[0]!, nodes: nodes.length, createMs: tCreated - t0, runMs, accumulateMs: accMs });
    this.ortMs += performance.now() - t0;
    for (const n of executedAfter) this.executed.add(n);
    this.cache = newCache;
    return stats;
  }

  /**
   * True once every node reading initializer `name` has run in a pass: no later pass reads it again, so
   * an override for it (a quantized layer's float copy, 4 bytes per weight) can be let go.
   */
  spent(name: string): boolean {
    return (this.consumers.get(name) ?? []).every((n) => this.executed.has(n));
  }

  /** Channel count (last axis) of a layer input: from the weight of a MatMul/Gemm that reads it. */
  private channelsOf(t: string): number {
    for (const c of this.consumers.get(t) ?? []) {
      if (c.opType !== 'MatMul' && c.opType !== 'Gemm') continue;
      let w = c.input[1] ?? '';
      const p = this.producer.get(w);
      let transposed = false;
      if (!this.inits.has(w) && p?.opType === 'Transpose') { w = p.input[0]!; transposed = true; }
      const init = this.inits.get(w);
      if (!init || init.dims.length !== 2) continue;
      if (c.opType === 'Gemm' && Number(c.attribute.find((a) => a.name === 'transB')?.i ?? 0) === 1) transposed = !transposed;
      return Number(transposed ? init.dims[1] : init.dims[0]);
    }
    throw new StudioError('INTERNAL', `Staged capture: cannot tell the channel count of ${quote(t)} (no MatMul/Gemm with a 2-D weight reads it).`);
  }
}
