// AWQ (Lin et al. 2023): protect the weights that meet large activations by scaling input channels
// before rounding. For each group of layers reading one activation X:
//   s_x = mean|X| per channel (calibration), s = s_x^α normalised (√(max·min) = 1),
//   α from a grid over [0, 1) minimising the group's output error ‖X·(W − Q(W·s)/s)ᵀ‖² (through XᵀX),
//   then 1/s folded into the norm that produces X (or an inserted Mul), W·s kept for quantization;
//   then, per output row and group, a clipping ratio of the range minimising that group's output error.
import type { ort } from '../../runtime/session';
import { clone, create, GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, type ModelProto } from '../../onnx/proto';
import { throwIfCancelled, type WorkContext } from '../../util/work-context';
import { findLinearLayers, layerWeightNK, stageLayers, type LinearLayer, type LinearSelection } from './linear-layers';
import { StagedCapture, type ActivationStats } from './staged-capture';
import { groupQuadraticForms, hessianFromGram, holdQuadraticForms, layerErrors, quadraticFormSum, rowQuadraticForms } from './layer-error';
import { applyInputScale, groupsByInput } from './scale-fold';
import { groupCount, rtnQuantize, type QuantizedWeight } from './weight-quant';
import { withoutDequantizedCopy, type WeightOnlyConfig, type WeightOnlyLayerResult } from './weight-only';

export interface AwqParams {
  gridSize: number;
  clip: boolean;
}

export interface AwqOptions {
  model: ModelProto;
  baseDir?: string;
  selection: LinearSelection;
  config: WeightOnlyConfig;
  params: AwqParams;
  batches: Record<string, ort.Tensor>[];
  /** false: only scale (and clip ratios are not searched) — for AWQ followed by GPTQ. */
  quantize?: boolean;
  notices?: string[];
  ctx?: WorkContext;
}

export interface AwqResult {
  /** The model, modified in place: norms absorb 1/s, weights carry s. */
  model: ModelProto;
  results: WeightOnlyLayerResult[];
  scaled: { input: string; alpha: number; absorber: string; layers: string[] }[];
  timings: Record<string, number>;
}

/** Scale each column k of an N × K weight by s[k]. */
function scaleColumns(w: Float32Array, rows: number, cols: number, s: Float32Array, inverse = false): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[r * cols + k] = inverse ? w[r * cols + k]! / s[k]! : w[r * cols + k]! * s[k]!;
  return out;
}

/**
 * Per (row, group) clipping ratio in {1, 0.95, …, 0.55} minimising δ_gᵀ H_gg δ_g, the group's own
 * contribution to the output error. Returns ratios [rows × nGroups].
 */
export async function searchClip(w: Float32Array, rows: number, cols: number, H: Float32Array, cfg: WeightOnlyConfig, steps = 10): Promise<Float32Array> {
  const gs = cfg.groupSize > 0 ? cfg.groupSize : cols;
  const nG = groupCount(cols, cfg.groupSize);
  const best = new Float32Array(rows * nG).fill(1);
  const bestErr = new Float64Array(rows * nG).fill(Infinity);
  if (nG * gs !== cols) return best; // ragged last group: keep the full range
  // Diagonal blocks H_gg, [nG, gs, gs].
  const Hb = new Float32Array(nG * gs * gs);
  for (let g = 0; g < nG; g++) for (let i = 0; i < gs; i++) for (let j = 0; j < gs; j++) Hb[(g * gs + i) * gs + j] = H[(g * gs + i) * cols + g * gs + j]!;
  const D = new Float32Array(nG * rows * gs);
  for (let step = 0; step < steps; step++) {
    const ratio = 1 - step * (0.5 / steps);
    const q = rtnQuantize(w, rows, cols, cfg, cfg.groupSize, new Float32Array(rows * nG).fill(ratio));
    for (let r = 0; r < rows; r++) for (let g = 0; g < nG; g++) for (let i = 0; i < gs; i++) {
      const c = r * cols + g * gs + i;
      D[(g * rows + r) * gs + i] = w[c]! - q.dequantized[c]!;
    }
    const e = await groupQuadraticForms(D, nG, rows, gs, Hb); // [nG, rows]
    for (let g = 0; g < nG; g++) for (let r = 0; r < rows; r++) {
      const v = e[g * rows + r]!;
      if (v < bestErr[r * nG + g]!) { bestErr[r * nG + g] = v; best[r * nG + g] = ratio; }
    }
  }
  // The per-group search ignores how groups' errors interact; keep a row's clips only where its
  // whole-row output error δᵀHδ is lower than with the full range.
  const full = rtnQuantize(w, rows, cols, cfg, cfg.groupSize);
  const clipped = rtnQuantize(w, rows, cols, cfg, cfg.groupSize, best);
  const d0 = new Float32Array(w.length), d1 = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) { d0[i] = w[i]! - full.dequantized[i]!; d1[i] = w[i]! - clipped.dequantized[i]!; }
  const e0 = await rowQuadraticForms(d0, rows, cols, H);
  const e1 = await rowQuadraticForms(d1, rows, cols, H);
  for (let r = 0; r < rows; r++) if (!(e1[r]! < e0[r]!)) best.fill(1, r * nG, (r + 1) * nG);
  return best;
}

