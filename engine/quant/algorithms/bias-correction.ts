// Bias correction (Nagel et al., "Data-Free Quantization", §4.2, empirical variant) for W8A8/QDQ
// recipes: rounding a layer's weight shifts the expected value of its output by
// E[(W - Ŵ)·x] = (W - Ŵ)·E[x]; adding that shift to the float bias before the QDQ writer quantizes it
// (int32, scale s_in·s_w) cancels it on average. Ŵ is the weight exactly as the writer exports it
// (the same quantizeWeight call, dequantized as DequantizeLinear does); E[x] is the per-input-feature
// mean of the layer's input over the calibration samples, measured in one extra ORT pass with the
// inputs exposed as graph outputs (addGraphOutputs, as calibration does).
// Conv: Δb[o] = Σ_{ci,k} (W - Ŵ)[o,ci,k]·E[x_{g·Cin/g+ci}] (groups respected; zero padding at the
// borders is ignored). Gemm/MatMul with weight [K,N]: Δb[n] = Σ_k (W - Ŵ)[k,n]·E[x_k] (Gemm transB and
// alpha/beta honoured). A MatMul without bias gets its Δb folded into a following Add-with-constant, or
// a new Add after it; anything else is left as it is, with a notice.
import { DataType, type ModelProto, type NodeProto, type TensorProto } from '../../onnx/proto';
import { serializeModel } from '../../onnx/model-io';
import { makeTensor, tensorDims, tensorToFloat32 } from '../../onnx/tensor';
import type { NpyArray } from '../../data/npy';
import type { Recipe } from '../../../contract/recipe';
import type { QdqPlan, QdqTarget } from '../qdq-targets';
import { quantizeWeight } from '../math/qdq-params';
import { makeNode } from '../../onnx/graph';
import { attrInt } from '../../onnx/attributes';
import { addGraphOutputs } from '../calibration/augment';
import { createSession, type Device } from '../../runtime/session';
import { feedsFor, sampleCount, runSize, wholeRuns } from '../../runtime/batching';
import { throwIfCancelled, type WorkContext } from '../../util/work-context';

export interface BiasCorrectionOptions {
  model: ModelProto;
  baseDir?: string;
  plan: QdqPlan;
  recipe: Recipe;
  inputs: Record<string, NpyArray>;
  device?: Device;
  ctx?: WorkContext;
}

export interface BiasCorrectionLayer {
  node: string;
  /** RMS over output channels of the removed expected output shift |Δb|. */
  shiftRms: number;
  maxAbsShift: number;
}

export interface BiasCorrectionResult {
  corrected: BiasCorrectionLayer[];
  skipped: { node: string; reason: string }[];
  notices: string[];
}

/** Dequantized weight exactly as the QDQ writer exports it (DequantizeLinear: (q - zp)·scale in float32). */
export function exportedWeight(w: Float32Array, dims: readonly number[], recipe: Recipe, t: Pick<QdqTarget, 'weightAxis' | 'groupAxis'>): Float32Array {
  const grouped = typeof recipe.weights.granularity === 'object' ? recipe.weights.granularity.group : 0;
  const axis = grouped ? t.groupAxis : t.weightAxis;
  const block = grouped && axis !== undefined ? grouped : undefined;
  const q = quantizeWeight(w, dims, recipe.weights.dtype, recipe.weights.scheme, axis, block);
  const out = new Float32Array(w.length);
  if (axis === undefined) {
    const s = q.scales[0]!, z = q.zeroPoints[0]!;
    for (let i = 0; i < w.length; i++) out[i] = Math.fround((q.values[i]! - z) * s);
    return out;
  }
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const len = dims[axis]!;
  const pLen = block ? Math.ceil(len / block) : len;
  for (let i = 0; i < w.length; i++) {
    const outer = Math.floor(i / (inner * len)), c = Math.floor(i / inner) % len, r = i % inner;
    const p = block ? (outer * pLen + Math.floor(c / block)) * inner + r : c;
    out[i] = Math.fround((q.values[i]! - q.zeroPoints[p]!) * q.scales[p]!);
  }
  return out;
}

