// Shared pieces of the weight-only algorithms (RTN, GPTQ, AWQ): the grid a recipe asks for, the result
// each algorithm hands to the exporters, and calibration batches as ORT tensors.
import type { ort } from '../../runtime/session';
import type { WeightSpec } from '../../../contract/recipe';
import type { NpyArray } from '../../data/npy';
import { runRanges, feedsFor, sampleCount } from '../../runtime/batching';
import { StudioError, quote } from '../../errors';
import type { LinearLayer } from './linear-layers';
import type { ModelProto, NodeProto } from '../../onnx/proto';
import { DataType, tensorToFloat32 } from '../../onnx/tensor';
import { rtnQuantize, dequantizeWeight, type GridSearch, type QuantizedWeight } from './weight-quant';

export interface WeightOnlyConfig {
  bits: number;
  symmetric: boolean;
  /** 0 = per output channel. */
  groupSize: number;
  /** How each group's scale is chosen (weight-quant.ts GridSearch); absent = 'minmax'. Recipes get 'mse'. */
  gridSearch?: GridSearch;
}

export interface AlgorithmError {
  algorithm: string;
  weightErrorBefore?: number;
  weightErrorAfter?: number;
  outputErrorBefore?: number;
  outputErrorAfter?: number;
}

export interface WeightOnlyLayerResult {
  layer: LinearLayer;
  /** N × K quantized weight (rows = outputs). */
  qw: QuantizedWeight;
  config: WeightOnlyConfig;
  errors: AlgorithmError[];
  /** Set when `qw` rounds W·diag(s) while the model still holds W and the layer's input producer has
   *  absorbed 1/s (AWQ rounding as it scales): re-rounding this layer starts from W·diag(s). */
  inputScale?: Float32Array;
}

export function weightOnlyConfig(w: WeightSpec, notices?: string[]): WeightOnlyConfig {
  const bits = w.dtype === 'int3' ? 3 : w.dtype === 'int4' || w.dtype === 'uint4' ? 4 : 8;
  let groupSize = 0;
  if (typeof w.granularity === 'object') groupSize = w.granularity.group;
  else if (w.granularity === 'tensor') notices?.push('Weight-only quantization uses one scale per output channel where the recipe says "tensor".');
  if (groupSize && (groupSize & (groupSize - 1)) !== 0) {
    throw new StudioError('BAD_RECIPE', `Recipe weights.granularity.group: ${quote(groupSize)} must be a power of two (16, 32, 64, 128, …) for weight-only formats.`);
  }
  // The searched grid: on moby-gpt int4 g32 it takes RTN from perplexity 4.0297 to 4.0237 (ORT's own
  // min-max RTN: 4.0289) for ~2 s of CPU per 8M weights; Hessian-weighted and least-squares-refit
  // variants measured no better (4.0234–4.0236) at 2–6× the time.
  return { bits, symmetric: w.scheme === 'symmetric', groupSize, gridSearch: 'mse' };
}

/**
 * Round-to-nearest for every layer (no calibration). `bitsByWeight` (weight initializer name → bits)
 * gives some layers another width than `cfg.bits` — e.g. 8 for the layers a mixed-precision search keeps
 * wider; the MatMulNBits export stores each layer at its own width.
 */
export function rtnLayers(weights: Map<LinearLayer, Float32Array>, base: WeightOnlyConfig, bitsByWeight?: ReadonlyMap<string, number>, inputWeights?: ReadonlyMap<LinearLayer, Float64Array>): WeightOnlyLayerResult[] {
  const out: WeightOnlyLayerResult[] = [];
  for (const [layer, w] of weights) {
    const bits = bitsByWeight?.get(layer.weight);
    if (bits !== undefined && !(Number.isInteger(bits) && bits >= 2 && bits <= 8)) throw new StudioError('BAD_ARGUMENT', `Bits for weight ${quote(layer.weight)}: ${quote(bits)} is not an integer from 2 to 8.`);
    const cfg = bits !== undefined && bits !== base.bits ? { ...base, bits } : base;
    const qw = rtnQuantize(w, layer.rows, layer.cols, cfg, cfg.groupSize, undefined, { method: cfg.gridSearch ?? 'minmax', h: inputWeights?.get(layer) });
    let dw = 0, ww = 0;
    for (let i = 0; i < w.length; i++) { const d = w[i]! - qw.dequantized[i]!; dw += d * d; ww += w[i]! * w[i]!; }
    out.push({ layer, qw: withoutDequantizedCopy(qw, layer.rows, layer.cols, cfg.groupSize), config: cfg, errors: [{ algorithm: 'rtn', weightErrorAfter: ww > 0 ? dw / ww : 0 }] });
  }
  return out;
}

