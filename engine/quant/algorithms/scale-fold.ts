// Per-input-channel rescaling shared by AWQ and SmoothQuant: X·W = (X / s)·(diag(s)·W). The 1/s goes
// into whatever produces X when that is a per-channel affine op only these layers read:
//   LayerNormalization (scale and bias), RMSNorm written as ops (…Div/Mul by a [K] weight), a decomposed
//   norm's Mul(·, w) / Add(·, b); otherwise an explicit Mul(X, 1/s) is inserted before the layers.
// s multiplies the rows k of every reading layer's weight (MatMul [K, N] layout).
import { create, NodeProtoSchema, type ModelProto, type NodeProto, type TensorProto } from '../../onnx/proto';
import { DataType, makeTensor, makeFloatTensor, tensorDims, tensorToFloat32 } from '../../onnx/tensor';
import type { LinearLayer } from './linear-layers';

export type Absorber =
  | { kind: 'layernorm'; node: NodeProto; scale: string; bias?: string }
  | { kind: 'mul'; node: NodeProto; weight: string; bias?: string }
  | { kind: 'insert' };

function perChannelInit(inits: Map<string, TensorProto>, name: string, K: number): boolean {
  const t = inits.get(name);
  if (!t || t.dataType !== DataType.FLOAT) return false;
  const d = tensorDims(t);
  return d.length >= 1 && d[d.length - 1] === K && d.slice(0, -1).every((x) => x === 1);
}

/** Who can absorb 1/s for activation `x` read by exactly `layers` (K channels). */
export function findAbsorber(model: ModelProto, x: string, layers: LinearLayer[], K: number): Absorber {
  const g = model.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const readers = g.node.filter((n) => n.input.includes(x));
  const layerNodes = new Set(layers.flatMap((l) => l.nodes));
  if (readers.some((n) => !layerNodes.has(n)) || g.output.some((o) => o.name === x)) return { kind: 'insert' };
  const producer = g.node.find((n) => n.output.includes(x));
  if (!producer) return { kind: 'insert' };
  // Every initializer we touch must be read by this producer only.
  const soleUse = (name: string) => g.node.filter((n) => n.input.includes(name)).length === 1;
  if (producer.opType === 'LayerNormalization' && producer.output[0] === x) {
    const axis = Number(producer.attribute.find((a) => a.name === 'axis')?.i ?? -1);
    const scale = producer.input[1]!;
    const bias = producer.input[2] || undefined;
    if (axis === -1 && perChannelInit(inits, scale, K) && soleUse(scale) && (!bias || (perChannelInit(inits, bias, K) && soleUse(bias)))) {
      return { kind: 'layernorm', node: producer, scale, bias };
    }
  }
  if (producer.opType === 'Mul') {
    const w = producer.input.find((i) => perChannelInit(inits, i, K) && soleUse(i));
    if (w) return { kind: 'mul', node: producer, weight: w };
  }
  if (producer.opType === 'Add') {
    // Decomposed norm: Add(Mul(·, w), b)
    const b = producer.input.find((i) => perChannelInit(inits, i, K) && soleUse(i));
    const other = producer.input.find((i) => i !== b);
    const mul = other ? g.node.find((n) => n.output.includes(other)) : undefined;
    const mulReaders = other ? g.node.filter((n) => n.input.includes(other)) : [];
    if (b && mul?.opType === 'Mul' && mulReaders.length === 1) {
      const w = mul.input.find((i) => perChannelInit(inits, i, K) && soleUse(i));
      if (w) return { kind: 'mul', node: mul, weight: w, bias: b };
    }
  }
  return { kind: 'insert' };
}

function divideInit(model: ModelProto, name: string, s: Float32Array, baseDir?: string): void {
  const g = model.graph!;
  const i = g.initializer.findIndex((t) => t.name === name);
  const t = g.initializer[i]!;
  const v = tensorToFloat32(t, baseDir);
  const K = s.length;
  for (let j = 0; j < v.length; j++) v[j] = v[j]! / s[j % K]!;
  g.initializer[i] = makeFloatTensor(name, t.dataType, tensorDims(t), v); // keeps a float16 model float16
}

/**
 * Apply X → X/s, W → diag(s)·W in place on the model: the absorber's parameters (or a new Mul) and
 * every layer's weight initializer. Returns what absorbed the scales. `scaleWeights: false` leaves the
 * layers' weights as they are, for a caller that rounds diag(s)·W itself and replaces them (AWQ: the
 * scaled float weights written inline would hold the whole model in memory again).
 */
export function applyInputScale(model: ModelProto, x: string, layers: LinearLayer[], s: Float32Array, baseDir?: string, opts: { scaleWeights?: boolean } = {}): Absorber {
  const g = model.graph!;
  const K = s.length;
  const abs = findAbsorber(model, x, layers, K);
  if (abs.kind === 'layernorm') {
    divideInit(model, abs.scale, s, baseDir);
    if (abs.bias) divideInit(model, abs.bias, s, baseDir);
  } else if (abs.kind === 'mul') {
    divideInit(model, abs.weight, s, baseDir);
    if (abs.bias) divideInit(model, abs.bias, s, baseDir);
  } else {
    const names = new Set([...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => n.output)]);
    let base = `${x}_smooth`;
    for (let i = 1; names.has(base); i++) base = `${x}_smooth_${i}`;
    const inv = s.map((v) => 1 / v);
    const wt = g.initializer.find((t) => t.name === layers[0]?.weight)?.dataType ?? DataType.FLOAT;
    g.initializer.push(makeFloatTensor(`${base}_inv_s`, wt, [K], inv));
    const mul = create(NodeProtoSchema, { name: `${base}_Mul`, opType: 'Mul', input: [x, `${base}_inv_s`], output: [base] });
    const layerNodes = new Set(layers.flatMap((l) => l.nodes));
    let first = g.node.length;
    g.node.forEach((n, idx) => { if (layerNodes.has(n)) { first = Math.min(first, idx); n.input[0] = base; } });
    g.node.splice(first, 0, mul);
  }
  if (opts.scaleWeights === false) return abs;
  for (const l of layers) {
    const i = g.initializer.findIndex((t) => t.name === l.weight);
    const t = g.initializer[i]!;
    const v = tensorToFloat32(t, baseDir);
    // Stored [K, N] (kn) or [N, K].
    if (l.kn) { for (let k = 0; k < K; k++) for (let n = 0; n < l.rows; n++) v[k * l.rows + n]! *= s[k]!; }
    else { for (let n = 0; n < l.rows; n++) for (let k = 0; k < K; k++) v[n * K + k]! *= s[k]!; }
    g.initializer[i] = makeFloatTensor(l.weight, t.dataType, tensorDims(t), v);
  }
  return abs;
}

/** Group layers by the activation they read; only groups whose layers all read that one activation and share their weight with nothing else. */
export function groupsByInput(layers: LinearLayer[]): { input: string; layers: LinearLayer[] }[] {
  const m = new Map<string, LinearLayer[]>();
  const bad = new Set<string>();
  for (const l of layers) {
    const ins = new Set(l.inputs);
    if (ins.size !== 1 || l.sharedWith.length > 0) { for (const i of ins) bad.add(i); continue; }
    const x = l.inputs[0]!;
    if (!m.has(x)) m.set(x, []);
    m.get(x)!.push(l);
  }
  return [...m.entries()].filter(([x]) => !bad.has(x)).map(([input, ls]) => ({ input, layers: ls }));
}
