// What a model as shipped brings that the quantizers must know before any calibration runs: nodes
// that are already quantized (ConvInteger, QLinear*, MatMulNBits, Q/DQ pairs) and float types the
// writers cannot give scales in. Checked right after the data, so nothing runs for minutes to fail at
// export; `inspect` reports the same facts.
import type { ModelProto } from '../onnx/proto';
import { walkGraphs } from '../onnx/graph';
import { DataType, dataTypeName } from '../onnx/tensor';
import { elementTypes, FLOAT_TYPES } from '../onnx/elem-types';
import { StudioError, quote } from '../errors';

const QUANTIZED_OPS = new Set([
  'ConvInteger', 'MatMulInteger', 'QLinearConv', 'QLinearMatMul', 'QLinearAdd', 'QLinearMul', 'QLinearSigmoid', 'QLinearLeakyRelu',
  'QLinearAveragePool', 'QLinearGlobalAveragePool', 'QLinearConcat', 'QLinearSoftmax', 'QLinearReduceMean', 'QGemm', 'QAttention',
  'DynamicQuantizeMatMul', 'DynamicQuantizeLinear', 'MatMulNBits', 'MatMulIntegerToFloat', 'QuantizeLinear', 'DequantizeLinear', 'GatherBlockQuantized',
]);

export interface ModelSupport {
  /** Already-quantized op types and how many nodes of each. */
  quantizedOps: Map<string, number>;
  /** Nodes of the wanted op types whose weight is a float initializer (what is left to quantize). */
  floatCandidates: number;
  /** Nodes of the wanted op types the writers refuse, with the reason. */
  unsupported: { node: string; opType: string; reason: string }[];
  /** Float types of the candidates' activations (float32, float16, ...). */
  floatTypes: Set<string>;
}

export function modelSupport(model: ModelProto, opTypes: readonly string[], activations: boolean): ModelSupport {
  const types = elementTypes(model);
  const wanted = new Set(opTypes);
  const quantizedOps = new Map<string, number>();
  const unsupported: ModelSupport['unsupported'] = [];
  const floatTypes = new Set<string>();
  let floatCandidates = 0;
  for (const { graph } of walkGraphs(model.graph!)) {
    const inits = new Map(graph.initializer.map((t) => [t.name, t]));
    // Weights exported as Constant nodes (PP-OCR, Silero) count like initializers.
    const constants = new Set(graph.node.filter((n) => n.opType === 'Constant').map((n) => n.output[0]!));
    for (const n of graph.node) {
      if (QUANTIZED_OPS.has(n.opType)) quantizedOps.set(n.opType, (quantizedOps.get(n.opType) ?? 0) + 1);
      if (!wanted.has(n.opType)) continue;
      const w = inits.get(n.input[1] ?? '');
      const constWeight = !!w || constants.has(n.input[1] ?? '');
      const t = w?.dataType ?? types.get(n.input[1] ?? '') ?? types.get(n.input[0] ?? '');
      if (t === undefined || !FLOAT_TYPES.has(t)) continue; // an integer or already-dequantized weight: not a candidate
      if (constWeight) floatCandidates++;
      floatTypes.add(dataTypeName[t] ?? String(t));
      const name = n.name || n.output[0] || n.opType;
      if (t === DataType.DOUBLE) unsupported.push({ node: name, opType: n.opType, reason: 'float64 tensors: QuantizeLinear/DequantizeLinear and MatMulNBits have no float64 form' });
      else if (t === DataType.BFLOAT16 && activations) unsupported.push({ node: name, opType: n.opType, reason: 'bfloat16 activations: onnxruntime has no CPU QuantizeLinear for bfloat16 (quantize the weights only: "activations": null)' });
    }
  }
  return { quantizedOps, floatCandidates, unsupported, floatTypes };
}

const listOps = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v} ${k}`).join(', ');

/** Refuses, before calibration, a model the recipe cannot quantize; returns notices for the report. */
export function checkModelSupport(model: ModelProto, opTypes: readonly string[], activations: boolean, source: string): string[] {
  const s = modelSupport(model, opTypes, activations);
  const notices: string[] = [];
  if (s.quantizedOps.size && s.floatCandidates === 0) {
    throw new StudioError('BAD_MODEL', `Model ${quote(source)} is already quantized: it holds ${listOps(s.quantizedOps)}, and no ${opTypes.map((t) => quote(t)).join('/')} node with a float weight is left to quantize. Quantize the float model it came from instead.`);
  }
  if (s.quantizedOps.size) notices.push(`Model is partly quantized already (${listOps(s.quantizedOps)}): those nodes are kept as they are; ${s.floatCandidates} float node(s) are quantized.`);
  if (s.unsupported.length) {
    const u = s.unsupported;
    throw new StudioError('UNSUPPORTED_OP', `Model ${quote(source)}: ${u.length} node(s) cannot be quantized: ${u.slice(0, 3).map((x) => `${x.opType} ${quote(x.node)} (${x.reason})`).join('; ')}${u.length > 3 ? '; ...' : ''}. Leave them out with "exclude" or change the recipe.`);
  }
  const narrow = [...s.floatTypes].filter((t) => t !== 'float32');
  if (narrow.length) notices.push(`Model computes in ${[...s.floatTypes].join(' and ')}: scales and dequantized values keep each tensor's own float type (opset 19 or later).`);
  return notices;
}
