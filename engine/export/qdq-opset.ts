// Raise a model's default-domain opset (QuantizeLinear needs 10, per-channel axis 13, 4-bit types and
// blocked scales 21), converting the ops whose signature changed on the way: attributes that became
// inputs (Slice 10; Clip, Pad 11; Squeeze, Unsqueeze, Split, ReduceSum 13; the other Reduce* 18),
// Softmax-family axis semantics (13) and Split's num_outputs (18). Ops we cannot convert faithfully
// stop the upgrade with an error naming the node (DFT: its axis became an input at 20).
import { AttributeProtoSchema, AttributeType, create, DataType, type GraphProto, type ModelProto, type NodeProto } from '../onnx/proto';
import { makeTensor } from '../onnx/tensor';
import { StudioError, quote } from '../errors';
import { GraphIndex, attr, intAttr, makeNode, onnxOpset } from './qdq-graph';

const REDUCE_18 = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];
const UNCONVERTIBLE: Record<string, number> = { Upsample: 10, Scatter: 11, GroupNormalization: 21, Resize: 11, DFT: 20 };

/** Whether upgradeOpset(model, target) would succeed (it edits in place, so callers that may skip ask first). */
export function canUpgradeOpset(model: ModelProto, target: number): boolean {
  const from = onnxOpset(model);
  if (from >= target) return true;
  if (from < 7) return false;
  const ok = (g: GraphProto): boolean => g.node.every((n) => {
    for (const a of n.attribute) for (const sg of [...(a.g ? [a.g] : []), ...a.graphs]) if (!ok(sg)) return false;
    if (n.domain !== '' && n.domain !== 'ai.onnx') return true;
    const v = UNCONVERTIBLE[n.opType];
    return v === undefined || !(from < v && target >= v);
  });
  return ok(model.graph!);
}

export function upgradeOpset(model: ModelProto, target: number): void {
  const from = onnxOpset(model);
  if (from >= target) return;
  if (from < 7) throw new StudioError('BAD_MODEL', `Model opset ${from} is too old to convert to opset ${target} (need 7 or later).`);
  convertGraph(model.graph!, from, target);
  for (const o of model.opsetImport) if (o.domain === '' || o.domain === 'ai.onnx') o.version = BigInt(target);
  if (model.irVersion < 10n && target >= 21) model.irVersion = 10n;
  else if (model.irVersion < 9n && target >= 19) model.irVersion = 9n;
  else if (model.irVersion < 7n) model.irVersion = 7n;
}