/**
 * The same rounded weight without its float copy held: `dequantized` is rebuilt from q/scales/zero
 * points when read. Results of every layer live until the export, and a float copy is 4 bytes per
 * weight — on a 1 B-parameter model that alone was the size of the model again (the exporters read
 * only q/scales/zero points; analysis reads the float copy once per layer).
 */
export function withoutDequantizedCopy(qw: QuantizedWeight, rows: number, cols: number, groupSize: number): QuantizedWeight {
  const { q, scales, zeroPoints } = qw;
  return {
    q, scales, zeroPoints,
    get dequantized() { return dequantizeWeight({ q, scales, zeroPoints }, rows, cols, groupSize); },
  };
}

/** Split `.npy` inputs (axis 0 = samples) into ORT feeds of `batchSize` samples, at most `samples` in all. */
export function calibrationBatches(inputs: Record<string, NpyArray>, batchSize: number, samples = Infinity): Record<string, ort.Tensor>[] {
  const names = Object.keys(inputs);
  if (names.length === 0) throw new StudioError('BAD_DATA', 'Weight-only calibration needs at least one input array (--data INPUT=FILE.npy).');
  // runtime/batching knows how each validated input is fed (constants, fixed-size runs).
  return runRanges(inputs, Math.min(samples, sampleCount(inputs)), batchSize).map(([s, e]) => feedsFor(inputs, s, e));
}

const NORM_OPS = new Set(['LayerNormalization', 'SkipLayerNormalization', 'RMSNormalization', 'SimplifiedLayerNormalization', 'SkipSimplifiedLayerNormalization']);

/**
 * Data-free error weights for the grid search: a layer whose input a norm writes sees channel k at a
 * scale set by the norm's weight, E[x_k²] ∝ γ_k² + β_k² — so a weight in an outlier channel (γ ×8) costs
 * 64× more output error than its size says. Unweighted, the search clips exactly those large weights:
 * on a LLaMA-style fixture with outlier norm channels it raised the KL to FP32 from 0.555 (min-max) to
 * 0.614; weighted by E[x²] 0.265. Layers behind anything else get none (every weight alike).
 */
export function normInputWeights(model: ModelProto, baseDir: string | undefined, layers: LinearLayer[]): Map<LinearLayer, Float64Array> {
  const g = model.graph!;
  const producer = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) if (o) producer.set(o, n);
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const vec = (name: string | undefined, K: number) => {
    const t = name ? inits.get(name) : undefined;
    return t && t.dims.length === 1 && Number(t.dims[0]) === K && (t.dataType === DataType.FLOAT || t.dataType === DataType.FLOAT16) ? tensorToFloat32(t, baseDir) : undefined;
  };
  const out = new Map<LinearLayer, Float64Array>();
  for (const l of layers) {
    const p = producer.get(l.inputs[0]!);
    if (!p || l.inputs.some((x) => x !== l.inputs[0])) continue;
    const K = l.cols;
    let gamma: Float32Array | undefined, beta: Float32Array | undefined;
    if (p.opType === 'LayerNormalization' && !p.domain) { gamma = vec(p.input[1], K); beta = vec(p.input[2], K); }
    else if (NORM_OPS.has(p.opType)) { const skip = p.opType.startsWith('Skip'); gamma = vec(p.input[skip ? 2 : 1], K); beta = p.opType === 'SkipLayerNormalization' ? vec(p.input[3], K) : undefined; }
    else if (p.opType === 'Mul' && !p.domain) gamma = vec(p.input[1], K) ?? vec(p.input[0], K);
    if (!gamma) continue;
    out.set(l, Float64Array.from(gamma, (v, k) => v * v + (beta ? beta[k]! * beta[k]! : 0) + 1e-12));
  }
  return out;
}
