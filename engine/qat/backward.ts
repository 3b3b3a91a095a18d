// The backward-graph builder: from a forward ONNX graph, emit one ONNX model that computes the
// fake-quantized forward pass, the loss and the gradient of the loss for every trainable weight
// (and, with learnable scales, for every activation scale), in standard ONNX ops that onnxruntime
// runs with its own CPU (or CUDA) kernels. Why a graph and not a TypeScript autograd: one ORT
// session runs forward + backward with ORT's fast Conv/MatMul kernels and no per-op JS round trip.
//
// Shapes are static: the caller passes the shape of every forward tensor at the training batch size
// (measured by one probe run), so broadcasting, reshapes and splits in the backward pass are plain
// constants. The weights' fake quantization happens on the host (they are graph inputs already
// quantized); the activations' fake quantization happens in the graph (FQ nodes below).
import { clone, ModelProtoSchema, DataType, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto';
import { tensorDims, tensorToFloat32, makeTensor } from '../onnx/tensor';
import { StudioError, quote } from '../errors';
import { GraphEmitter, attr, attrInt, attrFloat, attrInts, attrString, valueInfo } from './onnx-build';

export interface ActivationFq {
  tensor: string;
  /** Name of the scale/zero-point pair (tensors that share one scale name the same param). Default: tensor. */
  param?: string;
  qmin: number;
  qmax: number;
}

export interface TrainingGraphOptions {
  /** Float initializers that become graph inputs and get a gradient output each. */
  params: readonly string[];
  /** Activation tensors fake-quantized in the graph (per-tensor scale and zero-point inputs). */
  activations: readonly ActivationFq[];
  /** Emit gradients for the activation scales (LSQ). */
  learnScales?: boolean;
  /** The graph output the loss reads (class axis last). Default: the first output. */
  output?: string;
  /** false: the fake-quantized forward model only (any batch size, no shapes needed). */
  backward?: boolean;
  /** Static shape of every forward tensor at the training batch size (required with backward). */
  shapes?: ReadonlyMap<string, readonly number[]>;
}

export interface TrainingGraph {
  model: ModelProto;
  params: string[];
  output: string;
  /** Float input of the logits' shape: a probability distribution per row (one-hot labels or a teacher's softmax). */
  targetInput: string;
  lossOutput: string;
  gradOutputs: Map<string, string>;
  scaleGradOutputs: Map<string, string>;
}

export const scaleInputName = (t: string) => `qat.scale:${t}`;
export const zeroPointInputName = (t: string) => `qat.zp:${t}`;
const fqOutputName = (t: string) => `qat.fq:${t}`;

/** Ops that pass no gradient (their outputs never depend differentiably on the weights). */
const NON_DIFFERENTIABLE = new Set([
  'Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual',
  'Not', 'And', 'Or', 'Xor', 'ArgMax', 'ArgMin', 'NonZero', 'IsNaN', 'IsInf', 'Sign', 'Floor', 'Ceil', 'Round', 'EyeLike',
]);

/** Which inputs of an op carry gradient (the rest: shapes, indices, conditions, exponents, clip bounds). */
function differentiableInputs(node: NodeProto): number[] {
  switch (node.opType) {
    case 'Reshape': case 'Expand': case 'Squeeze': case 'Unsqueeze': case 'Clip': case 'Pow': case 'Dropout': case 'Split':
      return [0];
    case 'Gather': return [0];
    case 'Where': return [1, 2];
    case 'LayerNormalization': return [0, 1, 2];
    case 'BatchNormalization': return [0];
    default: return node.input.map((_, i) => i);
  }
}

/** Ops with a backward rule here. */
export const SUPPORTED_TRAINING_OPS = [
  'Conv', 'Gemm', 'MatMul', 'Add', 'Sum', 'Mean', 'Sub', 'Mul', 'Div', 'Pow', 'Sqrt', 'Exp', 'Log', 'Neg', 'Relu', 'Sigmoid', 'Tanh', 'Erf',
  'Softmax', 'LogSoftmax', 'LayerNormalization', 'BatchNormalization', 'MaxPool', 'AveragePool', 'GlobalAveragePool',
  'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Transpose', 'Concat', 'Split', 'Gather', 'Where', 'Expand', 'Clip',
  'Identity', 'Dropout', 'Cast',
] as const;

type Op =
  | { kind: 'node'; node: NodeProto }
  | { kind: 'fq'; fq: ActivationFq; input: string; output: string; v: string; q: string; s: string; z: string };

function sameShape(a: readonly number[], b: readonly number[]) {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Build the training (or fake-quantized forward) model. Throws UNSUPPORTED_OP naming the node when
 * the gradient has to pass through an op without a backward rule.
 */
export function buildTrainingGraph(source: ModelProto, opts: TrainingGraphOptions): TrainingGraph {
  const model = clone(ModelProtoSchema, source);
  const graph = model.graph!;
  const opset = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0n;
  if (opset < 13n) throw new StudioError('BAD_MODEL', `QAT needs an ONNX opset of 13 or newer; the model declares ${quote(Number(opset))}.`);
  const withBackward = opts.backward !== false;
  const output = opts.output ?? graph.output[0]!.name;
  if (!graph.output.some((o) => o.name === output)) throw new StudioError('BAD_ARGUMENT', `QAT loss output ${quote(output)} is not a graph output.`);

  // Weights become inputs.
  const initByName = new Map(graph.initializer.map((t) => [t.name, t]));
  const paramSet = new Set(opts.params);
  for (const p of opts.params) {
    const t = initByName.get(p);
    if (!t || t.dataType !== DataType.FLOAT) throw new StudioError('BAD_ARGUMENT', `QAT parameter ${quote(p)} is not a float initializer of the model.`);
    graph.input.push(valueInfo(p, DataType.FLOAT, tensorDims(t)));
  }
  graph.initializer = graph.initializer.filter((t) => !paramSet.has(t.name));

  const em = new GraphEmitter('qat');
  const shapes = new Map(opts.shapes ?? []);
  const shape = (name: string): number[] => {
    const s = shapes.get(name) ?? (initByName.get(name) ? tensorDims(initByName.get(name)!) : undefined);
    if (!s) throw new StudioError('INTERNAL', `QAT backward: no static shape for tensor ${quote(name)}.`);
    return [...s];
  };

  // Fake-quant nodes for activations: out = (clip(round(x/s + z), qmin, qmax) - z) * s.
  const fqByTensor = new Map<string, Op & { kind: 'fq' }>();
  const paramInputs = new Set<string>();
  for (const a of opts.activations) {
    const key = a.param ?? a.tensor;
    const s = scaleInputName(key), z = zeroPointInputName(key);
    if (!paramInputs.has(key)) graph.input.push(valueInfo(s, DataType.FLOAT, []), valueInfo(z, DataType.FLOAT, []));
    paramInputs.add(key);
    fqByTensor.set(a.tensor, { kind: 'fq', fq: a, input: a.tensor, output: fqOutputName(a.tensor), v: '', q: '', s, z });
  }
  const renamed = new Map<string, string>();
  for (const [t, f] of fqByTensor) renamed.set(t, f.output);
  for (const n of graph.node) n.input = n.input.map((i) => renamed.get(i) ?? i);
  for (const o of graph.output) {
    if (renamed.has(o.name)) throw new StudioError('BAD_ARGUMENT', `QAT cannot fake-quantize the graph output ${quote(o.name)}.`);
  }

  const emitFq = (f: Op & { kind: 'fq' }, into: NodeProto[]) => {
    const local = new GraphEmitter(`qat/fq/${f.input}`);
    f.v = local.op('Add', [local.op('Div', [f.input, f.s]), f.z], [], 'v');
    f.q = local.op('Clip', [local.op('Round', [f.v]), em.f32(f.fq.qmin), em.f32(f.fq.qmax)], [], 'q');
    local.node('Mul', [local.op('Sub', [f.q, f.z]), f.s], [], [f.output]);
    into.push(...local.nodes);
    if (shapes.has(f.input)) shapes.set(f.output, shape(f.input));
  };

  // Order: FQ of graph inputs first, then each node followed by the FQ of its outputs.
  const ops: Op[] = [];
  const newNodes: NodeProto[] = [];
  for (const f of fqByTensor.values()) {
    if (graph.input.some((i) => i.name === f.input) || initByName.has(f.input)) { emitFq(f, newNodes); ops.push(f); }
  }
  for (const n of graph.node) {
    newNodes.push(n);
    ops.push({ kind: 'node', node: n });
    for (const o of n.output) {
      const f = fqByTensor.get(o);
      if (f) { emitFq(f, newNodes); ops.push(f); }
    }
  }
  for (const f of fqByTensor.values()) {
    if (!f.v) throw new StudioError('BAD_ARGUMENT', `QAT activation ${quote(f.input)} is produced by no node of the model.`);
  }
  graph.node = newNodes;

  const result: TrainingGraph = {
    model, params: [...opts.params], output, targetInput: 'qat.target', lossOutput: 'qat.loss',
    gradOutputs: new Map(), scaleGradOutputs: new Map(),
  };
  if (!withBackward) {
    graph.initializer.push(...em.initializers);
    return result;
  }
  if (!opts.shapes) throw new StudioError('INTERNAL', 'QAT backward needs the static shapes of the forward tensors.');

  // Which tensors depend differentiably on a parameter (or a learnable scale)?
  const requires = gradientTensors(ops, [...opts.params, ...(opts.learnScales ? [...fqByTensor.values()].map((f) => f.s) : [])]);
  if (!requires.has(output)) throw new StudioError('BAD_ARGUMENT', `QAT: the output ${quote(output)} does not depend on any trainable weight.`);

  // Extra forward outputs the backward needs.
  for (const op of ops) {
    if (op.kind !== 'node') continue;
    const n = op.node;
    if (n.opType === 'MaxPool' && requires.has(n.input[0]!)) {
      if (n.output.length < 2 || !n.output[1]) n.output[1] = `${n.output[0]}.indices`;
      shapes.set(n.output[1]!, shape(n.output[0]!));
    }
    if (n.opType === 'LayerNormalization' && requires.has(n.output[0]!)) {
      const xs = shape(n.input[0]!);
      let axis = attrInt(n, 'axis', -1);
      if (axis < 0) axis += xs.length;
      while (n.output.length < 3) n.output.push('');
      if (!n.output[1]) n.output[1] = `${n.output[0]}.mean`;
      if (!n.output[2]) n.output[2] = `${n.output[0]}.invstd`;
      const ms = xs.map((d, i) => (i >= axis ? 1 : d));
      shapes.set(n.output[1]!, ms);
      shapes.set(n.output[2]!, ms);
    }
  }

  // Loss: mean over rows of -sum(target * log_softmax(logits)); d logits = (softmax - target) / rows.
  const outShape = shape(output);
  const classes = outShape[outShape.length - 1]!;
  const rows = outShape.reduce((a, b) => a * b, 1) / classes;
  graph.input.push(valueInfo(result.targetInput, DataType.FLOAT, outShape));
  const logp = em.op('LogSoftmax', [output], [attr.i('axis', -1)], 'logp');
  const total = em.op('ReduceSum', [em.op('Mul', [result.targetInput, logp])], [attr.i('keepdims', 0)], 'ce_sum');
  em.node('Mul', [total, em.f32(-1 / rows)], [], [result.lossOutput]);
  const dOut = em.op('Mul', [em.op('Sub', [em.op('Exp', [logp]), result.targetInput]), em.f32(1 / rows)], [], 'dlogits');

  const grads = new Map<string, string[]>();
  const addGrad = (t: string, g: string | undefined) => {
    if (!g || !requires.has(t)) return;
    const list = grads.get(t);
    if (list) list.push(g); else grads.set(t, [g]);
  };
  const gradOf = (t: string): string | undefined => {
    const list = grads.get(t);
    if (!list || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const s = em.op('Sum', list, [], 'gsum');
    grads.set(t, [s]);
    return s;
  };
  addGrad(output, dOut);

  const rules = new BackwardRules(em, shape, (t) => requires.has(t), initByName);
  for (let k = ops.length - 1; k >= 0; k--) {
    const op = ops[k]!;
    if (op.kind === 'fq') {
      const g = gradOf(op.output);
      if (!g) continue;
      const [gx, gs] = rules.fakeQuant(op, g);
      addGrad(op.input, gx);
      if (gs) addGrad(op.s, gs);
      continue;
    }
    const n = op.node;
    const gOuts = n.output.map((o) => (o ? gradOf(o) : undefined));
    if (n.opType === 'Split' && gOuts.some((x) => x)) n.output.forEach((o) => requires.add(o));
    if (gOuts.every((g) => g === undefined)) continue;
    const gIn = rules.apply(n, gOuts);
    n.input.forEach((name, i) => { if (name && differentiableInputs(n).includes(i)) addGrad(name, gIn[i]); });
  }

  graph.output.push(valueInfo(result.lossOutput, DataType.FLOAT, []));
  for (const p of opts.params) {
    const out = `qat.grad:${p}`;
    const g = gradOf(p);
    if (g) em.node('Identity', [g], [], [out]);
    else em.node('ConstantOfShape', [em.i64(shape(p))], [attr.t('value', floatScalar(0))], [out]);
    graph.output.push(valueInfo(out, DataType.FLOAT, shape(p)));
    result.gradOutputs.set(p, out);
  }
  if (opts.learnScales) {
    for (const key of paramInputs) {
      const out = `qat.grad.scale:${key}`;
      const g = gradOf(scaleInputName(key));
      if (g) em.node('Identity', [g], [], [out]); else em.node('Identity', [em.f32(0)], [], [out]);
      graph.output.push(valueInfo(out, DataType.FLOAT, []));
      result.scaleGradOutputs.set(key, out);
    }
  }
  graph.node.push(...em.nodes);
  graph.initializer.push(...em.initializers);
  return result;
}

function gradientTensors(ops: readonly Op[], roots: readonly string[]): Set<string> {
  const requires = new Set<string>(roots);
  for (const op of ops) {
    if (op.kind === 'fq') {
      if (requires.has(op.input) || requires.has(op.s)) requires.add(op.output);
      continue;
    }
    const n = op.node;
    if (NON_DIFFERENTIABLE.has(n.opType)) continue;
    if (n.opType === 'Cast' && attrInt(n, 'to', 0) !== DataType.FLOAT) continue;
    if (differentiableInputs(n).some((i) => requires.has(n.input[i] ?? ''))) {
      for (const o of n.opType === 'Split' ? n.output : n.output.slice(0, 1)) if (o) requires.add(o);
    }
  }
  return requires;
}

/**
 * The float tensors of the forward graph whose static shapes the backward pass reads: everything on
 * a gradient path from the parameters, plus the activation inputs of Conv/Gemm/MatMul.
 */
export function tensorsNeedingShapes(model: ModelProto, params: readonly string[]): string[] {
  const g = model.graph!;
  const ops: Op[] = g.node.map((node) => ({ kind: 'node', node }));
  const req = gradientTensors(ops, params);
  const inits = new Set(g.initializer.map((t) => t.name));
  const inputs = new Set(g.input.map((i) => i.name));
  const out = new Set<string>();
  for (const n of g.node) {
    if (n.opType === 'Constant') continue;
    for (const o of n.output) if (o && req.has(o)) out.add(o);
    if (['Conv', 'Gemm', 'MatMul'].includes(n.opType)) for (const i of n.input.slice(0, 2)) if (i && !inits.has(i) && !inputs.has(i) && isProducedByNonConstant(g.node, i)) out.add(i);
  }
  return [...out];
}

function isProducedByNonConstant(nodes: readonly NodeProto[], t: string): boolean {
  const p = nodes.find((n) => n.output.includes(t));
  return !!p && p.opType !== 'Constant';
}

function floatScalar(v: number) {
  return makeTensor('value', DataType.FLOAT, [1], Float32Array.from([v]));
}

/** One backward rule per op type; each returns the gradient of every input (undefined: none). */
class BackwardRules {
  constructor(
    private readonly em: GraphEmitter,
    private readonly shape: (t: string) => number[],
    private readonly requires: (t: string) => boolean,
    private readonly inits: ReadonlyMap<string, TensorProto>,
  ) {}

  /** Sum a broadcast gradient back to `target`'s shape. */
  private unbroadcast(g: string, gShape: readonly number[], target: readonly number[]): string {
    if (sameShape(gShape, target)) return g;
    const r = gShape.length;
    const padded = [...Array(r - target.length).fill(1), ...target];
    const axes: number[] = [];
    for (let i = 0; i < r; i++) if (i < r - target.length || (padded[i] === 1 && gShape[i] !== 1)) axes.push(i);
    const s = axes.length ? this.em.op('ReduceSum', [g, this.em.i64(axes)], [attr.i('keepdims', 1)], 'unbroadcast') : g;
    return this.em.op('Reshape', [s, this.em.i64(target)]);
  }

  private transposeLast2(x: string, rank: number): string {
    const perm = Array.from({ length: rank }, (_, i) => i);
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
    return this.em.op('Transpose', [x], [attr.ints('perm', perm)]);
  }

  fakeQuant(f: { v: string; q: string; s: string; z: string; input: string; fq: ActivationFq }, g: string): [string, string | undefined] {
    const em = this.em;
    // STE: pass the gradient where x/s + z lies inside [qmin, qmax], zero where the clip saturates.
    const inside = em.op('And', [em.op('GreaterOrEqual', [f.v, em.f32(f.fq.qmin)]), em.op('LessOrEqual', [f.v, em.f32(f.fq.qmax)])], [], 'inside');
    const mask = em.op('Cast', [inside], [attr.i('to', DataType.FLOAT)], 'mask');
    const gx = em.op('Mul', [g, mask], [], 'fq_dx');
    if (!this.requires(f.s)) return [gx, undefined];
    // LSQ: d out / d s = (q - z) - mask * (v - z).
    const dyds = em.op('Sub', [em.op('Sub', [f.q, f.z]), em.op('Mul', [mask, em.op('Sub', [f.v, f.z])])], [], 'dyds');
    const gs = em.op('ReduceSum', [em.op('Mul', [g, dyds])], [attr.i('keepdims', 0)], 'fq_ds');
    return [gx, gs];
  }

  apply(n: NodeProto, gOuts: (string | undefined)[]): (string | undefined)[] {
    const em = this.em;
    const g = gOuts[0];
    const [a, b] = [n.input[0] ?? '', n.input[1] ?? ''];
    const need = (i: number) => !!n.input[i] && this.requires(n.input[i]!);
    const out = n.output[0]!;
    const unsupported = (why: string): never => {
      throw new StudioError('UNSUPPORTED_OP', `QAT cannot train through node ${quote(n.name)} (${n.opType}): ${why}. Supported ops: ${SUPPORTED_TRAINING_OPS.join(', ')}.`);
    };
    if (g === undefined && n.opType !== 'Split') return [];
    const gg = g as string;
    switch (n.opType) {
      case 'Identity': case 'Dropout':
        return [gg];
      case 'Cast':
        return [gg];
      case 'Sum': case 'Mean': {
        const k = n.opType === 'Mean' ? em.op('Mul', [gg, em.f32(1 / n.input.length)]) : gg;
        return n.input.map((x, i) => (need(i) ? this.unbroadcast(k, this.shape(out), this.shape(x)) : undefined));
      }
      case 'Add':
        return [need(0) ? this.unbroadcast(gg, this.shape(out), this.shape(a)) : undefined, need(1) ? this.unbroadcast(gg, this.shape(out), this.shape(b)) : undefined];
      case 'Sub':
        return [need(0) ? this.unbroadcast(gg, this.shape(out), this.shape(a)) : undefined, need(1) ? this.unbroadcast(em.op('Neg', [gg]), this.shape(out), this.shape(b)) : undefined];
      case 'Mul':
        return [
          need(0) ? this.unbroadcast(em.op('Mul', [gg, b]), this.shape(out), this.shape(a)) : undefined,
          need(1) ? this.unbroadcast(em.op('Mul', [gg, a]), this.shape(out), this.shape(b)) : undefined,
        ];
      case 'Div':
        return [
          need(0) ? this.unbroadcast(em.op('Div', [gg, b]), this.shape(out), this.shape(a)) : undefined,
          need(1) ? this.unbroadcast(em.op('Neg', [em.op('Mul', [gg, em.op('Div', [out, b])])]), this.shape(out), this.shape(b)) : undefined,
        ];
      case 'Pow': {
        if (need(1)) unsupported('the exponent depends on trained weights');
        const d = em.op('Mul', [b, em.op('Pow', [a, em.op('Sub', [b, em.f32(1)])])]);
        return [this.unbroadcast(em.op('Mul', [gg, d]), this.shape(out), this.shape(a))];
      }
      case 'Sqrt': return [em.op('Div', [em.op('Mul', [gg, em.f32(0.5)]), out])];
      case 'Exp': return [em.op('Mul', [gg, out])];
      case 'Log': return [em.op('Div', [gg, a])];
      case 'Neg': return [em.op('Neg', [gg])];
      case 'Relu': return [em.op('Where', [em.op('Greater', [a, em.f32(0)]), gg, em.f32(0)])];
      case 'Clip': {
        let inside: string | undefined;
        if (n.input[1]) inside = em.op('GreaterOrEqual', [a, n.input[1]]);
        if (n.input[2]) {
          const le = em.op('LessOrEqual', [a, n.input[2]]);
          inside = inside ? em.op('And', [inside, le]) : le;
        }
        return [inside ? em.op('Where', [inside, gg, em.f32(0)]) : gg];
      }
      case 'Sigmoid': return [em.op('Mul', [gg, em.op('Mul', [out, em.op('Sub', [em.f32(1), out])])])];
      case 'Tanh': return [em.op('Mul', [gg, em.op('Sub', [em.f32(1), em.op('Mul', [out, out])])])];
      case 'Erf': {
        const e = em.op('Exp', [em.op('Neg', [em.op('Mul', [a, a])])]);
        return [em.op('Mul', [gg, em.op('Mul', [e, em.f32(2 / Math.sqrt(Math.PI))])])];
      }
      case 'Softmax': {
        const axis = attrInt(n, 'axis', -1);
        const s = em.op('ReduceSum', [em.op('Mul', [gg, out]), em.i64([axis])], [attr.i('keepdims', 1)]);
        return [em.op('Mul', [out, em.op('Sub', [gg, s])])];
      }
      case 'LogSoftmax': {
        const axis = attrInt(n, 'axis', -1);
        const s = em.op('ReduceSum', [gg, em.i64([axis])], [attr.i('keepdims', 1)]);
        return [em.op('Sub', [gg, em.op('Mul', [em.op('Exp', [out]), s])])];
      }
      case 'Flatten': case 'Reshape': case 'Squeeze': case 'Unsqueeze':
        return [em.op('Reshape', [gg, em.i64(this.shape(a))])];
      case 'Expand':
        return [this.unbroadcast(gg, this.shape(out), this.shape(a))];
      case 'Transpose': {
        const rank = this.shape(a).length;
        const perm = attrInts(n, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
        const inv = new Array<number>(rank);
        perm.forEach((p, i) => { inv[p] = i; });
        return [em.op('Transpose', [gg], [attr.ints('perm', inv)])];
      }
      case 'Concat': {
        const rank = this.shape(out).length;
        let axis = attrInt(n, 'axis', 0);
        if (axis < 0) axis += rank;
        const sizes = n.input.map((i) => this.shape(i)[axis]!);
        return em.node('Split', [gg, em.i64(sizes)], [attr.i('axis', axis)], n.input.length, 'concat_grad');
      }
      case 'Split': {
        const rank = this.shape(a).length;
        let axis = attrInt(n, 'axis', 0);
        if (axis < 0) axis += rank;
        const parts = n.output.map((o, i) => gOuts[i] ?? em.op('ConstantOfShape', [em.i64(this.shape(o))], [attr.t('value', floatScalar(0))]));
        return [em.op('Concat', parts, [attr.i('axis', axis)])];
      }
      case 'Where':
        return [
          undefined,
          need(1) ? this.unbroadcast(em.op('Where', [a, gg, em.f32(0)]), this.shape(out), this.shape(n.input[1]!)) : undefined,
          need(2) ? this.unbroadcast(em.op('Where', [a, em.f32(0), gg]), this.shape(out), this.shape(n.input[2]!)) : undefined,
        ];
      case 'Gather': {
        if (attrInt(n, 'axis', 0) !== 0) unsupported('only Gather on axis 0 (embedding lookup) is trainable');
        const ds = this.shape(a);
        const idx = em.op('Reshape', [em.op('Cast', [b], [attr.i('to', DataType.INT64)]), em.i64([-1, 1])]);
        const upd = em.op('Reshape', [gg, em.i64([-1, ...ds.slice(1)])]);
        const zeros = em.op('ConstantOfShape', [em.i64(ds)], [attr.t('value', floatScalar(0))]);
        return [em.op('ScatterND', [zeros, idx, upd], [attr.s('reduction', 'add')], 'embedding_grad')];
      }
      case 'MatMul': {
        const as = this.shape(a), bs = this.shape(b), os = this.shape(out);
        if (as.length < 2 || bs.length < 2) unsupported('a 1-D MatMul operand');
        let ga: string | undefined, gb: string | undefined;
        if (need(0)) {
          const r = em.op('MatMul', [gg, this.transposeLast2(b, bs.length)]);
          const rs = [...os.slice(0, -2), as[as.length - 2]!, as[as.length - 1]!];
          ga = this.unbroadcast(r, rs, as);
        }
        if (need(1)) {
          if (bs.length === 2) {
            const k = as[as.length - 1]!, m = os[os.length - 1]!;
            const a2 = em.op('Reshape', [a, em.i64([-1, k])]);
            const g2 = em.op('Reshape', [gg, em.i64([-1, m])]);
            gb = em.op('MatMul', [em.op('Transpose', [a2], [attr.ints('perm', [1, 0])]), g2], [], 'dW');
          } else {
            const r = em.op('MatMul', [this.transposeLast2(a, as.length), gg]);
            const rs = [...os.slice(0, -2), bs[bs.length - 2]!, bs[bs.length - 1]!];
            gb = this.unbroadcast(r, rs, bs);
          }
        }
        return [ga, gb];
      }
      case 'Gemm': {
        const alpha = attrFloat(n, 'alpha', 1), beta = attrFloat(n, 'beta', 1);
        const tA = attrInt(n, 'transA', 0), tB = attrInt(n, 'transB', 0);
        const ap = tA ? em.op('Transpose', [a], [attr.ints('perm', [1, 0])]) : a;
        const bp = tB ? em.op('Transpose', [b], [attr.ints('perm', [1, 0])]) : b;
        const ga0 = alpha !== 1 ? em.op('Mul', [gg, em.f32(alpha)]) : gg;
        let ga: string | undefined, gb: string | undefined, gc: string | undefined;
        if (need(0)) {
          const d = em.op('MatMul', [ga0, em.op('Transpose', [bp], [attr.ints('perm', [1, 0])])]);
          ga = tA ? em.op('Transpose', [d], [attr.ints('perm', [1, 0])]) : d;
        }
        if (need(1)) {
          const d = em.op('MatMul', [em.op('Transpose', [ap], [attr.ints('perm', [1, 0])]), ga0], [], 'dW');
          gb = tB ? em.op('Transpose', [d], [attr.ints('perm', [1, 0])]) : d;
        }
        if (need(2)) gc = this.unbroadcast(beta !== 1 ? em.op('Mul', [gg, em.f32(beta)]) : gg, this.shape(out), this.shape(n.input[2]!));
        return [ga, gb, gc];
      }
      case 'Conv': return this.conv(n, gg, need, unsupported);
      case 'MaxPool': {
        const xs = this.shape(a);
        const numel = xs.reduce((p, q) => p * q, 1);
        const zeros = em.op('ConstantOfShape', [em.i64([numel])], [attr.t('value', floatScalar(0))]);
        const idx = em.op('Reshape', [n.output[1]!, em.i64([-1])]);
        const upd = em.op('Reshape', [gg, em.i64([-1])]);
        const sc = em.op('ScatterElements', [zeros, idx, upd], [attr.i('axis', 0), attr.s('reduction', 'add')], 'maxpool_grad');
        return [em.op('Reshape', [sc, em.i64(xs)])];
      }
      case 'AveragePool': {
        const xs = this.shape(a), os = this.shape(out);
        const k = attrInts(n, 'kernel_shape')!;
        const sp = k.length;
        const strides = attrInts(n, 'strides') ?? k.map(() => 1);
        const pads = attrInts(n, 'pads') ?? new Array(2 * sp).fill(0);
        if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET' && pads.some((p) => p !== 0)) unsupported('auto_pad with padding');
        if (pads.some((p) => p !== 0) && attrInt(n, 'count_include_pad', 0) === 0) unsupported('padding without count_include_pad');
        const C = xs[1]!;
        const kn = k.reduce((p, q) => p * q, 1);
        const w = em.f32(new Array(C * kn).fill(1 / kn), [C, 1, ...k]);
        const outPad = k.map((kk, i) => xs[2 + i]! - (strides[i]! * (os[2 + i]! - 1) + kk - pads[i]! - pads[i + sp]!));
        if (outPad.some((p, i) => p < 0 || p >= Math.max(strides[i]!, 1))) unsupported(`cannot invert the pooling geometry (output padding ${quote(outPad)})`);
        return [em.op('ConvTranspose', [gg, w], [attr.ints('strides', strides), attr.ints('pads', pads), attr.ints('output_padding', outPad), attr.i('group', C)], 'avgpool_grad')];
      }
      case 'GlobalAveragePool': {
        const xs = this.shape(a);
        const hw = xs.slice(2).reduce((p, q) => p * q, 1);
        return [em.op('Div', [em.op('Expand', [gg, em.i64(xs)]), em.f32(hw)])];
      }
      case 'LayerNormalization': return this.layerNorm(n, gg, need);
      case 'BatchNormalization': {
        if (attrInt(n, 'training_mode', 0) !== 0) unsupported('BatchNormalization in training mode');
        const vals = n.input.slice(1, 5).map((i) => this.inits.get(i));
        if (vals.some((v) => !v)) unsupported('its scale, bias, mean and variance must be constant initializers (BN is frozen during QAT)');
        const [scale, , , variance] = vals.map((v) => tensorToFloat32(v!));
        const eps = attrFloat(n, 'epsilon', 1e-5);
        const mul = Array.from(scale!, (s, c) => s / Math.sqrt(variance![c]! + eps));
        const xs = this.shape(a);
        const dims = xs.map((d, i) => (i === 1 ? d : 1));
        return [em.op('Mul', [gg, em.f32(mul, dims)])];
      }
      default:
        return unsupported('no backward rule for this op type');
    }
  }

  private conv(n: NodeProto, g: string, need: (i: number) => boolean, unsupported: (why: string) => never): (string | undefined)[] {
    const em = this.em;
    const [x, w] = [n.input[0]!, n.input[1]!];
    const xs = this.shape(x), ws = this.shape(w), os = this.shape(n.output[0]!);
    const sp = xs.length - 2;
    const k = ws.slice(2);
    const strides = attrInts(n, 'strides') ?? k.map(() => 1);
    const dil = attrInts(n, 'dilations') ?? k.map(() => 1);
    const pads = attrInts(n, 'pads') ?? new Array(2 * sp).fill(0);
    const group = attrInt(n, 'group', 1);
    if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET' && attrString(n, 'auto_pad', 'NOTSET') !== 'VALID') unsupported(`auto_pad ${quote(attrString(n, 'auto_pad', ''))}: export the model with explicit pads`);
    let gx: string | undefined, gw: string | undefined, gb: string | undefined;
    const spatial = Array.from({ length: sp }, (_, i) => i + 2);
    if (need(0)) {
      const flipPads = k.flatMap((_, i) => [(k[i]! - 1) * dil[i]! - pads[i]!]).concat(k.map((_, i) => (k[i]! - 1) * dil[i]! - pads[i + sp]!));
      if (group === 1 && strides.every((st) => st === 1) && flipPads.every((p) => p >= 0)) {
        // Stride 1: the input gradient is a plain Conv of g with the flipped, channel-swapped kernel
        // (ORT's Conv is much faster than its ConvTranspose).
        let wf = em.op('Transpose', [w], [attr.ints('perm', [1, 0, ...spatial])]);
        wf = em.op('Slice', [wf, em.i64(k.map(() => -1)), em.i64(k.map(() => -(2 ** 62))), em.i64(spatial), em.i64(k.map(() => -1))], [], 'flip');
        gx = em.op('Conv', [g, wf], [attr.ints('dilations', dil), attr.ints('pads', flipPads)], 'conv_dx');
      } else {
        const outPad = k.map((kk, i) => xs[2 + i]! - (strides[i]! * (os[2 + i]! - 1) + (kk - 1) * dil[i]! + 1 - pads[i]! - pads[i + sp]!));
        if (outPad.some((p, i) => p < 0 || p >= Math.max(strides[i]!, dil[i]!))) unsupported(`cannot invert the convolution geometry (output padding ${quote(outPad)})`);
        gx = em.op('ConvTranspose', [g, w], [attr.ints('strides', strides), attr.ints('dilations', dil), attr.ints('pads', pads), attr.ints('output_padding', outPad), attr.i('group', group)], 'conv_dx');
      }
    }
    if (need(1)) {
      if (group !== 1) unsupported(`weight gradient of a grouped convolution (group=${group})`);
      // dW[co, ci, k] = sum_n sum_p g[n, co, p] * X_k[n, ci, p], X_k the input shifted by kernel tap k:
      // the K shifted views are strided Slices of the padded input, stacked on the channel axis, then
      // one batched MatMul against g (MLAS GEMM), summed over the batch.
      const N = xs[0]!, Ci = xs[1]!, Co = ws[0]!;
      const P = os.slice(2).reduce((a2, b2) => a2 + 0 * b2, 0) + os.slice(2).reduce((a2, b2) => a2 * b2, 1);
      const padded = pads.some((p) => p !== 0)
        ? em.op('Pad', [x, em.i64([0, 0, ...pads.slice(0, sp), 0, 0, ...pads.slice(sp)])], [], 'pad')
        : x;
      const taps: number[][] = [[]];
      for (let i = 0; i < sp; i++) { const next: number[][] = []; for (const t of taps) for (let j = 0; j < k[i]!; j++) next.push([...t, j]); taps.splice(0, taps.length, ...next); }
      const gT = em.op('Transpose', [em.op('Reshape', [g, em.i64([N, Co, P])])], [attr.ints('perm', [0, 2, 1])]);
      const perTap = taps.map((tap) => {
        const starts = tap.map((j, i) => j * dil[i]!);
        const ends = tap.map((j, i) => j * dil[i]! + strides[i]! * (os[2 + i]! - 1) + 1);
        const v = em.op('Slice', [padded, em.i64(starts), em.i64(ends), em.i64(spatial), em.i64(strides)], [], 'tap');
        return em.op('MatMul', [em.op('Reshape', [v, em.i64([N, Ci, P])]), gT], [], 'conv_dw'); // [N, Ci, Co]
      });
      const prod = perTap.length > 1 ? em.op('Concat', perTap, [attr.i('axis', 1)], 'taps') : perTap[0]!; // [N, K*Ci, Co]
      const sum = em.op('ReduceSum', [prod, em.i64([0])], [attr.i('keepdims', 0)]); // [K*Ci, Co]
      const K = taps.length;
      const r3 = em.op('Transpose', [em.op('Reshape', [sum, em.i64([K, Ci, Co])])], [attr.ints('perm', [2, 1, 0])]); // [Co, Ci, K]
      gw = em.op('Reshape', [r3, em.i64(ws)], [], 'conv_dw');
    }
    if (n.input[2] && need(2)) {
      gb = em.op('ReduceSum', [g, em.i64([0, ...Array.from({ length: sp }, (_, i) => i + 2)])], [attr.i('keepdims', 0)], 'conv_db');
    }
    return [gx, gw, gb];
  }

  private layerNorm(n: NodeProto, g: string, need: (i: number) => boolean): (string | undefined)[] {
    const em = this.em;
    const x = n.input[0]!;
    const xs = this.shape(x);
    let axis = attrInt(n, 'axis', -1);
    if (axis < 0) axis += xs.length;
    const normAxes = xs.map((_, i) => i).filter((i) => i >= axis);
    const count = normAxes.reduce((p, i) => p * xs[i]!, 1);
    const [mean, invstd] = [n.output[1]!, n.output[2]!];
    const xhat = em.op('Mul', [em.op('Sub', [x, mean]), invstd], [], 'xhat');
    const os = this.shape(n.output[0]!);
    const gScale = need(1) ? this.unbroadcast(em.op('Mul', [g, xhat]), os, this.shape(n.input[1]!)) : undefined;
    const gBias = n.input[2] && need(2) ? this.unbroadcast(g, os, this.shape(n.input[2]!)) : undefined;
    let gx: string | undefined;
    if (need(0)) {
      const dxhat = em.op('Mul', [g, n.input[1]!]);
      const ax = em.i64(normAxes);
      const m1 = em.op('Mul', [em.op('ReduceSum', [dxhat, ax], [attr.i('keepdims', 1)]), em.f32(1 / count)]);
      const m2 = em.op('Mul', [em.op('ReduceSum', [em.op('Mul', [dxhat, xhat]), ax], [attr.i('keepdims', 1)]), em.f32(1 / count)]);
      gx = em.op('Mul', [invstd, em.op('Sub', [em.op('Sub', [dxhat, m1]), em.op('Mul', [xhat, m2])])], [], 'ln_dx');
    }
    return [gx, gScale, gBias];
  }
}

/**
 * Float initializers the training updates: every float tensor of two or more elements that some node
 * reads at a differentiable input (weights, biases, LayerNorm scales, embedding tables); not shape
 * constants, exponents, clip bounds or the statistics of a frozen BatchNormalization.
 */
export function trainableInitializers(model: ModelProto): string[] {
  const g = model.graph!;
  const floats = new Map(g.initializer.filter((t) => t.dataType === DataType.FLOAT && tensorDims(t).reduce((a, b) => a * b, 1) >= 2).map((t) => [t.name, t]));
  const out = new Set<string>();
  for (const n of g.node) {
    for (const i of differentiableInputs(n)) {
      const name = n.input[i];
      if (name && floats.has(name)) out.add(name);
    }
  }
  return g.initializer.map((t) => t.name).filter((n) => out.has(n));
}