function convertGraph(g: GraphProto, from: number, target: number): void {
  const idx = new GraphIndex(g);
  const out: NodeProto[] = [];
  const i64 = (base: string, values: number[]) => {
    const name = idx.unique(base);
    g.initializer.push(makeTensor(name, DataType.INT64, [values.length], BigInt64Array.from(values.map(BigInt))));
    return name;
  };
  const f32 = (base: string, v: number) => {
    const name = idx.unique(base);
    g.initializer.push(makeTensor(name, DataType.FLOAT, [], Float32Array.of(v)));
    return name;
  };
  const ints = (n: NodeProto, name: string) => attr(n, name)?.ints.map(Number);
  const dropAttrs = (n: NodeProto, names: string[]) => { n.attribute = n.attribute.filter((x) => !names.includes(x.name)); };
  const crosses = (v: number) => from < v && target >= v;

  for (const n of g.node) {
    for (const a of n.attribute) {
      if (a.g) convertGraph(a.g, from, target);
      for (const sg of a.graphs) convertGraph(sg, from, target);
    }
    if (n.domain !== '' && n.domain !== 'ai.onnx') { out.push(n); continue; }
    const blocker = UNCONVERTIBLE[n.opType];
    if (blocker !== undefined && crosses(blocker)) {
      throw new StudioError('UNSUPPORTED_OP', `Node ${quote(n.name)} (${n.opType}) changed meaning at opset ${blocker}; the model cannot be raised from opset ${from} to ${target}, which this quantization needs.`);
    }
    const op = n.opType;
    if (op === 'Slice' && crosses(10)) {
      const starts = ints(n, 'starts')!, ends = ints(n, 'ends')!, axes = ints(n, 'axes');
      n.input.push(i64(`${n.name}_starts`, starts), i64(`${n.name}_ends`, ends));
      if (axes) n.input.push(i64(`${n.name}_axes`, axes));
      dropAttrs(n, ['starts', 'ends', 'axes']);
    } else if (op === 'Clip' && crosses(11)) {
      const lo = attr(n, 'min'), hi = attr(n, 'max');
      n.input.push(lo ? f32(`${n.name}_min`, lo.f) : '');
      if (hi) n.input.push(f32(`${n.name}_max`, hi.f));
      while (n.input.length > 1 && n.input[n.input.length - 1] === '') n.input.pop();
      dropAttrs(n, ['min', 'max']);
    } else if (op === 'Pad' && crosses(11)) {
      const pads = ints(n, 'pads')!, value = attr(n, 'value');
      n.input.push(i64(`${n.name}_pads`, pads));
      if (value && value.f !== 0) n.input.push(f32(`${n.name}_value`, value.f));
      dropAttrs(n, ['pads', 'value']);
    } else if ((op === 'Squeeze' || op === 'Unsqueeze' || op === 'ReduceSum') && crosses(13)) {
      const axes = ints(n, 'axes');
      if (axes) n.input[1] = i64(`${n.name}_axes`, axes);
      dropAttrs(n, ['axes']);
    } else if (op === 'Split' && crosses(13)) {
      const split = ints(n, 'split');
      if (split) n.input[1] = i64(`${n.name}_split`, split);
      dropAttrs(n, ['split']);
    } else if (REDUCE_18.includes(op) && crosses(18)) {
      const axes = ints(n, 'axes');
      if (axes) n.input[1] = i64(`${n.name}_axes`, axes);
      dropAttrs(n, ['axes']);
    } else if ((op === 'Softmax' || op === 'LogSoftmax' || op === 'Hardmax') && crosses(13)) {
      const axis = attr(n, 'axis') ? Number(attr(n, 'axis')!.i) : 1;
      if (axis !== -1) {
        // Old semantics: coerce to 2-D at `axis`, normalise the flattened tail, restore the shape.
        const x = n.input[0]!, y = n.output[0]!;
        const flat = idx.unique(`${x}_flat2d`), sm = idx.unique(`${y}_2d`), shape = idx.unique(`${x}_shape`);
        out.push(makeNode('Shape', [x], [shape], idx.unique(`${n.name}_Shape`)));
        out.push(makeNode('Flatten', [x], [flat], idx.unique(`${n.name}_Flatten`), [intAttr('axis', axis)]));
        n.input[0] = flat; n.output[0] = sm;
        dropAttrs(n, ['axis']);
        n.attribute.push(intAttr('axis', -1));
        out.push(n);
        out.push(makeNode('Reshape', [sm, shape], [y], idx.unique(`${n.name}_Reshape`)));
        continue;
      }
    }
    if (op === 'GridSample' && crosses(20)) {
      // opset 20 renamed the modes: bilinear -> linear, bicubic -> cubic.
      const mode = attr(n, 'mode');
      const s = mode ? new TextDecoder().decode(mode.s) : 'bilinear';
      const renamed = s === 'bilinear' ? 'linear' : s === 'bicubic' ? 'cubic' : s;
      if (mode) mode.s = new TextEncoder().encode(renamed);
      else n.attribute.push(create(AttributeProtoSchema, { name: 'mode', type: AttributeType.STRING, s: new TextEncoder().encode(renamed) }));
    }
    if (op === 'Split' && crosses(18) && (!n.input[1])) {
      if (!attr(n, 'num_outputs')) n.attribute.push(intAttr('num_outputs', n.output.length));
    }
    out.push(n);
  }
  g.node = out;
}