/** Row by row, the quantization of `w` (rows × cols) with the lower output error δᵀHδ. */
async function betterRows(w: Float32Array, a: QuantizedWeight, b: QuantizedWeight, rows: number, cols: number, H: Float32Array): Promise<QuantizedWeight> {
  const da = new Float32Array(w.length), db = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) { da[i] = w[i]! - a.dequantized[i]!; db[i] = w[i]! - b.dequantized[i]!; }
  const ea = await rowQuadraticForms(da, rows, cols, H), eb = await rowQuadraticForms(db, rows, cols, H);
  const nG = a.scales.length / rows;
  const out: QuantizedWeight = { q: a.q.slice(), scales: a.scales.slice(), zeroPoints: a.zeroPoints.slice(), dequantized: a.dequantized.slice() };
  for (let r = 0; r < rows; r++) {
    if (!(eb[r]! < ea[r]!)) continue;
    out.q.set(b.q.subarray(r * cols, (r + 1) * cols), r * cols);
    out.dequantized.set(b.dequantized.subarray(r * cols, (r + 1) * cols), r * cols);
    out.scales.set(b.scales.subarray(r * nG, (r + 1) * nG), r * nG);
    out.zeroPoints.set(b.zeroPoints.subarray(r * nG, (r + 1) * nG), r * nG);
  }
  return out;
}

export async function runAwq(o: AwqOptions): Promise<AwqResult> {
  const forms = holdQuadraticForms();
  try { return await awqStages(o); } finally { await forms.release(); }
}