/** Δb for one layer from the weight error (W - Ŵ) and the per-input-feature means. */
export function biasShift(op: 'Conv' | 'Gemm' | 'MatMul', err: Float32Array, dims: readonly number[], mean: Float64Array, o: { group?: number; transB?: boolean } = {}): Float64Array {
  if (op === 'Conv') {
    const [cout, cinG] = [dims[0]!, dims[1]!];
    const k = dims.slice(2).reduce((a, b) => a * b, 1);
    const g = o.group ?? 1, perG = cout / g;
    const d = new Float64Array(cout);
    for (let oc = 0; oc < cout; oc++) {
      const base = Math.floor(oc / perG) * cinG;
      let s = 0;
      for (let ci = 0; ci < cinG; ci++) {
        let e = 0;
        const off = (oc * cinG + ci) * k;
        for (let j = 0; j < k; j++) e += err[off + j]!;
        s += e * mean[base + ci]!;
      }
      d[oc] = s;
    }
    return d;
  }
  // [K,N] (or [N,K] with transB).
  const [K, N] = o.transB ? [dims[1]!, dims[0]!] : [dims[0]!, dims[1]!];
  const d = new Float64Array(N);
  for (let k = 0; k < K; k++) {
    const m = mean[k]!;
    if (m === 0) continue;
    for (let n = 0; n < N; n++) d[n] += err[o.transB ? n * K + k : k * N + n]! * m;
  }
  return d;
}

/** Per-feature means of `tensors` (Conv inputs: axis 1; others: the last axis) over the calibration samples. */
async function featureMeans(model: ModelProto, tensors: Map<string, 'channel' | 'last'>, inputs: Record<string, NpyArray>, samples: number, batchSize: number, device?: Device, ctx?: WorkContext): Promise<Map<string, Float64Array>> {
  const graphInputs = new Set(model.graph!.input.map((i) => i.name));
  const exposed = [...tensors.keys()].filter((t) => !graphInputs.has(t));
  const s = await createSession(serializeModel(addGraphOutputs(model, exposed)), { device, source: 'bias-correction model' });
  const sums = new Map<string, { sum: Float64Array; count: number }>();
  const total = wholeRuns(inputs, Math.min(samples, sampleCount(inputs)));
  try {
    for (let done = 0; done < total;) {
      throwIfCancelled(ctx);
      const end = Math.min(total, done + runSize(inputs, batchSize));
      const feeds = feedsFor(inputs, done, end);
      const out = exposed.length ? await s.run(feeds, exposed) : {};
      for (const [t, layout] of tensors) {
        const v = out[t] ?? feeds[t];
        if (!v || v.type !== 'float32') continue;
        const dims = v.dims.map(Number), data = v.data as Float32Array;
        const ax = layout === 'channel' ? 1 : dims.length - 1;
        const C = dims[ax]!, inner = dims.slice(ax + 1).reduce((a, b) => a * b, 1);
        let acc = sums.get(t);
        if (!acc) sums.set(t, acc = { sum: new Float64Array(C), count: 0 });
        if (acc.sum.length !== C) continue;
        for (let i = 0; i < data.length; i++) acc.sum[Math.floor(i / inner) % C] += data[i]!;
        acc.count += data.length / C;
      }
      for (const v of Object.values(out)) v.dispose?.();
      done = end;
      ctx?.onProgress?.({ stage: 'bias-correction', fraction: done / total, message: `bias correction: input means ${done}/${total} samples` });
    }
  } finally {
    await s.release();
  }
  const means = new Map<string, Float64Array>();
  for (const [t, a] of sums) if (a.count > 0) means.set(t, a.sum.map((x) => x / a.count));
  return means;
}

/**
 * Correct the float biases of the plan's weight targets in `model` (main graph) in place, before the
 * QDQ writer quantizes them. New bias inputs are recorded in the plan (`biasInput`).
 */
