// Phase one of the QDQ export (as ORT's quantizer does it): decide which nodes are quantized, with
// which weight axis, and which activation tensors get a QuantizeLinear/DequantizeLinear pair — and
// which of those share one scale (ops that only move or select values keep their input's scale, so ORT
// can run them on integers without a requant). Phase two (qdq-rewrite.ts) edits the graph.
import type { GraphProto, ModelProto, NodeProto } from '../onnx/proto';
import type { Recipe } from '../../contract/recipe';
import { StudioError, quote } from '../errors';
import { GraphIndex, subgraphsOf, outerReads } from '../onnx/graph';
import { attrInt } from '../onnx/attributes';
import { QUANT_OPS, SHARE_SCALE_OPS } from '../core/ops';
import { channelPadPays } from '../core/ort-cpu-costs';
import { elementTypes } from '../onnx/elem-types';
import { DataType } from '../onnx/tensor';

// The plan's shapes live under quant/ (engine/quant/qdq-targets.ts): bias correction and the calibration
// runs read a plan without depending on the exporter that makes it.
import type { QdqTarget, QdqPlan } from '../quant/qdq-targets';
export type { QdqTarget, QdqPlan };

/** Ops ORT's QDQ fusion turns into an integer kernel when Q/DQ surround them (own output scale). */
const POOL_OPS = new Set(['GlobalAveragePool', 'AveragePool']);

function isFloatish(idx: GraphIndex, name: string): boolean {
  const c = idx.constant(name);
  return !c || c.dataType === 1 || c.dataType === 10 || c.dataType === 16;
}

function targetFor(n: NodeProto, idx: GraphIndex, recipe: Recipe, quantActs: boolean): QdqTarget | string {
  const rank = (name: string) => idx.constant(name)?.dims.length ?? -1;
  const perChannel = recipe.weights.granularity === 'channel';
  const grouped = typeof recipe.weights.granularity === 'object';
  switch (n.opType) {
    case 'Conv':
    case 'ConvTranspose': {
      if (!n.input[1] || !idx.isConstant(n.input[1])) return 'its weight is not a constant';
      const group = attrInt(n, 'group', 1);
      const wDims = idx.constant(n.input[1])!.dims.map(Number);
      const axes = QUANT_OPS[n.opType].axes(wDims.length, { group });
      const outAxis = axes.channelAxis;
      const hasBias = !!n.input[2] && idx.isConstant(n.input[2]);
      const [cout, cin] = [wDims[0] ?? 0, wDims[1] ?? 0];
      // ORT's symmetric int8 conv kernel (u8 activations x s8 weights): zero-point-0 weights, group 1,
      // >= 16 output channels in multiples of 8, input channels in multiples of 4. With int8
      // activations the padded model measured slower (fmnist: 0.419x -> 0.478x FP32 CPU time), so
      // only uint8 activations are padded, and only where the Pad costs less than it saves
      // (channelPadPays: a 1-channel input; for 3 channels it measured even).
      const symConv = n.opType === 'Conv' && quantActs && group === 1 && wDims.length >= 3 && !grouped
        && recipe.weights.dtype === 'int8' && recipe.weights.scheme === 'symmetric'
        && recipe.activations!.dtype === 'uint8'
        && cout >= 16 && cout % 8 === 0 && cin % 4 !== 0 && channelPadPays(cin);
      return {
        node: n, graph: idx.graph, weightInput: QUANT_OPS[n.opType].weightInput,
        weightAxis: perChannel ? outAxis : undefined,
        groupAxis: grouped ? axes.blockAxis : undefined,
        biasInput: hasBias && outAxis !== undefined ? 2 : undefined,
        activationInputs: [0],
        ...(symConv ? { padChannelsTo: Math.ceil(cin / 4) * 4 } : {}),
      };
    }
    case 'Gemm': {
      if (!n.input[1] || !idx.isConstant(n.input[1])) return 'its B input is not a constant';
      if (attrInt(n, 'transA', 0) !== 0 && idx.isConstant(n.input[0]!)) return 'constant A input';
      const transB = attrInt(n, 'transB', 0);
      const alphaBeta = n.attribute.filter((a) => (a.name === 'alpha' || a.name === 'beta') && a.f !== 1).length === 0;
      const c = n.input[2] ? idx.constant(n.input[2]) : undefined;
      const axes = QUANT_OPS.Gemm.axes(2, { transB });
      return {
        node: n, graph: idx.graph, weightInput: QUANT_OPS.Gemm.weightInput,
        weightAxis: perChannel ? axes.channelAxis : undefined,
        groupAxis: grouped ? axes.blockAxis : undefined,
        biasInput: c && c.dims.length === 1 && alphaBeta ? 2 : undefined,
        activationInputs: [0],
      };
    }
    case 'MatMul': {
      const [a, b] = [n.input[0]!, n.input[1]!];
      const ca = idx.isConstant(a), cb = idx.isConstant(b);
      if (ca && cb) return 'both inputs are constants';
      if (cb) {
        const axes = QUANT_OPS.MatMul.axes(rank(b), {});
        return { node: n, graph: idx.graph, weightInput: QUANT_OPS.MatMul.weightInput, weightAxis: perChannel ? axes.channelAxis : undefined, groupAxis: grouped ? axes.blockAxis : undefined, activationInputs: [0] };
      }
      if (ca) return { node: n, graph: idx.graph, weightInput: 0, weightAxis: undefined, activationInputs: [1] };
      if (!quantActs) return 'weight-only quantization needs a constant weight; both inputs are activations';
      return { node: n, graph: idx.graph, activationInputs: [0, 1] };
    }
    case 'Gather': {
      if (!n.input[0] || !idx.isConstant(n.input[0])) return 'its data input is not a constant';
      return { node: n, graph: idx.graph, weightInput: QUANT_OPS.Gather.weightInput, weightAxis: perChannel ? QUANT_OPS.Gather.axes(rank(n.input[0]), {}).channelAxis : undefined, activationInputs: [] };
    }
    default:
      return `op type ${quote(n.opType)} has no QDQ rule`;
  }
}