async function awqStages(o: AwqOptions): Promise<AwqResult> {
  const { model, baseDir, config, params, ctx } = o;
  const layers = findLinearLayers(model, o.selection);
  const groups = groupsByInput(layers);
  const doQuantize = o.quantize !== false;
  const t0 = performance.now();
  // AWQ's scaling is exact in float, so every statistic can come from the float model. The passes run
  // on a view of the model that the scaling below does not reach (its own node objects and initializer
  // list: scales replace initializers in `model` and an inserted Mul renames layer inputs there), so a
  // group can be scaled and rounded as soon as its stage is captured, and its statistics let go.
  const floatView = create(ModelProtoSchema, {
    ...model,
    graph: create(GraphProtoSchema, { ...model.graph!, node: model.graph!.node.map((n) => clone(NodeProtoSchema, n)), initializer: [...model.graph!.initializer] }),
  });
  const capture = new StagedCapture(floatView, baseDir, { batches: o.batches, overrides: new Map(), ctx });
  const scaled: AwqResult['scaled'] = [];
  const byLayer = new Map<LinearLayer, WeightOnlyLayerResult>();
  const doneInputs = new Set<string>();
  let captureMs = 0, searchMs = 0, quantizeMs = 0;
  for (const stage of stageLayers(model, layers)) {
    throwIfCancelled(ctx);
    const inputs = new Set(stage.flatMap((l) => l.inputs));
    const tc = performance.now();
    // Held for this stage only: a [K, K] Gram per input (the MLP's down projection's is 254 MB on a 1 B
    // model; all of them together were 5.6 GB there).
    const stats = await capture.capture([...inputs], { gram: true, absMax: false });
    captureMs += performance.now() - tc;
    for (const grp of groups) {
      if (!inputs.has(grp.input) || doneInputs.has(grp.input)) continue;
      doneInputs.add(grp.input);
      const r = await awqGroup(model, baseDir, grp, stats.get(grp.input)!, config, params, doQuantize);
      scaled.push(r.scaled);
      for (const [l, res] of r.results) byLayer.set(l, res);
      searchMs += r.searchMs; quantizeMs += r.quantizeMs;
      ctx?.onProgress?.({ stage: 'awq', fraction: doneInputs.size / groups.length, message: `AWQ ${grp.layers.map((l) => l.nodes[0]!.name).join(', ')}: α=${r.scaled.alpha.toFixed(2)}` });
    }
  }
  const results: WeightOnlyLayerResult[] = [];
  if (doQuantize) {
    for (const l of layers) {
      const res = byLayer.get(l);
      if (res) { results.push(res); continue; }
      // Not in a scalable group (several inputs, or a weight shared with another op): rounded to nearest.
      const tq = performance.now();
      const qw = rtnQuantize(layerWeightNK(model, baseDir, l), l.rows, l.cols, config, config.groupSize, undefined, { method: config.gridSearch ?? 'minmax' });
      results.push({ layer: l, qw: withoutDequantizedCopy(qw, l.rows, l.cols, config.groupSize), config, errors: [{ algorithm: 'awq' }] });
      quantizeMs += performance.now() - tq;
    }
  }
  const inserted = scaled.filter((x) => x.absorber === 'inserted Mul').length;
  if (inserted) o.notices?.push(`AWQ inserted ${inserted} Mul node(s) where no norm could absorb the scales.`);
  return { model, results, scaled, timings: { awqCaptureMs: captureMs, awqSearchMs: searchMs, awqQuantizeMs: quantizeMs } };
}

/**
 * One group of layers reading activation X: the α search, the scales folded into what produces X, and
 * (quantize) each layer rounded with its clip search. Rounding here, while the group's weights and
 * Hessian are at hand, keeps one group's floats in memory instead of the model's. When the group is
 * rounded here the model keeps its float weights W (the exporter replaces them) and the result carries
 * s (`inputScale`: it rounds W·diag(s)); without rounding (GPTQ follows) the model holds W·diag(s).
 */
