// Shared pieces of the weight-only algorithms (RTN, GPTQ, AWQ): the grid a recipe asks for, the result
// each algorithm hands to the exporters, and calibration batches as ORT tensors.
import * as ort from 'onnxruntime-node';
import type { WeightSpec } from '../../pipeline/recipe';
import type { NpyArray } from '../../data/npy';
import { runRanges, feedsFor, sampleCount } from '../../runtime/batching';
import { StudioError, quote } from '../../errors';
import type { LinearLayer } from './linear-layers';
import { rtnQuantize, type QuantizedWeight } from './weight-quant';

export interface WeightOnlyConfig {
  bits: number;
  symmetric: boolean;
  /** 0 = per output channel. */
  groupSize: number;
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
  return { bits, symmetric: w.scheme === 'symmetric', groupSize };
}

/** Round-to-nearest for every layer (no calibration). */
export function rtnLayers(weights: Map<LinearLayer, Float32Array>, cfg: WeightOnlyConfig): WeightOnlyLayerResult[] {
  const out: WeightOnlyLayerResult[] = [];
  for (const [layer, w] of weights) {
    const qw = rtnQuantize(w, layer.rows, layer.cols, cfg, cfg.groupSize);
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
