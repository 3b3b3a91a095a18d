// Opset lookup and upgrade. Quantization needs opset >= 13 (per-channel Q/DQ) or 21 (int4, blocks),
// while exporters still write 9-11 (PP-OCR is opset 9). The upgrade rewrites, in every graph, the
// ops whose signature changed between the versions (attributes that became inputs, Softmax's 2-D
// coercion) and refuses, naming the node, the few it cannot convert exactly.
import { StudioError, quote } from '../errors';
import { create, NodeProtoSchema, AttributeProtoSchema, AttributeType, OperatorSetIdProtoSchema, type ModelProto, type NodeProto, type GraphProto, type AttributeProto } from './proto';
import { makeTensor, DataType, dataTypeName } from './tensor';
import { walkGraphs, nameAllocator, tensorInfo } from './graph';

const isDefaultDomain = (d: string) => d === '' || d === 'ai.onnx';

export function opsetVersion(model: ModelProto, domain = ''): number {
  const e = model.opsetImport.find((o) => (isDefaultDomain(domain) ? isDefaultDomain(o.domain) : o.domain === domain));
  return e ? Number(e.version) : 0;
}

/** Lowest IR version that may carry the opset (onnx/helper.py VERSION_TABLE). */
export function irVersionFor(opset: number): number {
  if (opset <= 8) return 3;
  if (opset === 9) return 4;
  if (opset === 10) return 5;
  if (opset === 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

export const MAX_KNOWN_OPSET = 23;

export interface OpsetChange { node: string; opType: string; change: string }

const attr = (n: NodeProto, name: string): AttributeProto | undefined => n.attribute.find((a) => a.name === name);
const dropAttr = (n: NodeProto, name: string) => { n.attribute = n.attribute.filter((a) => a.name !== name); };
const intAttr = (name: string, v: number) => create(AttributeProtoSchema, { name, type: AttributeType.INT, i: BigInt(v) });
const REDUCE_18 = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

/** Upgrade the default-domain opset to `target` in place. Returns what changed. */
export function upgradeOpset(model: ModelProto, target: number): { from: number; to: number; changes: OpsetChange[] } {
  const from = opsetVersion(model);
  if (!model.graph) throw new StudioError('BAD_MODEL', 'Model has no graph.');
  if (!Number.isInteger(target) || target > MAX_KNOWN_OPSET) throw new StudioError('BAD_ARGUMENT', `Opset ${quote(target)} is not one we can target (max ${MAX_KNOWN_OPSET}).`);
  if (from >= target) return { from, to: from, changes: [] };
  if (from < 7) throw new StudioError('BAD_MODEL', `Model uses opset ${from}; upgrading from below opset 7 (legacy broadcast attributes) is not supported.`);
  const fresh = nameAllocator(model);
  const changes: OpsetChange[] = [];
  for (const { graph } of walkGraphs(model.graph)) {
    for (const node of [...graph.node]) {
      const c = upgradeNode(graph, node, from, target, fresh);
      if (c) changes.push({ node: node.name || node.output[0] || '?', opType: node.opType, change: c });
    }
  }
  const entry = model.opsetImport.find((o) => isDefaultDomain(o.domain));
  if (entry) entry.version = BigInt(target);
  else model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(target) }));
  if (model.irVersion < BigInt(irVersionFor(target))) model.irVersion = BigInt(irVersionFor(target));
  return { from, to: target, changes };
}

function crosses(from: number, to: number, v: number) { return from < v && to >= v; }