async function awqGroup(model: ModelProto, baseDir: string | undefined, grp: { input: string; layers: LinearLayer[] }, st: ActivationStats, config: WeightOnlyConfig, params: AwqParams, doQuantize: boolean): Promise<{ scaled: AwqResult['scaled'][number]; results: Map<LinearLayer, WeightOnlyLayerResult>; searchMs: number; quantizeMs: number }> {
  const t0 = performance.now();
  const K = st.cols;
  const H = hessianFromGram([st], K);
  const sx = new Float32Array(K);
  for (let k = 0; k < K; k++) sx[k] = Math.max(st.absSum[k]! / Math.max(1, st.count), 1e-8);
  const ws = grp.layers.map((l) => layerWeightNK(model, baseDir, l));
  // Output error of plain rounding (α = 0) and the reference norms.
  let bestAlpha = 0, bestErr = Infinity, bestS: Float32Array | null = null;
  const before: { weight: number; output: number; norm: number }[] = [];
  for (const [li, l] of grp.layers.entries()) {
    const rtn = rtnQuantize(ws[li]!, l.rows, l.cols, config, config.groupSize);
    const e = await layerErrors(ws[li]!, rtn.dequantized, l.rows, l.cols, H);
    before.push({ weight: e.weight, output: e.output, norm: e.outputNorm });
  }
  for (let a = 0; a < params.gridSize; a++) {
    const alpha = a / params.gridSize;
    const s = new Float32Array(K);
    let mx = 0, mn = Infinity;
    for (let k = 0; k < K; k++) { s[k] = Math.pow(sx[k]!, alpha); mx = Math.max(mx, s[k]!); mn = Math.min(mn, s[k]!); }
    const norm = Math.sqrt(mx * mn);
    for (let k = 0; k < K; k++) s[k] = Math.max(s[k]! / norm, 1e-4);
    let err = 0;
    for (const [li, l] of grp.layers.entries()) {
      const q = rtnQuantize(scaleColumns(ws[li]!, l.rows, l.cols, s), l.rows, l.cols, config, config.groupSize);
      const eff = scaleColumns(q.dequantized, l.rows, l.cols, s, true);
      const dlt = new Float32Array(eff.length);
      for (let i = 0; i < eff.length; i++) dlt[i] = ws[li]![i]! - eff[i]!;
      err += (await quadraticFormSum(dlt, l.rows, l.cols, H)) / Math.max(before[li]!.norm, 1e-30);
    }
    if (err < bestErr) { bestErr = err; bestAlpha = alpha; bestS = s; }
  }
  const names = grp.layers.map((l) => l.nodes[0]!.name);
  let scaledInfo: AwqResult['scaled'][number] = { input: grp.input, alpha: 0, absorber: 'none', layers: names };
  let s: Float32Array | undefined;
  // The Hessian in the space the rounded weights live in: H' = diag(1/s) H diag(1/s) when scaled.
  let Hq = H;
  if (bestAlpha > 0 && bestS) {
    s = bestS;
    const abs = applyInputScale(model, grp.input, grp.layers, s, baseDir, { scaleWeights: !doQuantize });
    scaledInfo = { input: grp.input, alpha: bestAlpha, absorber: abs.kind === 'insert' ? 'inserted Mul' : `${abs.node.opType} ${abs.node.name}`, layers: names };
    Hq = new Float32Array(K * K);
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) Hq[i * K + j] = H[i * K + j]! / (s[i]! * s[j]!);
  }
  const t1 = performance.now();
  const results = new Map<LinearLayer, WeightOnlyLayerResult>();
  if (doQuantize) {
    for (const [li, l] of grp.layers.entries()) {
      const w = s ? scaleColumns(ws[li]!, l.rows, l.cols, s) : ws[li]!;
      const clip = params.clip ? await searchClip(w, l.rows, l.cols, Hq, config) : undefined;
      let qw: QuantizedWeight = rtnQuantize(w, l.rows, l.cols, config, config.groupSize, clip);
      // The searched grid (weight error per group, both sides of the signed grid) against AWQ's own
      // clips (output error per group, one side): each row keeps whichever gives the lower δᵀHδ.
      if (config.gridSearch && config.gridSearch !== 'minmax') qw = await betterRows(w, qw, rtnQuantize(w, l.rows, l.cols, config, config.groupSize, undefined, { method: config.gridSearch, h: Float64Array.from({ length: l.cols }, (_, k) => Hq[k * l.cols + k]!) }), l.rows, l.cols, Hq);
      // Errors in the original space: effective weight = Q(W·s)/s, compared with the original W.
      const eff = s ? scaleColumns(qw.dequantized, l.rows, l.cols, s, true) : qw.dequantized;
      const e = await layerErrors(ws[li]!, eff, l.rows, l.cols, H, before[li]!.norm);
      results.set(l, {
        layer: l, qw: withoutDequantizedCopy(qw, l.rows, l.cols, config.groupSize), config, ...(s ? { inputScale: s } : {}),
        errors: [{ algorithm: 'awq', weightErrorBefore: before[li]!.weight, weightErrorAfter: e.weight, outputErrorBefore: before[li]!.output, outputErrorAfter: e.output }],
      });
    }
  }
  return { scaled: scaledInfo, results, searchMs: t1 - t0, quantizeMs: performance.now() - t1 };
}