/** Every graph of the model with its index: the main graph first, then If/Loop/Scan bodies. */
export function graphIndexes(model: ModelProto): GraphIndex[] {
  const out: GraphIndex[] = [];
  const visit = (g: GraphProto, parent?: GraphIndex) => {
    const idx = new GraphIndex(g, parent);
    out.push(idx);
    for (const n of g.node) for (const { graph: sg } of subgraphsOf(n)) visit(sg, idx);
  };
  visit(model.graph!);
  return out;
}

export function planQdq(model: ModelProto, recipe: Recipe, source = 'model'): QdqPlan {
  const indexes = graphIndexes(model);
  const all = indexes.flatMap((i) => i.graph.node);
  const names = new Set(all.map((n) => n.name));
  for (const ex of recipe.exclude) {
    if (!names.has(ex)) throw new StudioError('BAD_RECIPE', `Recipe exclude names node ${quote(ex)}, which is not in model ${quote(source)} (node names look like ${quote(all.find((n) => recipe.opTypes.includes(n.opType))?.name ?? all[0]?.name)}).`);
  }
  const quantActs = recipe.activations !== null;
  const excluded = new Set(recipe.exclude);
  const targets: QdqTarget[] = [];
  const skipped: QdqPlan['skipped'] = [];
  const activations = new Map<string, string>();
  // ORT fuses Q/DQ around joins and pools into QLinearAdd/QLinearMul/QLinearConcat/QLinearAveragePool,
  // whose scales must be float32: around float16 values the fused node is invalid ("Type
  // 'tensor(float16)' of input parameter (…_scale) of operator (QLinearConcat)"), so the rules that
  // quantize a value for such a kernel (joins, pools, every Conv output) apply to float32 values only;
  // float16 values are quantized where a Conv/MatMul/Gemm reads them. Unknown types count as float32.
  const types = elementTypes(model);
  const float32 = (name: string) => (types.get(name) ?? DataType.FLOAT) === DataType.FLOAT;
  for (const idx of indexes) {
    const local: QdqTarget[] = [];
    for (const n of idx.graph.node) {
      if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
      if (!recipe.opTypes.includes(n.opType)) continue;
      if (excluded.has(n.name)) { skipped.push({ node: n.name, opType: n.opType, reason: 'excluded by the recipe' }); continue; }
      const t = targetFor(n, idx, recipe, quantActs);
      if (typeof t === 'string') { skipped.push({ node: n.name, opType: n.opType, reason: t }); continue; }
      if (t.weightInput !== undefined && !isFloatish(idx, n.input[t.weightInput]!)) { skipped.push({ node: n.name, opType: n.opType, reason: 'its weight is not a float tensor' }); continue; }
      local.push(t);
    }
    // 4-bit activations: no shared scale through MaxPool/Reshape/...: ORT would then drop the Q/DQ
    // pair and hand the op a 4-bit tensor it has no kernel for.
    if (quantActs) planActivations(idx.graph.node, idx, local, activations, recipe.activations!.scheme === 'asymmetric', !['int4', 'uint4'].includes(recipe.activations!.dtype), float32);
    targets.push(...local);
  }
  const plan: QdqPlan = { targets, activations, calibrate: [], skipped };
  if (quantActs) keepPropagationOutOfSubgraphs(plan, indexes);
  plan.calibrate = [...new Set(activations.values())];
  return plan;
}

