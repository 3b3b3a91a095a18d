// Shared pieces of the weight-only algorithms (RTN, GPTQ, AWQ): the grid a recipe asks for, the result
// each algorithm hands to the exporters, and calibration batches as ORT tensors.
import * as ort from 'onnxruntime-node';
import type { WeightSpec } from '../../pipeline/recipe';
import type { NpyArray } from '../../data/npy';
import { runRanges, feedsFor, sampleCount } from '../../runtime/batching';
import { StudioError, quote } from '../../errors';
import type { LinearLayer } from './linear-layers';
import { rtnQuantize, type GridSearch, type QuantizedWeight } from './weight-quant';

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
export function rtnLayers(weights: Map<LinearLayer, Float32Array>, base: WeightOnlyConfig, bitsByWeight?: ReadonlyMap<string, number>): WeightOnlyLayerResult[] {
  const out: WeightOnlyLayerResult[] = [];
  for (const [layer, w] of weights) {
    const bits = bitsByWeight?.get(layer.weight);
    if (bits !== undefined && !(Number.isInteger(bits) && bits >= 2 && bits <= 8)) throw new StudioError('BAD_ARGUMENT', `Bits for weight ${quote(layer.weight)}: ${quote(bits)} is not an integer from 2 to 8.`);
    const cfg = bits !== undefined && bits !== base.bits ? { ...base, bits } : base;
    const qw = rtnQuantize(w, layer.rows, layer.cols, cfg, cfg.groupSize, undefined, { method: cfg.gridSearch ?? 'minmax' });
    let dw = 0, ww = 0;
    for (let i = 0; i < w.length; i++) { const d = w[i]! - qw.dequantized[i]!; dw += d * d; ww += w[i]! * w[i]!; }
    out.push({ layer, qw, config: cfg, errors: [{ algorithm: 'rtn', weightErrorAfter: ww > 0 ? dw / ww : 0 }] });
  }
  return out;
}

/** Split `.npy` inputs (axis 0 = samples) into ORT feeds of `batchSize` samples, at most `samples` in all. */
export function calibrationBatches(inputs: Record<string, NpyArray>, batchSize: number, samples = Infinity): Record<string, ort.Tensor>[] {
  const names = Object.keys(inputs);
  if (names.length === 0) throw new StudioError('BAD_DATA', 'Weight-only calibration needs at least one input array (--data INPUT=FILE.npy).');
  // runtime/batching knows how each validated input is fed (constants, fixed-size runs).
  return runRanges(inputs, Math.min(samples, sampleCount(inputs)), batchSize).map(([s, e]) => feedsFor(inputs, s, e));
}
