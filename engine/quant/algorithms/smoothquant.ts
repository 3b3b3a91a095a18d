// SmoothQuant (Xiao et al. 2022) for W8A8: move activation outliers into the weights before the usual
// int8 calibration. For every activation X read by linear layers (all layers reading it together):
//   s_j = max|X_j|^α / max|W_j|^(1−α)   (max over the calibration data, and over all those layers' weights)
// then X/s is folded into the LayerNormalization / RMSNorm-as-ops / Mul that produces X (or an inserted Mul)
// and diag(s)·W into the weights. Optional per-group α search with an analytic W8A8 error model:
//   weight rounding error through the Gram matrix + per-tensor activation rounding noise (Δ²/12 per element).
import type { ort } from '../../runtime/session';
import type { ModelProto } from '../../onnx/proto';
import type { NpyArray } from '../../data/npy';
import type { Recipe } from '../../../contract/recipe';
import { throwIfCancelled, type WorkContext } from '../../util/work-context';
import { findLinearLayers, layerWeightNK, stageLayers, type LinearLayer } from './linear-layers';
import { StagedCapture, type ActivationStats } from './staged-capture';
import { hessianFromGram, quadraticFormSum } from './layer-error';
import { applyInputScale, groupsByInput } from './scale-fold';
import { rtnQuantize } from './weight-quant';
import { calibrationBatches } from './weight-only';

export interface SmoothQuantParams {
  alpha: number;
  search?: boolean;
}

export interface SmoothQuantResult {
  groups: { input: string; alpha: number; absorber: string; layers: string[]; maxBefore: number; maxAfter: number }[];
  /** Per node: int8 per-channel weight error and modelled W8A8 output error (relative), before/after smoothing. */
  layerErrors: { node: string; weightErrorBefore: number; weightErrorAfter: number; outputErrorBefore: number; outputErrorAfter: number }[];
  notices: string[];
  timingsMs: Record<string, number>;
}

const ALPHA_GRID = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8];

/** s for one α: max|X_j|^α / max|W_j|^(1−α), guarded against dead channels. */
export function smoothingScales(xMax: Float32Array, wMax: Float32Array, alpha: number): Float32Array {
  const s = new Float32Array(xMax.length);
  for (let j = 0; j < s.length; j++) {
    const x = xMax[j]!, w = wMax[j]!;
    s[j] = x > 0 && w > 0 ? Math.max(Math.pow(x, alpha) / Math.pow(w, 1 - alpha), 1e-5) : 1;
  }
  return s;
}

function inputChannelMax(ws: Float32Array[], layers: LinearLayer[], K: number): Float32Array {
  const m = new Float32Array(K);
  layers.forEach((l, li) => {
    const w = ws[li]!;
    for (let r = 0; r < l.rows; r++) for (let k = 0; k < K; k++) { const a = Math.abs(w[r * K + k]!); if (a > m[k]!) m[k] = a; }
  });
  return m;
}

/** Analytic W8A8 output error of a group for scales s (see file comment), per layer. */
async function w8a8LayerErrors(ws: Float32Array[], layers: LinearLayer[], H: Float32Array, xMax: Float32Array, s: Float32Array, actBits: number): Promise<{ weight: number[]; output: number[] }> {
  const K = s.length;
  let aMax = 0;
  for (let j = 0; j < K; j++) aMax = Math.max(aMax, xMax[j]! / s[j]!);
  const delta = (2 * aMax) / (2 ** actBits - 1);
  const Hs = new Float32Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) Hs[i * K + j] = H[i * K + j]! / (s[i]! * s[j]!);
  const weight: number[] = [], output: number[] = [];
  for (const [li, l] of layers.entries()) {
    const w = ws[li]!;
    const scaled = new Float32Array(w.length);
    let sq = 0, ww = 0, dw = 0;
    for (let r = 0; r < l.rows; r++) for (let k = 0; k < K; k++) { const v = w[r * K + k]! * s[k]!; scaled[r * K + k] = v; sq += v * v; }
    const q = rtnQuantize(scaled, l.rows, K, { bits: 8, symmetric: true }, 0);
    for (let i = 0; i < scaled.length; i++) {
      const d = scaled[i]! - q.dequantized[i]!;
      scaled[i] = d;
      const k = i % K;
      dw += (d / s[k]!) ** 2; ww += w[i]! ** 2; // in the original weight's space
    }
    // H is 2·XᵀX/N, so the weight term is 2× the per-row mean squared output error: halve it.
    output.push((await quadraticFormSum(scaled, l.rows, K, Hs)) / 2 + (delta * delta / 12) * sq);
    weight.push(ww > 0 ? dw / ww : 0);
  }
  return { weight, output };
}