/**
 * Ops ORT's QDQPropagationTransformer moves a DequantizeLinear forward across (and a QuantizeLinear
 * backward): qdq_propagation.cc, CanNodePropagate. ORT matches some opset versions only; every version
 * counts here.
 */
const ORT_QDQ_PROPAGATE_OPS = new Set(['MaxPool', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Slice']);

/**
 * ORT (from graph optimization level "basic" up) carries a DequantizeLinear forward across
 * Transpose/Reshape/Squeeze/Unsqueeze/Slice/MaxPool and inserts a Q/DQ pair on every edge out of them —
 * an If/Loop/Scan's outer-scope (implicit) input included, where it indexes past the node's input list
 * and aborts the whole process (SIGABRT; Silero VAD: a Conv output -> Transpose_175 -> "283", read
 * inside If_177's branches). So an activation whose dequantized value reaches such a capture only
 * through those ops stays float: no DequantizeLinear starts the chain. A node that then has no
 * quantized part left is dropped (skipped, with the reason); one with a weight keeps it (weight-only)
 * and is listed in `floatActivations`.
 */
function keepPropagationOutOfSubgraphs(plan: QdqPlan, indexes: GraphIndex[]): void {
  const reasons = new Map<string, string>();
  // Until nothing changes: a captured value left float here may itself be fed, through those ops, by
  // another quantized activation.
  while (dropPropagatingIntoCaptures(plan, indexes, reasons));
  if (reasons.size === 0) return;
  const floatActs = plan.floatActivations ?? (plan.floatActivations = []);
  for (const [tensor, reason] of reasons) floatActs.push({ tensor, reason: `left float: ${reason}` });
  const dropped = settleTargets(plan);
  for (const t of dropped) {
    const lost = t.activationInputs.map((i) => t.node.input[i]!).find((x) => reasons.has(x));
    plan.skipped.push({ node: t.node.name, opType: t.node.opType, reason: `activation ${quote(lost ?? '')} ${reasons.get(lost ?? '') ?? 'stays float'}` });
  }
}

/** One pass of keepPropagationOutOfSubgraphs: drops (and gives reasons for) activations whose DQ
 *  reaches a subgraph capture through ops ORT propagates across. Returns whether any was dropped. */
function dropPropagatingIntoCaptures(plan: QdqPlan, indexes: GraphIndex[], reasons: Map<string, string>): boolean {
  let changed = false;
  for (const idx of indexes) {
    for (const n of idx.graph.node) {
      const subs = subgraphsOf(n);
      if (subs.length === 0) continue;
      const captured = new Set<string>();
      for (const { graph } of subs) for (const r of outerReads(graph)) captured.add(r);
      for (const v of captured) {
        // A captured value with its own Q/DQ is read through that DQ directly: nothing propagates.
        if (plan.activations.has(v)) continue;
        let cur = v;
        for (let p = idx.producer.get(cur); p && ORT_QDQ_PROPAGATE_OPS.has(p.opType) && (p.domain === '' || p.domain === 'ai.onnx') && p.input[0]; p = idx.producer.get(cur)) {
          cur = p.input[0];
          if (!plan.activations.has(cur)) continue;
          reasons.set(cur, `its dequantized value reaches ${quote(v)}, which ${quote(n.name || n.opType)} (${n.opType}) reads inside its subgraph, through ${p.opType}: ORT would propagate the Q/DQ pair into that outer-scope read and abort`);
          plan.activations.delete(cur);
          changed = true;
        }
      }
    }
  }
  return changed;
}

/**
 * After activations left the plan: Relus folded into a dropped output come back, channel padding of a
 * float input goes, and a target with no weight and a float activation input leaves the plan
 * (returned); one with a weight falls back to weight-only.
 */
function settleTargets(plan: QdqPlan): QdqTarget[] {
  for (const t of plan.targets) {
    if (t.foldedRelu && !plan.activations.has(t.foldedRelu.output[0]!)) t.foldedRelu = undefined;
    if (t.padChannelsTo && !plan.activations.has(t.node.input[0]!)) t.padChannelsTo = undefined; // the Pad sits on the quantized input
  }
  const keep = (t: QdqTarget) => t.weightInput !== undefined || t.activationInputs.every((i) => plan.activations.has(t.node.input[i]!));
  const dropped = plan.targets.filter((t) => !keep(t));
  plan.targets = plan.targets.filter(keep);
  return dropped;
}

function planActivations(nodes: NodeProto[], idx: GraphIndex, targets: QdqTarget[], acts: Map<string, string>, canFoldRelu: boolean, shareScales = true, float32: (name: string) => boolean = () => true): void {
  const targetInputs = new Set<string>();
  for (const t of targets) for (const i of t.activationInputs) targetInputs.add(t.node.input[i]!);
  // Backward: a tensor "wants" quantization if a target reads it, directly or through scale-sharing ops.
  const wants = new Set(targetInputs);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    if (shareScales && SHARE_SCALE_OPS.has(n.opType) && n.output[0] && wants.has(n.output[0]) && n.input[0]) wants.add(n.input[0]);
  }
  // Tensors that only reach the model's outputs (directly or through ops that just move values) stay
  // float: the consumer of a model output is float code (a sigmoid, box decoding, NMS, a sampler), so
  // quantizing it buys no integer kernel and costs precision exactly where the user reads the result.
  // A detector head whose logits span [-300, 5] collapses to sigmoid(0) = 0.5 under one 8-bit scale.
  const outputBound = outputBoundTensors(nodes, idx);
  // Outputs of targets: Conv always (QLinearConv needs the output Q), MatMul/Gemm when a target reads them.
  const targetByNode = new Map(targets.map((t) => [t.node, t]));
  for (const t of targets) {
    if (t.activationInputs.length === 0) continue;
    let out = t.node.output[0]!;
    const cons = idx.consumersOf(out);
    if (canFoldRelu && cons.length === 1 && cons[0]!.opType === 'Relu' && !idx.graphOutputs.has(out) && !idx.graphOutputs.has(cons[0]!.output[0]!)) {
      t.foldedRelu = cons[0]!;
      out = cons[0]!.output[0]!;
    }
    // A float16 Conv output is quantized only for a target that reads it: its Q would otherwise feed
    // joins and unary ops that ORT fuses into QLinear* kernels taking float32 scales only.
    if (((t.node.opType === 'Conv' || t.node.opType === 'ConvTranspose') && shareScales && float32(out)) || wants.has(out)) {
      if (!outputBound.has(out)) acts.set(out, out);
    }
    if (t.foldedRelu && !acts.has(out)) t.foldedRelu = undefined; // the Relu stays unless a Q clamps for it
  }
  for (const i of targetInputs) if (!acts.has(i)) acts.set(i, i);
  // Forward: scale-sharing ops whose input is quantized pass the same scale on, when a target wants it.
  // Average pools get a Q/DQ of their own (their own calibrated range: an average spans less than its
  // input), so ORT runs QLinearGlobalAveragePool / QLinearAveragePool in NHWC instead of
  // DequantizeLinear -> Transpose -> float pool -> QuantizeLinear.
  for (const n of nodes) {
    if (!shareScales || targetByNode.has(n)) continue;
    const i = n.input[0], o = n.output[0];
    if (!i || !o || !acts.has(i) || !wants.has(o) || outputBound.has(o)) continue;
    if (SHARE_SCALE_OPS.has(n.opType)) acts.set(o, acts.get(i)!);
    else if (POOL_OPS.has(n.opType) && n.output.length === 1 && float32(o)) acts.set(o, o);
  }
  // Residual joins. Add/Mul of two quantized tensors whose sum a target reads: quantize the sum too, so
  // ORT runs QLinearAdd/QLinearMul instead of dequantize -> float op -> requantize. Concat of quantized
  // tensors: one scale (the output's range, which covers every input) for all of them, so the concat
  // moves integers and nothing is requantized.
  const foldedOut = new Set(targets.filter((t) => t.foldedRelu).map((t) => t.foldedRelu!.output[0]!));
  for (const n of shareScales ? nodes : []) {
    const o = n.output[0];
    if (!o || !wants.has(o) || idx.graphOutputs.has(o) || targetByNode.has(n)) continue;
    const ins = n.input.filter((x) => x && !idx.isConstant(x));
    if (!float32(o)) continue;
    if ((n.opType === 'Add' || n.opType === 'Mul') && ins.length === 2 && n.input.length === 2 && ins.every((x) => acts.has(x))) {
      acts.set(o, o);
    } else if (n.opType === 'Concat' && ins.length === n.input.length && ins.length > 1 && ins.every((x) => acts.has(x))) {
      // A folded Relu relies on zero-point = qmin; a shared range may start below zero, so share only
      // when all inputs are Relu outputs or none is.
      const folded = ins.filter((x) => foldedOut.has(x)).length;
      if (folded !== 0 && folded !== ins.length) continue;
      for (const x of ins) acts.set(x, o);
      acts.set(o, o);
      for (const [t, src] of acts) if (ins.includes(src)) acts.set(t, o);
    }
  }
}

/** Ops that only move or reshape values: a tensor read only by them is as "final" as what they write. */
const MOVE_OPS = new Set(['Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze', 'Identity', 'Concat']);

/** Graph outputs, and every tensor whose readers are all value-moving ops writing such tensors. */
function outputBoundTensors(nodes: NodeProto[], idx: GraphIndex): Set<string> {
  const bound = new Set(idx.graphOutputs);
  for (let k = nodes.length - 1; k >= 0; k--) {
    for (const x of nodes[k]!.input) {
      if (!x || bound.has(x) || idx.isConstant(x)) continue;
      const readers = idx.consumersOf(x);
      if (readers.length > 0 && readers.every((r) => MOVE_OPS.has(r.opType) && r.output.every((o) => bound.has(o)))) bound.add(x);
    }
  }
  return bound;
}

/**
 * Keep only activation Q/DQ pairs whose scale source was calibrated (tensors in an If branch the
 * calibration data never took have no range). Their nodes fall back to weight-only; a Relu folded
 * into an uncalibrated output comes back. Returns the nodes affected.
 */
export function dropUncalibrated(plan: QdqPlan, calibrated: Set<string>): string[] {
  const affected = new Set<string>();
  for (const [t, src] of [...plan.activations]) if (!calibrated.has(src)) plan.activations.delete(t);
  for (const t of plan.targets) {
    if (t.foldedRelu && !plan.activations.has(t.foldedRelu.output[0]!)) { t.foldedRelu = undefined; affected.add(t.node.name); }
    if (t.padChannelsTo && !plan.activations.has(t.node.input[0]!)) t.padChannelsTo = undefined; // the Pad sits on the quantized input
    if (t.activationInputs.some((i) => !plan.activations.has(t.node.input[i]!))) {
      if (t.weightInput === undefined) { affected.add(t.node.name); continue; }
      affected.add(t.node.name);
    }
  }
  plan.targets = plan.targets.filter((t) => t.weightInput !== undefined || t.activationInputs.every((i) => plan.activations.has(t.node.input[i]!)));
  plan.calibrate = plan.calibrate.filter((t) => calibrated.has(t));
  return [...affected];
}
