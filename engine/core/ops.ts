// Which op types quantize and how (one row each): the input that holds the weight, the weight's
// per-channel axis and the axis blocks of a group run along, which inputs are activations. The QDQ
// planner, the Ranges view's per-channel statistics and the activation-range scan read this table,
// so the axis a view shows is the axis the exporter writes. The list of names itself is
// contract/recipe.ts's SUPPORTED_OP_TYPES (the renderer may import only contract/); the type below
// makes this table and that list agree at compile time.
import { StudioError, quote } from '../errors';
import { SUPPORTED_OP_TYPES } from '../../contract/recipe';

export type QuantOpType = (typeof SUPPORTED_OP_TYPES)[number];

/** The attributes the axes depend on (absent = the ONNX default). */
export interface OpAttrs { transB?: number; group?: number }

/** Where a weight's scales run. Undefined: this form has no per-channel (or blocked) scales. */
export interface WeightAxes {
  /** Per-channel axis: one scale per output channel. */
  channelAxis?: number;
  /** Reduction (K) axis: per-group blocks run along it. */
  blockAxis?: number;
}

export interface QuantOpTraits {
  /** The input that holds the weight (when it is a constant). */
  weightInput: number;
  /** The inputs quantized as activations when the weight input is a constant. */
  activationInputs: readonly number[];
  /** The weight's axes for a weight of `rank` dimensions. */
  axes(rank: number, attrs: OpAttrs): WeightAxes;
}

export const QUANT_OPS: Readonly<Record<QuantOpType, QuantOpTraits>> = Object.freeze({
  // W [M, C/group, k...]: one scale per output channel M, blocks along the input channels.
  Conv: { weightInput: 1, activationInputs: [0], axes: () => ({ channelAxis: 0, blockAxis: 1 }) },
  // W [C, M/group, k...]: with groups, the output channels of axis 1 repeat per group, so no
  // per-channel scale is written (one per tensor).
  ConvTranspose: { weightInput: 1, activationInputs: [0], axes: (_r, a) => ({ channelAxis: (a.group ?? 1) === 1 ? 1 : undefined, blockAxis: 0 }) },
  // B [K, N], or [N, K] with transB = 1.
  Gemm: { weightInput: 1, activationInputs: [0], axes: (_r, a) => (a.transB ? { channelAxis: 0, blockAxis: 1 } : { channelAxis: 1, blockAxis: 0 }) },
  // B [..., K, N]: a rank-1 B has no channel axis.
  MatMul: { weightInput: 1, activationInputs: [0], axes: (r) => (r >= 2 ? { channelAxis: r - 1, blockAxis: r - 2 } : {}) },
  // Embedding table [V, D]: one scale per row; its input 1 is integer indices, never quantized.
  Gather: { weightInput: 0, activationInputs: [], axes: (r) => (r === 2 ? { channelAxis: 0 } : {}) },
});

/** The op types of the table, in contract/recipe.ts's order. */
export const QUANT_OP_TYPES: readonly QuantOpType[] = SUPPORTED_OP_TYPES;

export function isQuantOp(opType: string): opType is QuantOpType {
  return Object.prototype.hasOwnProperty.call(QUANT_OPS, opType);
}

/** Op types whose activation inputs are quantized (Gather's input is indices). */
export const ACTIVATION_QUANT_OP_TYPES: readonly QuantOpType[] = QUANT_OP_TYPES.filter((o) => QUANT_OPS[o].activationInputs.length > 0);

/**
 * The axes of the weight of an `opType` node, as the exporter writes them.
 * StudioError UNSUPPORTED_OP for an op type the table does not have.
 */
export function weightAxes(opType: string, rank: number, attrs: OpAttrs = {}, nodeName?: string): WeightAxes {
  if (!isQuantOp(opType)) {
    const where = nodeName ? ` (node ${quote(nodeName)})` : '';
    throw new StudioError('UNSUPPORTED_OP', `No weight quantization axis is known for op type ${quote(opType)}${where}.`);
  }
  return QUANT_OPS[opType].axes(rank, attrs);
}

/**
 * Ops that only move, select or reshape values: their output can reuse the input's scale (the QDQ
 * planner shares it; QAT keeps one fake-quant for both sides).
 */
export const SHARE_SCALE_OPS: ReadonlySet<string> = new Set(['MaxPool', 'Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze', 'Identity']);