function upgradeNode(graph: GraphProto, node: NodeProto, from: number, to: number, fresh: (b: string) => string): string | undefined {
  const label = node.name || node.output[0] || node.opType;
  const addInit = (suffix: string, dataType: number, dims: number[], data: Int32Array | Float32Array | BigInt64Array | Uint16Array | Float64Array) => {
    const name = fresh(`${label}_${suffix}`);
    graph.initializer.push(makeTensor(name, dataType, dims, data));
    return name;
  };
  const intsInput = (attrName: string) => {
    const a = attr(node, attrName);
    if (!a) return undefined;
    dropAttr(node, attrName);
    return addInit(attrName, DataType.INT64, [a.ints.length], BigInt64Array.from(a.ints));
  };
  /** A float scalar in the element type of the node's first input, when declared. */
  const scalarLike = (suffix: string, v: number) => {
    const t = tensorInfo(graph, node.input[0] ?? '')?.elemType ?? DataType.FLOAT;
    if (t === DataType.FLOAT) return addInit(suffix, t, [], Float32Array.of(v));
    if (t === DataType.DOUBLE) return addInit(suffix, t, [], Float64Array.of(v));
    throw new StudioError('UNSUPPORTED_OP', `Cannot upgrade ${node.opType} node ${quote(label)}: its input type ${dataTypeName[t] ?? t} needs a typed ${suffix} constant.`);
  };
  const setInput = (idx: number, name: string) => { while (node.input.length < idx) node.input.push(''); node.input[idx] = name; };

  switch (node.opType) {
    case 'Upsample':
      if (to >= 10) throw new StudioError('UNSUPPORTED_OP', `Node ${quote(label)}: Upsample is deprecated from opset 10 and is not converted to Resize automatically.`);
      return undefined;
    case 'Resize':
      if (crosses(from, to, 11)) throw new StudioError('UNSUPPORTED_OP', `Node ${quote(label)}: Resize-10 changes meaning in opset 11 (roi input, coordinate modes) and is not converted automatically.`);
      return undefined;
    case 'Scatter':
      if (crosses(from, to, 11)) { node.opType = 'ScatterElements'; return 'Scatter -> ScatterElements'; }
      return undefined;
    case 'Clip':
      if (crosses(from, to, 11)) {
        const lo = attr(node, 'min'), hi = attr(node, 'max');
        dropAttr(node, 'min'); dropAttr(node, 'max');
        if (lo) setInput(1, scalarLike('min', lo.f));
        if (hi) setInput(2, scalarLike('max', hi.f));
        return 'min/max attributes -> inputs';
      }
      return undefined;
    case 'Pad':
      if (crosses(from, to, 11)) {
        const pads = intsInput('pads');
        const value = attr(node, 'value');
        dropAttr(node, 'value');
        if (!pads) throw new StudioError('BAD_MODEL', `Pad node ${quote(label)} has no pads attribute.`);
        setInput(1, pads);
        if (value && value.f !== 0) setInput(2, scalarLike('value', value.f));
        return 'pads/value attributes -> inputs';
      }
      return undefined;
    case 'Slice':
      if (crosses(from, to, 10)) {
        const starts = intsInput('starts'), ends = intsInput('ends'), axes = intsInput('axes');
        if (!starts || !ends) throw new StudioError('BAD_MODEL', `Slice node ${quote(label)} lacks starts/ends.`);
        setInput(1, starts); setInput(2, ends);
        if (axes) setInput(3, axes);
        return 'starts/ends/axes attributes -> inputs';
      }
      return undefined;
    case 'TopK':
      if (crosses(from, to, 10)) {
        const k = attr(node, 'k');
        dropAttr(node, 'k');
        setInput(1, addInit('k', DataType.INT64, [1], BigInt64Array.of(k?.i ?? 0n)));
        return 'k attribute -> input';
      }
      return undefined;
    case 'Squeeze': case 'Unsqueeze': case 'ReduceSum':
      if (crosses(from, to, 13)) {
        const axes = intsInput('axes');
        if (axes) { setInput(1, axes); return 'axes attribute -> input'; }
      }
      return undefined;
    case 'Split':
      if (crosses(from, to, 13)) {
        const split = intsInput('split');
        if (split) { setInput(1, split); return 'split attribute -> input'; }
      }
      if (crosses(from, to, 18) && node.input.length < 2 && !attr(node, 'num_outputs')) {
        node.attribute.push(intAttr('num_outputs', node.output.length));
        return 'num_outputs added';
      }
      return undefined;
    case 'Dropout':
      if (crosses(from, to, 12) && attr(node, 'ratio')) { dropAttr(node, 'ratio'); return 'ratio attribute dropped (inference)'; }
      return undefined;
    case 'Softmax': case 'LogSoftmax': case 'Hardmax':
      if (crosses(from, to, 13)) return upgradeSoftmax(graph, node, label, fresh);
      return undefined;
  }
  if (REDUCE_18.includes(node.opType) && crosses(from, to, 18)) {
    const axes = intsInput('axes');
    if (axes) { setInput(1, axes); return 'axes attribute -> input'; }
  }
  return undefined;
}

/** Before opset 13, Softmax(axis=a) flattened to 2-D at a. Exact rewrite: keep it when a is the
 *  last axis (declared rank), else Flatten(a) -> Softmax(-1) -> Reshape(Shape(x)). */
function upgradeSoftmax(graph: GraphProto, node: NodeProto, label: string, fresh: (b: string) => string): string {
  const a = attr(node, 'axis');
  const axis = a ? Number(a.i) : 1;
  const rank = tensorInfo(graph, node.input[0]!)?.shape?.length;
  if (axis === -1 || (rank !== undefined && (axis === rank - 1 || axis === -1))) {
    dropAttr(node, 'axis');
    node.attribute.push(intAttr('axis', axis));
    return 'axis is the last axis: unchanged';
  }
  const x = node.input[0]!, y = node.output[0]!;
  const shape = fresh(`${label}_shape`), flat = fresh(`${label}_flat`), soft = fresh(`${label}_2d`);
  const i = graph.node.indexOf(node);
  const op = node.opType;
  const nodes = [
    create(NodeProtoSchema, { name: fresh(`${label}/Shape`), opType: 'Shape', input: [x], output: [shape] }),
    create(NodeProtoSchema, { name: fresh(`${label}/Flatten`), opType: 'Flatten', input: [x], output: [flat], attribute: [intAttr('axis', axis)] }),
    create(NodeProtoSchema, { name: node.name || fresh(`${label}/${op}`), opType: op, input: [flat], output: [soft], attribute: [intAttr('axis', -1)] }),
    create(NodeProtoSchema, { name: fresh(`${label}/Reshape`), opType: 'Reshape', input: [soft, shape], output: [y] }),
  ];
  graph.node.splice(i, 1, ...nodes);
  return `opset-13 rewrite: Flatten(axis=${axis}) -> ${op}(-1) -> Reshape`;
}
