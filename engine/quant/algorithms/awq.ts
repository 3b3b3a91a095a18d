// AWQ (Lin et al. 2023): protect the weights that meet large activations by scaling input channels
// before rounding. For each group of layers reading one activation X:
//   s_x = mean|X| per channel (calibration), s = s_x^α normalised (√(max·min) = 1),
//   α from a grid over [0, 1) minimising the group's output error ‖X·(W − Q(W·s)/s)ᵀ‖² (through XᵀX),
//   then 1/s folded into the norm that produces X (or an inserted Mul), W·s kept for quantization;
//   then, per output row and group, a clipping ratio of the range minimising that group's output error.
import type { ort } from '../../runtime/session';
import type { ModelProto } from '../../onnx/proto';
import { throwIfCancelled, type WorkContext } from '../../util/work-context';
import { findLinearLayers, layerWeightNK, stageLayers, type LinearLayer, type LinearSelection } from './linear-layers';
import { StagedCapture, type ActivationStats } from './staged-capture';
import { groupQuadraticForms, hessianFromGram, layerErrors, quadraticFormSum, rowQuadraticForms } from './layer-error';
import { applyInputScale, findAbsorber, groupsByInput } from './scale-fold';
import { groupCount, rtnQuantize, type QuantizedWeight } from './weight-quant';
import type { WeightOnlyConfig, WeightOnlyLayerResult } from './weight-only';

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
  const { model, baseDir, config, params, ctx } = o;
  const layers = findLinearLayers(model, o.selection);
  const groups = groupsByInput(layers);
  const t0 = performance.now();
  const capture = new StagedCapture(model, baseDir, { batches: o.batches, overrides: new Map(), ctx });
  // Stage by stage (each pass runs only the new part of the graph); AWQ's scaling is exact in float,
  // so all statistics can be taken from the float model before any scale is folded.
  const stats = new Map<string, ActivationStats>();
  for (const stage of stageLayers(model, layers)) {
    throwIfCancelled(ctx);
    for (const [k, v] of await capture.capture([...new Set(stage.flatMap((l) => l.inputs))], { gram: true, absMax: false })) stats.set(k, v);
  }
  const t1 = performance.now();
  const scaled: AwqResult['scaled'] = [];
  const before = new Map<LinearLayer, { w: Float32Array; H: Float32Array; rtn: { weight: number; output: number }; norm: number }>();
  const doQuantize = o.quantize !== false;
  const scaleOf = new Map<LinearLayer, Float32Array>();
  for (const [gi, grp] of groups.entries()) {
    throwIfCancelled(ctx);
    const st = stats.get(grp.input)!;
    const K = st.cols;
    const H = hessianFromGram([st], K);
    const sx = new Float32Array(K);
    for (let k = 0; k < K; k++) sx[k] = Math.max(st.absSum[k]! / Math.max(1, st.count), 1e-8);
    const ws = grp.layers.map((l) => layerWeightNK(model, baseDir, l));
    // Output error of plain rounding (α = 0) and the reference norms.
    let bestAlpha = 0, bestErr = Infinity, bestS: Float32Array | null = null;
    const norms: number[] = [];
    for (const [li, l] of grp.layers.entries()) {
      const rtn = rtnQuantize(ws[li]!, l.rows, l.cols, config, config.groupSize);
      const e = await layerErrors(ws[li]!, rtn.dequantized, l.rows, l.cols, H);
      norms.push(e.outputNorm);
      before.set(l, { w: ws[li]!, H, rtn: { weight: e.weight, output: e.output }, norm: e.outputNorm });
    }
    const absorber = findAbsorber(model, grp.input, grp.layers, K);
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
        err += (await quadraticFormSum(dlt, l.rows, l.cols, H)) / Math.max(norms[li]!, 1e-30);
      }
      if (err < bestErr) { bestErr = err; bestAlpha = alpha; bestS = s; }
    }
    if (bestAlpha > 0 && bestS) {
      const abs = applyInputScale(model, grp.input, grp.layers, bestS, baseDir);
      scaled.push({ input: grp.input, alpha: bestAlpha, absorber: abs.kind === 'insert' ? 'inserted Mul' : `${abs.node.opType} ${abs.node.name}`, layers: grp.layers.map((l) => l.nodes[0]!.name) });
      // The group's Hessian in the scaled input space: H' = diag(1/s) H diag(1/s).
      const Hs = new Float32Array(K * K);
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) Hs[i * K + j] = H[i * K + j]! / (bestS[i]! * bestS[j]!);
      for (const l of grp.layers) { before.get(l)!.H = Hs; scaleOf.set(l, bestS); }
    } else if (absorber.kind !== 'insert' || bestAlpha === 0) {
      scaled.push({ input: grp.input, alpha: 0, absorber: 'none', layers: grp.layers.map((l) => l.nodes[0]!.name) });
    }
    ctx?.onProgress?.({ stage: 'awq', fraction: (gi + 1) / groups.length, message: `AWQ ${grp.layers.map((l) => l.nodes[0]!.name).join(', ')}: α=${bestAlpha.toFixed(2)}` });
  }
  const t2 = performance.now();
  const results: WeightOnlyLayerResult[] = [];
  if (doQuantize) {
    for (const l of layers) {
      throwIfCancelled(ctx);
      const info = before.get(l);
      const w = layerWeightNK(model, baseDir, l); // scaled weight when the group was scaled
      if (!info) {
        results.push({ layer: l, qw: rtnQuantize(w, l.rows, l.cols, config, config.groupSize, undefined, { method: config.gridSearch ?? 'minmax' }), config, errors: [{ algorithm: 'awq' }] });
        continue;
      }
      const clip = params.clip ? await searchClip(w, l.rows, l.cols, info.H, config) : undefined;
      let qw: QuantizedWeight = rtnQuantize(w, l.rows, l.cols, config, config.groupSize, clip);
      // The searched grid (weight error per group, both sides of the signed grid) against AWQ's own
      // clips (output error per group, one side): each row keeps whichever gives the lower δᵀHδ.
      if (config.gridSearch && config.gridSearch !== 'minmax') qw = await betterRows(w, qw, rtnQuantize(w, l.rows, l.cols, config, config.groupSize, undefined, { method: config.gridSearch, h: Float64Array.from({ length: l.cols }, (_, k) => info.H[k * l.cols + k]!) }), l.rows, l.cols, info.H);
      // Errors in the original space: effective weight = Q(W·s)/s, compared with the original W.
      const s = scaleOf.get(l);
      const eff = s ? scaleColumns(qw.dequantized, l.rows, l.cols, s, true) : qw.dequantized;
      const e = await layerErrors(info.w, eff, l.rows, l.cols, hessianFromGram([stats.get(l.inputs[0]!)!], l.cols), info.norm);
      results.push({ layer: l, qw, config, errors: [{ algorithm: 'awq', weightErrorBefore: info.rtn.weight, weightErrorAfter: e.weight, outputErrorBefore: info.rtn.output, outputErrorAfter: e.output }] });
    }
  }
  const t3 = performance.now();
  const inserted = scaled.filter((x) => x.absorber === 'inserted Mul').length;
  if (inserted) o.notices?.push(`AWQ inserted ${inserted} Mul node(s) where no norm could absorb the scales.`);
  return { model, results, scaled, timings: { awqCaptureMs: t1 - t0, awqSearchMs: t2 - t1, awqQuantizeMs: t3 - t2 } };
}
