// What the QDQ planner (engine/export/qdq-plan.ts: planQdq) decides for a model and a recipe: which
// nodes are quantized with which weight axes, which activation tensors calibration measures and which
// share a scale. Types only: bias correction, calibration and QAT read a plan, the exporter writes it.
import type { GraphProto, NodeProto } from '../onnx/proto';

export interface QdqTarget {
  node: NodeProto;
  /** The graph holding the node (the main graph or an If/Loop body). */
  graph: GraphProto;
  /** Input index of the constant weight, if any. */
  weightInput?: number;
  /** Per-channel axis of the weight (undefined: per-tensor). */
  weightAxis?: number;
  /** Axis along which groups of `recipe.weights.granularity.group` input elements share a scale. */
  groupAxis?: number;
  biasInput?: number;
  /** Input indices that are activations (get Q/DQ when activations are quantized). */
  activationInputs: number[];
  /** Relu after the op, removed because the output quantization clamps at zero exactly. */
  foldedRelu?: NodeProto;
  /**
   * Conv with a channel count ORT's fast int8 kernel cannot take (MLAS's symmetric "ConvSym" path
   * needs input channels % 4 == 0): the quantized input is zero-padded along channels to this count
   * and the weight gets zero filters for the new channels. Exact (the extra channels multiply zero
   * weights) and ~1.5x faster for a 1-channel image Conv than ORT's im2col fallback.
   */
  padChannelsTo?: number;
}

export interface QdqPlan {
  targets: QdqTarget[];
  /** Activation tensor -> the tensor whose calibrated range gives its scale (itself, or a shared one). */
  activations: Map<string, string>;
  /** Tensors whose ranges calibration must measure. */
  calibrate: string[];
  skipped: { node: string; opType: string; reason: string }[];
  /** Activations the plan leaves float although a quantized node reads or writes them, and why. */
  floatActivations?: { tensor: string; reason: string }[];
}