export async function runBiasCorrection(o: BiasCorrectionOptions): Promise<BiasCorrectionResult> {
  const g = o.model.graph!;
  const skipped: BiasCorrectionResult['skipped'] = [];
  const inits = new Map<string, TensorProto>(g.initializer.map((t) => [t.name, t]));
  const isFloatInit = (name: string | undefined) => !!name && inits.get(name)?.dataType === DataType.FLOAT;
  const layers: { t: QdqTarget; op: 'Conv' | 'Gemm' | 'MatMul'; input: string }[] = [];
  for (const t of o.plan.targets) {
    const n = t.node;
    const op = n.opType;
    if (op !== 'Conv' && op !== 'Gemm' && op !== 'MatMul') continue;
    if (t.graph !== g) { skipped.push({ node: n.name, reason: 'inside a subgraph' }); continue; }
    if (t.weightInput !== 1 || !isFloatInit(n.input[1])) { skipped.push({ node: n.name, reason: 'its weight is not a float32 initializer' }); continue; }
    if (op === 'Gemm' && attrInt(n, 'transA', 0) !== 0) { skipped.push({ node: n.name, reason: 'transA=1' }); continue; }
    if (op === 'MatMul' && tensorDims(inits.get(n.input[1]!)!).length !== 2) { skipped.push({ node: n.name, reason: 'its weight is not 2-D' }); continue; }
    layers.push({ t, op, input: n.input[0]! });
  }
  const want = new Map<string, 'channel' | 'last'>();
  for (const l of layers) want.set(l.input, l.op === 'Conv' ? 'channel' : 'last');
  const means = layers.length
    ? await featureMeans(o.model, want, o.inputs, o.recipe.calibration.samples, o.recipe.calibration.batchSize, o.device, o.ctx)
    : new Map<string, Float64Array>();

  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) for (const i of n.input) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  const graphOutputs = new Set(g.output.map((x) => x.name));
  const used = new Set([...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => [...n.input, ...n.output]), ...g.input.map((i) => i.name)]);
  const unique = (base: string) => { let s = base, i = 1; while (used.has(s)) s = `${base}_${i++}`; used.add(s); return s; };
  const addInit = (base: string, dims: number[], data: Float32Array) => {
    const name = unique(base);
    const t = makeTensor(name, DataType.FLOAT, dims, data);
    g.initializer.push(t);
    inits.set(name, t);
    return name;
  };

  const corrected: BiasCorrectionLayer[] = [];
  for (const { t, op, input } of layers) {
    const n = t.node;
    const mean = means.get(input);
    if (!mean) { skipped.push({ node: n.name, reason: `no float mean for its input ${input}` }); continue; }
    const wT = inits.get(n.input[1]!)!;
    const dims = tensorDims(wT).map(Number);
    const w = tensorToFloat32(wT, o.baseDir);
    const wq = exportedWeight(w, dims, o.recipe, t);
    const err = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) err[i] = w[i]! - wq[i]!;
    const transB = op === 'Gemm' && attrInt(n, 'transB', 0) !== 0;
    const group = op === 'Conv' ? attrInt(n, 'group', 1) : 1;
    const cinNeeded = op === 'Conv' ? dims[1]! * group : transB ? dims[1]! : dims[0]!;
    if (mean.length !== cinNeeded) { skipped.push({ node: n.name, reason: `its input has ${mean.length} features, the weight expects ${cinNeeded}` }); continue; }
    let delta = biasShift(op, err, dims, mean, { group, transB });
    if (op === 'Gemm') {
      const alphaA = n.attribute.find((a) => a.name === 'alpha'), betaA = n.attribute.find((a) => a.name === 'beta');
      const alpha = alphaA ? alphaA.f : 1, beta = betaA ? betaA.f : 1;
      if (n.input[2] && beta === 0) { skipped.push({ node: n.name, reason: 'beta=0' }); continue; }
      const f = n.input[2] ? alpha / beta : alpha;
      if (f !== 1) delta = delta.map((x) => x * f);
      if (!n.input[2] && !(alpha === 1 && !betaA)) { skipped.push({ node: n.name, reason: 'no C input and alpha/beta set' }); continue; }
    }
    const N = delta.length;
    const apply = (bias: Float32Array) => { const b = new Float32Array(N); for (let i = 0; i < N; i++) b[i] = Math.fround(bias[i]! + delta[i]!); return b; };
    let target: { node: NodeProto; index: number } | undefined;
    if (op === 'Conv' || op === 'Gemm') {
      if (n.input[2]) {
        if (!isFloatInit(n.input[2])) { skipped.push({ node: n.name, reason: 'its bias is not a float32 initializer' }); continue; }
        target = { node: n, index: 2 };
      } else {
        while (n.input.length < 2) n.input.push('');
        n.input[2] = addInit(`${n.name || n.output[0]}_bias_corrected`, [N], apply(new Float32Array(N)));
        // The writer quantizes a bias input it was told about (same rule as the plan's).
        if (op === 'Conv' || n.attribute.every((a) => (a.name !== 'alpha' && a.name !== 'beta') || a.f === 1)) t.biasInput = 2;
      }
    } else {
      // MatMul: fold into the one Add-with-constant that reads it, else add a bias Add after it.
      const y = n.output[0]!;
      const cs = consumers.get(y) ?? [];
      const add = cs.length === 1 && cs[0]!.opType === 'Add' && !graphOutputs.has(y) ? cs[0]! : undefined;
      const ci = add ? add.input.findIndex((i) => i !== y && isFloatInit(i)) : -1;
      const cDims = ci >= 0 ? tensorDims(inits.get(add!.input[ci]!)!).map(Number) : [];
      if (add && ci >= 0 && cDims.length >= 1 && cDims[cDims.length - 1] === N && cDims.every((d, i) => i === cDims.length - 1 || d === 1)) {
        target = { node: add, index: ci };
      } else if (t.foldedRelu) {
        skipped.push({ node: n.name, reason: 'no bias to fold into (a Relu is folded after it)' }); continue;
      } else {
        const pre = unique(`${y}_before_bias_correction`);
        const bName = addInit(`${n.name || y}_bias_corrected`, [N], apply(new Float32Array(N)));
        n.output[0] = pre;
        g.node.splice(g.node.indexOf(n) + 1, 0, makeNode('Add', [pre, bName], [y], unique(`${n.name || y}_bias_correction_Add`)));
      }
    }
    if (target) {
      const old = target.node.input[target.index]!;
      const oldT = inits.get(old)!;
      const oDims = tensorDims(oldT).map(Number);
      const bias = tensorToFloat32(oldT, o.baseDir);
      if (bias.length !== N) { skipped.push({ node: n.name, reason: `its bias has ${bias.length} values, not ${N}` }); continue; }
      // A new initializer, so a bias shared with another node is not changed under it.
      target.node.input[target.index] = addInit(`${old}_bias_corrected`, oDims, apply(bias));
      if (!g.node.some((m) => m.input.includes(old))) g.initializer.splice(g.initializer.indexOf(oldT), 1);
    }
    let ss = 0, mx = 0;
    for (const d of delta) { ss += d * d; mx = Math.max(mx, Math.abs(d)); }
    corrected.push({ node: n.name, shiftRms: Math.sqrt(ss / Math.max(1, N)), maxAbsShift: mx });
  }
  const notices = [`Bias correction: corrected the bias of ${corrected.length} of ${layers.length + skipped.length} layer(s) for the mean output shift their weight rounding causes (E[x] over ${Math.min(o.recipe.calibration.samples, sampleCount(o.inputs))} calibration samples).`];
  if (skipped.length) notices.push(`Bias correction skipped ${skipped.length} layer(s): ${skipped.slice(0, 3).map((s) => `${s.node}: ${s.reason}`).join('; ')}${skipped.length > 3 ? '; ...' : ''}.`);
  return { corrected, skipped, notices };
}

