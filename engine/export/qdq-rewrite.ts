// Phase two of the QDQ export: edit the graph as planned. Weights become quantized initializers
// (int8/uint8/int4/uint4, per-tensor, per-channel or blocked) behind a DequantizeLinear; biases become
// int32 with scale s_in * s_w; activations get one QuantizeLinear -> DequantizeLinear pair after their
// producer, read by every consumer, which is the pattern ORT fuses into QLinearConv / QLinearMatMul /
// MatMulIntegerToFloat. The model is edited in place.
import { DataType, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto';
import { makeTensor, makeFloatTensor, tensorToFloat32, tensorDims, halfToFloat, floatToHalf, bfloat16ToFloat, floatToBfloat16, type TypedArray } from '../onnx/tensor';
import { elementTypes, FLOAT_TYPES } from '../onnx/elem-types';
import type { ActivationDType, Recipe, WeightDType } from '../../contract/recipe';
import { dtypeInfo } from '../core/dtypes';
import type { QuantizedNodeInfo } from '../../contract/report';
import { StudioError, quote } from '../errors';
import { GraphIndex, intAttr, makeNode, onnxOpset, pruneUnused } from '../onnx/graph';
import { graphIndexes, type QdqPlan, type QdqTarget } from './qdq-plan';
import { quantizeWeight, rangeParams, roundHalfEven, type QParams } from '../quant/math/qdq-params';
import { upgradeOpset } from '../onnx/opset';
import { fuseTanhGelu } from './qdq-gelu';

export interface RewriteResult {
  quantized: QuantizedNodeInfo[];
  opset: number;
  /** Activation tensor -> the name of its dequantized value (what consumers read). */
  dequantized: Map<string, string>;
  /** Tanh-GELU subgraphs replaced by one Gelu node (opset 20). */
  fusedGelu: number;
}

function qType(dtype: WeightDType | ActivationDType): number {
  return dtypeInfo(dtype).onnxType;
}

function intArray(dataType: number, values: ArrayLike<number>): TypedArray {
  if (dataType === DataType.INT8 || dataType === DataType.INT4) return Int8Array.from(values);
  if (dataType === DataType.UINT8 || dataType === DataType.UINT4) return Uint8Array.from(values);
  return Int32Array.from(values);
}

/** `v` as a scale of float type `type` stores it (the int32 bias must divide by the stored scale). */
function asStored(type: number, v: number): number {
  if (type === DataType.FLOAT16) return halfToFloat(floatToHalf(v));
  if (type === DataType.BFLOAT16) return bfloat16ToFloat(floatToBfloat16(v));
  return Math.fround(v);
}

export function rewriteQdq(model: ModelProto, plan: QdqPlan, ranges: Map<string, { min: number; max: number }>, recipe: Recipe, baseDir?: string): RewriteResult {
  const w = recipe.weights;
  const a = recipe.activations;
  const fourBit = (d: string) => d === 'int4' || d === 'uint4' || d === 'int3';
  const grouped = typeof w.granularity === 'object' ? w.granularity.group : 0;
  // Float-side cleanup ORT does not do for us, before any index is built (see qdq-gelu.ts).
  const fusedGelu = a ? fuseTanhGelu(model, new Set([...plan.activations.keys(), ...plan.activations.values()]), baseDir) : 0;
  // Scales take the float type of the value they dequantize to (float16 models stay float16, mixed
  // graphs per value); Q/DQ with non-float32 scales need opset 19.
  const types = elementTypes(model);
  const floatOf = (name: string): number => { const t = types.get(name); return t !== undefined && FLOAT_TYPES.has(t) ? t : DataType.FLOAT; };
  const narrowFloats = [...plan.activations.keys(), ...plan.targets.map((t) => t.node.input[t.weightInput ?? 0] ?? '')].some((x) => floatOf(x) !== DataType.FLOAT);
  const needOpset = fourBit(w.dtype) || grouped ? 21 : narrowFloats ? 19 : 13;
  if (onnxOpset(model) < needOpset) upgradeOpset(model, needOpset);
  const g = model.graph!;
  const indexes = graphIndexes(model);
  const idx = indexes[0]!;
  const indexOf = new Map<GraphProto, GraphIndex>(indexes.map((i) => [i.graph, i]));
  // The plan's targets point at graphs of the model as planned; the opset upgrade keeps node objects.
  const heads = new Map<GraphProto, NodeProto[]>(indexes.map((i) => [i.graph, []]));
  const newInits: TensorProto[] = [];
  // A quantized weight lives in the graph of the DequantizeLinear reading it: ORT's weight fusions
  // (DQ -> MatMulNBits, QLinear*) look for constant initializers in the node's own graph only.
  const initsOf = (graph: GraphProto): TensorProto[] => (graph === g ? newInits : graph.initializer);
  const quantized: QuantizedNodeInfo[] = [];

  // Activation parameters, one per source tensor.
  const actParams = new Map<string, QParams>();
  const paramsOf = (tensor: string): QParams => {
    const src = plan.activations.get(tensor)!;
    let p = actParams.get(src);
    if (!p) {
      const r = ranges.get(src);
      if (!r) throw new StudioError('INTERNAL', `No calibrated range for tensor ${quote(src)}.`);
      p = rangeParams(r.min, r.max, a!.dtype, a!.scheme);
      actParams.set(src, p);
    }
    return p;
  };

  // Weights.
  const weightCache = new Map<string, { out: string; scales: Float32Array; perChannel: boolean; padded?: { rank: number; cin: number } }>();
  const paddedFrom = new Map<QdqTarget, { rank: number; cin: number }>();
  const quantizeWeightInput = (t: QdqTarget) => {
    const n = t.node, wi = t.weightInput!;
    const name = n.input[wi]!;
    const axis = grouped ? t.groupAxis : t.weightAxis;
    const key = `${name}|${axis}|${grouped}|${indexes.findIndex((i) => i.graph === t.graph)}|${t.padChannelsTo ?? 0}`;
    const gi = indexOf.get(t.graph) ?? idx;
    let entry = weightCache.get(key);
    if (!entry) {
      const tensor = gi.constant(name)!;
      const dims = [...tensorDims(tensor)];
      const origCin = dims[1] ?? 0;
      const q = quantizeWeight(tensorToFloat32(tensor, baseDir), dims, w.dtype, w.scheme, axis, grouped && axis !== undefined ? grouped : undefined);
      if (t.padChannelsTo) dims.splice(0, dims.length, ...padInputChannels(q, dims, t.padChannelsTo));
      const dt = qType(w.dtype);
      const qn = idx.unique(`${name}_quantized`), sn = idx.unique(`${name}_scale`), zn = idx.unique(`${name}_zero_point`), out = idx.unique(`${name}_DequantizeLinear_Output`);
      initsOf(t.graph).push(makeTensor(qn, dt, dims, intArray(dt, q.values)), makeFloatTensor(sn, floatOf(name), q.paramDims, q.scales), makeTensor(zn, dt, q.paramDims, intArray(dt, q.zeroPoints)));
      const attrs = q.axis !== undefined ? [intAttr('axis', q.axis), ...(q.blockSize ? [intAttr('block_size', q.blockSize)] : [])] : [];
      heads.get(t.graph)!.push(makeNode('DequantizeLinear', [qn, sn, zn], [out], idx.unique(`${name}_DequantizeLinear`), attrs));
      entry = { out, scales: q.scales, perChannel: q.axis !== undefined && !q.blockSize, ...(t.padChannelsTo ? { padded: { rank: dims.length, cin: origCin } } : {}) };
      weightCache.set(key, entry);
    }
    n.input[wi] = entry.out;
    if (t.padChannelsTo) paddedFrom.set(t, entry.padded!);
    return entry;
  };

  for (const t of plan.targets) {
    const n = t.node;
    const info: QuantizedNodeInfo = { node: n.name, opType: n.opType, granularity: grouped ? `group ${grouped}` : w.granularity as string };
    if (a && t.activationInputs.length) info.activationDtype = a.dtype;
    if (t.weightInput !== undefined) {
      info.weight = n.input[t.weightInput];
      info.weightDtype = w.dtype;
      const entry = quantizeWeightInput(t);
      const actIn = n.input[0]!;
      if (t.biasInput !== undefined && a && plan.activations.has(actIn) && !grouped) {
        const bName = n.input[t.biasInput]!;
        const bias = tensorToFloat32((indexOf.get(t.graph) ?? idx).constant(bName)!, baseDir);
        const sIn = paramsOf(actIn).scale;
        const scales = new Float32Array(bias.length), q = new Int32Array(bias.length);
        for (let c = 0; c < bias.length; c++) {
          const s = asStored(floatOf(n.input[t.weightInput]!), sIn * (entry.perChannel ? entry.scales[c]! : entry.scales[0]!));
          scales[c] = s > 0 ? s : 1;
          q[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundHalfEven(bias[c]! / scales[c]!)));
        }
        const qn = idx.unique(`${bName}_quantized`), sn = idx.unique(`${bName}_scale`), zn = idx.unique(`${bName}_zero_point`), out = idx.unique(`${bName}_DequantizeLinear_Output`);
        initsOf(t.graph).push(makeTensor(qn, DataType.INT32, [bias.length], q), makeFloatTensor(sn, floatOf(bName), [bias.length], scales), makeTensor(zn, DataType.INT32, [bias.length], new Int32Array(bias.length)));
        heads.get(t.graph)!.push(makeNode('DequantizeLinear', [qn, sn, zn], [out], idx.unique(`${bName}_DequantizeLinear`), [intAttr('axis', 0)]));
        n.input[t.biasInput] = out;
      }
    }
    if (t.foldedRelu) n.output[0] = t.foldedRelu.output[0]!;
    quantized.push(info);
  }

  // Activation Q/DQ pairs, placed right after each producer.
  const removed = new Set(plan.targets.map((t) => t.foldedRelu).filter((r): r is NodeProto => !!r));
  const after = new Map<string, NodeProto[]>();
  const dqOf = new Map<string, string>();
  const qOf = new Map<string, { qo: string; sn: string; zn: string }>();
  const paddedOf = new Map<string, string>();
  /** Relus dropped for the Q/DQ pair of their output, which takes their place in the node order. */
  const reluPlaced = new Map<NodeProto, string>();
  const inputOverride = new Map<NodeProto, Map<number, string>>();
  const override = (n: NodeProto, i: number, name: string) => inputOverride.set(n, (inputOverride.get(n) ?? new Map<number, string>()).set(i, name));
  if (a) {
    // 4-bit activations travel in 8-bit containers clamped to the 4-bit range (Q -> Clip -> DQ): the
    // same numbers, and ORT's QDQ propagation cannot hand MaxPool & co. a 4-bit tensor they lack kernels for.
    const four = a.dtype === 'int4' || a.dtype === 'uint4';
    const at = four ? (a.dtype === 'int4' ? DataType.INT8 : DataType.UINT8) : qType(a.dtype);
    const { qmin, qmax } = dtypeInfo(a.dtype);
    let clipLo = '', clipHi = '';
    if (four) {
      clipLo = idx.unique(`act_${a.dtype}_min`); clipHi = idx.unique(`act_${a.dtype}_max`);
      newInits.push(makeTensor(clipLo, at, [], intArray(at, [qmin])), makeTensor(clipHi, at, [], intArray(at, [qmax])));
    }
    for (const tensor of plan.activations.keys()) {
      const p = paramsOf(tensor);
      const sn = idx.unique(`${tensor}_scale`), zn = idx.unique(`${tensor}_zero_point`);
      newInits.push(makeFloatTensor(sn, floatOf(tensor), [], [p.scale]), makeTensor(zn, at, [], intArray(at, [p.zeroPoint ?? qmin])));
      const qo = idx.unique(`${tensor}_QuantizeLinear_Output`), dqo = idx.unique(`${tensor}_DequantizeLinear_Output`);
      const pair = [makeNode('QuantizeLinear', [tensor, sn, zn], [qo], idx.unique(`${tensor}_QuantizeLinear`))];
      let dqIn = qo;
      if (four) {
        dqIn = idx.unique(`${tensor}_clipped`);
        pair.push(makeNode('Clip', [qo, clipLo, clipHi], [dqIn], idx.unique(`${tensor}_Clip`)));
      }
      pair.push(makeNode('DequantizeLinear', [dqIn, sn, zn], [dqo], idx.unique(`${tensor}_DequantizeLinear`)));
      dqOf.set(tensor, dqo);
      after.set(tensor, pair);
      qOf.set(tensor, { qo, sn, zn });
    }
    // A Relu inside an If/Loop/Scan body whose output Q clamps at zero already (zero point = qmin) is
    // dropped here, its Q reading the Relu's input: exact, and what ORT's ReluQuantFusion does itself —
    // but ORT doing it inside a subgraph, before fusing the Add feeding the Relu into QLinearAdd,
    // writes two nodes of the Add's name and refuses the model ("two nodes with same node name";
    // Silero VAD v4's Add_141 -> Relu_142 in If_25's branch). The pair takes the Relu's place.
    if (!four) {
      for (const gi of indexes) {
        if (gi === idx) continue;
        for (const r of gi.graph.node) {
          const t = r.output[0], y = r.input[0];
          if (r.opType !== 'Relu' || (r.domain !== '' && r.domain !== 'ai.onnx') || removed.has(r) || !t || !y) continue;
          if (!plan.activations.has(t) || gi.graphOutputs.has(t) || plan.activations.has(y) || !gi.producer.has(y)) continue;
          if ((paramsOf(t).zeroPoint ?? qmin) !== qmin) continue;
          after.get(t)![0]!.input[0] = y;
          removed.add(r);
          reluPlaced.set(r, t);
        }
      }
    }
    // Convs whose input channels are zero-padded (see QdqTarget.padChannelsTo): Q -> Pad -> DQ -> Conv,
    // the Pad on the 8-bit tensor (its fill the zero-point, i.e. real 0).
    for (const t of plan.targets) {
      const x = t.node.input[0]!, q = qOf.get(x);
      if (!t.padChannelsTo || !q) continue;
      const key = `${x}|${t.padChannelsTo}`;
      let dqp = paddedOf.get(key);
      if (!dqp) {
        const { rank, cin } = paddedFrom.get(t)!;
        const pads = new BigInt64Array(2 * rank);
        pads[rank + 1] = BigInt(t.padChannelsTo - cin);
        const pn = idx.unique(`${x}_channel_pads`), po = idx.unique(`${x}_channel_padded`);
        dqp = idx.unique(`${x}_channel_padded_DequantizeLinear_Output`);
        newInits.push(makeTensor(pn, DataType.INT64, [2 * rank], pads));
        after.get(x)!.push(
          makeNode('Pad', [q.qo, pn, q.zn], [po], idx.unique(`${x}_channel_Pad`)),
          makeNode('DequantizeLinear', [po, q.sn, q.zn], [dqp], idx.unique(`${x}_channel_padded_DequantizeLinear`)),
        );
        paddedOf.set(key, dqp);
      }
      override(t.node, 0, dqp);
    }
    // A MatMul of two activations whose only reader multiplies (or divides) it by a positive scalar
    // constant (attention's 1/sqrt(d)): the constant goes into the scale of a DequantizeLinear of its
    // first input and the Mul is dropped. FP32 gets this from ORT's MatMulScaleFusion (FusedMatMul);
    // MatMulIntegerToFloat has no such fusion, so without this the int8 model pays a float Mul over
    // every [heads, T, T] score.
    for (const t of plan.targets) {
      if (t.weightInput !== undefined || t.activationInputs.length !== 2 || t.node.opType !== 'MatMul') continue;
      const gi = indexOf.get(t.graph) ?? idx;
      const out = t.node.output[0]!, x = t.node.input[0]!, q = qOf.get(x);
      const cons = gi.consumersOf(out);
      if (!q || !plan.activations.has(t.node.input[1]!) || plan.activations.has(out) || gi.graphOutputs.has(out) || cons.length !== 1) continue;
      const m = cons[0]!;
      if ((m.opType !== 'Mul' && m.opType !== 'Div') || (m.domain !== '' && m.domain !== 'ai.onnx') || m.input.length !== 2 || removed.has(m)) continue;
      const ci = m.opType === 'Div' ? 1 : m.input[0] === out ? 1 : 0;
      if (m.input[1 - ci] !== out) continue;
      const ct = gi.constant(m.input[ci]!);
      if (!ct || tensorDims(ct).reduce((u, v) => u * v, 1) !== 1) continue;
      const c0 = tensorToFloat32(ct, baseDir)[0]!;
      const c = m.opType === 'Div' ? 1 / c0 : c0;
      if (!(c > 0) || !Number.isFinite(c)) continue;
      const sn = idx.unique(`${x}_scale_folded`), dqo = idx.unique(`${x}_scaled_DequantizeLinear_Output`);
      newInits.push(makeFloatTensor(sn, floatOf(x), [], [Math.fround(paramsOf(x).scale * c)]));
      after.get(x)!.push(makeNode('DequantizeLinear', [q.qo, sn, q.zn], [dqo], idx.unique(`${x}_scaled_DequantizeLinear`)));
      override(t.node, 0, dqo);
      t.node.output[0] = m.output[0]!;
      removed.add(m);
    }
  }
  const ownDq = new Set([...after.values()].flatMap((pair) => pair.filter((n) => n.opType === 'DequantizeLinear').map((n) => n.output[0]!)));
  for (const gi of indexes) {
    const sub = gi.graph;
    const nodes: NodeProto[] = [...heads.get(sub)!];
    for (const tensor of gi.graphInputs) if (after.has(tensor)) { nodes.push(...after.get(tensor)!); after.delete(tensor); }
    for (const n of sub.node) {
      if (removed.has(n)) {
        const t = reluPlaced.get(n);
        if (t && after.has(t)) nodes.push(...after.get(t)!);
        continue;
      }
      for (let i = 0; i < n.input.length; i++) {
        const d = dqOf.get(n.input[i]!);
        if (d) n.input[i] = d;
      }
      for (const [i, v] of inputOverride.get(n) ?? []) n.input[i] = v;
      nodes.push(n);
      for (const o of n.output) if (after.has(o)) nodes.push(...after.get(o)!);
    }
    sub.node = nodes;
  }
  // Our DequantizeLinear nodes nobody reads any more (every reader took a padded or rescaled one).
  const read = new Set<string>();
  for (const gi of indexes) {
    for (const n of gi.graph.node) for (const i of n.input) if (i) read.add(i);
    for (const o of gi.graph.output) read.add(o.name);
  }
  for (const gi of indexes) gi.graph.node = gi.graph.node.filter((n) => n.opType !== 'DequantizeLinear' || !ownDq.has(n.output[0]!) || read.has(n.output[0]!));
  g.initializer.push(...newInits);
  pruneUnused(model.graph!);
  return { quantized, opset: onnxOpset(model), dequantized: dqOf, fusedGelu };
}

/**
 * Zero filters for new input channels: a [Cout, Cin, ...k] quantized weight becomes [Cout, C, ...k]
 * (zero-point 0, so the padded entries are real zeros). Returns the new dims.
 */
function padInputChannels(q: { values: Int32Array }, dims: readonly number[], c: number): number[] {
  const [cout, cin] = [dims[0]!, dims[1]!];
  const k = dims.slice(2).reduce((x, y) => x * y, 1);
  const out = new Int32Array(cout * c * k);
  for (let o = 0; o < cout; o++) out.set(q.values.subarray(o * cin * k, (o + 1) * cin * k), o * c * k);
  q.values = out;
  return [cout, c, ...dims.slice(2)];
}