async function w8a8Error(ws: Float32Array[], layers: LinearLayer[], H: Float32Array, xMax: Float32Array, s: Float32Array, actBits: number): Promise<number> {
  return (await w8a8LayerErrors(ws, layers, H, xMax, s, actBits)).output.reduce((a, b) => a + b, 0);
}

/**
 * Smooth `model` in place (float-equivalent). `inputs` are the calibration samples; the recipe's
 * opTypes / exclude pick the layers, its activation dtype the error model of the α search.
 */
export async function runSmoothQuant(model: ModelProto, baseDir: string | undefined, params: SmoothQuantParams, recipe: Recipe, inputs: Record<string, NpyArray>, ctx?: WorkContext): Promise<SmoothQuantResult> {
  const t0 = performance.now();
  const layers = findLinearLayers(model, { opTypes: recipe.opTypes.filter((t) => t === 'MatMul' || t === 'Gemm'), exclude: recipe.exclude });
  const groups = groupsByInput(layers);
  const batches: Record<string, ort.Tensor>[] = calibrationBatches(inputs, recipe.calibration.batchSize, recipe.calibration.samples);
  const capture = new StagedCapture(model, baseDir, { batches, overrides: new Map(), ctx });
  const wantedInputs = new Set(groups.map((g) => g.input));
  const stats = new Map<string, ActivationStats>();
  for (const stage of stageLayers(model, layers)) {
    throwIfCancelled(ctx);
    const targets = [...new Set(stage.flatMap((l) => l.inputs))].filter((t) => wantedInputs.has(t));
    if (targets.length) for (const [k, v] of await capture.capture(targets, { gram: true, absSum: false })) stats.set(k, v);
  }
  const t1 = performance.now();
  const actBits = recipe.activations?.dtype.endsWith('4') ? 4 : 8;
  const out: SmoothQuantResult = { groups: [], layerErrors: [], notices: [], timingsMs: {} };
  for (const [gi, grp] of groups.entries()) {
    throwIfCancelled(ctx);
    const st = stats.get(grp.input);
    if (!st) continue;
    const K = st.cols;
    const ws = grp.layers.map((l) => layerWeightNK(model, baseDir, l));
    const wMax = inputChannelMax(ws, grp.layers, K);
    let alpha = params.alpha;
    const H = hessianFromGram([st], K);
    if (params.search) {
      let best = Infinity;
      for (const a of ALPHA_GRID) {
        const e = await w8a8Error(ws, grp.layers, H, st.absMax, smoothingScales(st.absMax, wMax, a), actBits);
        if (e < best) { best = e; alpha = a; }
      }
    }
    const s = smoothingScales(st.absMax, wMax, alpha);
    const eBefore = await w8a8LayerErrors(ws, grp.layers, H, st.absMax, new Float32Array(K).fill(1), actBits);
    const eAfter = await w8a8LayerErrors(ws, grp.layers, H, st.absMax, s, actBits);
    for (const [li, l] of grp.layers.entries()) {
      // Relative to the layer's output energy ‖XWᵀ‖² (= Σ_r w_rᵀ H w_r / 2).
      const norm = Math.max((await quadraticFormSum(ws[li]!, l.rows, K, H)) / 2, 1e-30);
      for (const n of l.nodes) out.layerErrors.push({ node: n.name, weightErrorBefore: eBefore.weight[li]!, weightErrorAfter: eAfter.weight[li]!, outputErrorBefore: eBefore.output[li]! / norm, outputErrorAfter: eAfter.output[li]! / norm });
    }
    const abs = applyInputScale(model, grp.input, grp.layers, s, baseDir);
    let maxBefore = 0, maxAfter = 0;
    for (let j = 0; j < K; j++) { maxBefore = Math.max(maxBefore, st.absMax[j]!); maxAfter = Math.max(maxAfter, st.absMax[j]! / s[j]!); }
    out.groups.push({ input: grp.input, alpha, absorber: abs.kind === 'insert' ? 'inserted Mul' : `${abs.node.opType} ${abs.node.name}`, layers: grp.layers.map((l) => l.nodes[0]!.name), maxBefore, maxAfter });
    ctx?.onProgress?.({ stage: 'smoothquant', fraction: (gi + 1) / groups.length, message: `SmoothQuant ${grp.input}: α=${alpha}, max|x| ${maxBefore.toFixed(2)} → ${maxAfter.toFixed(2)}` });
  }
  const inserted = out.groups.filter((g) => g.absorber === 'inserted Mul').length;
  out.notices.push(`SmoothQuant smoothed ${out.groups.length} activation(s) (α ${params.search ? 'searched per layer' : `= ${params.alpha}`}); ${out.groups.length - inserted} folded into a norm, ${inserted} through an inserted Mul.`);
  out.timingsMs = { smoothquantCapture: t1 - t0, smoothquant: performance.now() - t0 };
  return out;
}
