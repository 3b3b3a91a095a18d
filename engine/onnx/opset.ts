// Opset lookup and upgrade, the one upgrader of the codebase (QDQ export, MatMulNBits export, tests).
// Quantization needs opset >= 10 (QuantizeLinear), 13 (per-channel Q/DQ), 20 (Gelu) or 21 (int4,
// blocks), while exporters still write 9-11 (PP-OCR is opset 9). The upgrade rewrites, in every
// graph, the default-domain ops whose signature changed between the versions: attributes that became
// inputs (Slice, TopK 10; Clip, Pad 11; Squeeze, Unsqueeze, Split, ReduceSum 13; the other Reduce* 18),
// Scatter -> ScatterElements (11), Dropout's ratio (12), Softmax-family 2-D coercion (13), Split's
// num_outputs (18), GridSample's mode names (20). It refuses, naming the node, the few it cannot
// convert exactly (Upsample, Resize-10, DFT's axis at 20, GroupNormalization's scale at 21), and
// checks every node before it edits any, so a refused model is left untouched.
import { StudioError, quote, type StudioErrorCode } from '../errors';
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

/** One node's conversion, decided before anything is edited: what will change, or why it cannot. */
type Conversion = { change: string; apply: () => void } | { refused: StudioError };
interface PlannedUpgrade { from: number; steps: { node: NodeProto; conversion: Conversion }[] }

function planUpgrade(model: ModelProto, target: number): PlannedUpgrade {
  const from = opsetVersion(model);
  if (!model.graph) throw new StudioError('BAD_MODEL', 'Model has no graph.');
  if (!Number.isInteger(target) || target > MAX_KNOWN_OPSET) throw new StudioError('BAD_ARGUMENT', `Opset ${quote(target)} is not one we can target (max ${MAX_KNOWN_OPSET}).`);
  if (from >= target) return { from, steps: [] };
  if (from < 7) throw new StudioError('BAD_MODEL', `Model uses opset ${from}; upgrading from below opset 7 (legacy broadcast attributes) is not supported.`);
  const fresh = nameAllocator(model);
  const steps: PlannedUpgrade['steps'] = [];
  for (const { graph } of walkGraphs(model.graph)) {
    for (const node of graph.node) {
      if (!isDefaultDomain(node.domain)) continue;
      const conversion = convertNode(graph, node, from, target, fresh);
      if (conversion) steps.push({ node, conversion });
    }
  }
  return { from, steps };
}

/** Whether upgradeOpset(model, target) would succeed. It edits nothing (callers that may skip the upgrade ask first). */
export function canUpgradeOpset(model: ModelProto, target: number): boolean {
  try {
    return planUpgrade(model, target).steps.every((s) => !('refused' in s.conversion));
  } catch (e) {
    if (e instanceof StudioError) return false;
    throw e;
  }
}

/**
 * Upgrade the default-domain opset to `target` in place (node objects are kept: a QDQ plan made
 * before the upgrade still points at them). Returns what changed. Throws, before editing anything,
 * when a node cannot be converted exactly.
 */
export function upgradeOpset(model: ModelProto, target: number): { from: number; to: number; changes: OpsetChange[] } {
  const { from, steps } = planUpgrade(model, target);
  if (from >= target) return { from, to: from, changes: [] };
  for (const s of steps) if ('refused' in s.conversion) throw s.conversion.refused;
  const changes: OpsetChange[] = [];
  for (const { node, conversion } of steps) {
    if ('refused' in conversion) continue;
    const label = node.name || node.output[0] || '?';
    const opType = node.opType;
    conversion.apply();
    changes.push({ node: label, opType, change: conversion.change });
  }
  const entry = model.opsetImport.find((o) => isDefaultDomain(o.domain));
  if (entry) entry.version = BigInt(target);
  else model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(target) }));
  if (model.irVersion < BigInt(irVersionFor(target))) model.irVersion = BigInt(irVersionFor(target));
  return { from, to: target, changes };
}

function crosses(from: number, to: number, v: number) { return from < v && to >= v; }

/** Ops whose meaning changed at `at` in a way we do not rewrite. */
const REFUSED: Record<string, { at: number; why: string }> = {
  Resize: { at: 11, why: 'Resize-10 changes meaning in opset 11 (roi input, coordinate modes) and is not converted automatically' },
  DFT: { at: 20, why: 'DFT\'s axis attribute became an input in opset 20 and is not converted automatically' },
  GroupNormalization: { at: 21, why: 'GroupNormalization\'s scale and bias became per-channel (not per-group) in opset 21 and are not converted automatically' },
};

function convertNode(graph: GraphProto, node: NodeProto, from: number, to: number, fresh: (b: string) => string): Conversion | undefined {
  const label = node.name || node.output[0] || node.opType;
  const refuse = (code: StudioErrorCode, message: string): Conversion => ({ refused: new StudioError(code, message) });
  const addInit = (suffix: string, dataType: number, dims: number[], data: Int32Array | Float32Array | BigInt64Array | Uint16Array | Float64Array) => {
    const name = fresh(`${label}_${suffix}`);
    graph.initializer.push(makeTensor(name, dataType, dims, data));
    return name;
  };
  /** Moves an ints attribute into an int64 initializer input (at apply time). */
  const intsInput = (attrName: string) => {
    const a = attr(node, attrName);
    if (!a) return undefined;
    dropAttr(node, attrName);
    return addInit(attrName, DataType.INT64, [a.ints.length], BigInt64Array.from(a.ints));
  };
  /** The element type of a scalar constant standing in for a float attribute: the node's first input's, when declared. */
  const scalarType = (what: string): number | StudioError => {
    const t = tensorInfo(graph, node.input[0] ?? '')?.elemType ?? DataType.FLOAT;
    if (t === DataType.FLOAT || t === DataType.DOUBLE) return t;
    return new StudioError('UNSUPPORTED_OP', `Cannot upgrade ${node.opType} node ${quote(label)}: its input type ${dataTypeName[t] ?? t} needs a typed ${what} constant.`);
  };
  const scalar = (suffix: string, t: number, v: number) => addInit(suffix, t, [], t === DataType.DOUBLE ? Float64Array.of(v) : Float32Array.of(v));
  const setInput = (idx: number, name: string) => { while (node.input.length < idx) node.input.push(''); node.input[idx] = name; };

  const refused = REFUSED[node.opType];
  if (refused && crosses(from, to, refused.at)) return refuse('UNSUPPORTED_OP', `Node ${quote(label)}: ${refused.why}; the model cannot be raised from opset ${from} to ${to}.`);
  switch (node.opType) {
    case 'Upsample':
      // Deprecated from opset 10 on: an opset-10+ model may not hold it at all.
      if (to >= 10) return refuse('UNSUPPORTED_OP', `Node ${quote(label)}: Upsample is deprecated from opset 10 and is not converted to Resize automatically.`);
      return undefined;
    case 'Scatter':
      if (crosses(from, to, 11)) return { change: 'Scatter -> ScatterElements', apply: () => { node.opType = 'ScatterElements'; } };
      return undefined;
    case 'Clip':
      if (crosses(from, to, 11)) {
        const lo = attr(node, 'min'), hi = attr(node, 'max');
        const t = lo || hi ? scalarType(lo ? 'min' : 'max') : DataType.FLOAT;
        if (t instanceof StudioError) return { refused: t };
        return {
          change: 'min/max attributes -> inputs',
          apply: () => {
            dropAttr(node, 'min'); dropAttr(node, 'max');
            if (lo) setInput(1, scalar('min', t, lo.f));
            if (hi) setInput(2, scalar('max', t, hi.f));
          },
        };
      }
      return undefined;
    case 'Pad':
      if (crosses(from, to, 11)) {
        if (!attr(node, 'pads')) return refuse('BAD_MODEL', `Pad node ${quote(label)} has no pads attribute.`);
        const value = attr(node, 'value');
        const t = value && value.f !== 0 ? scalarType('value') : undefined;
        if (t instanceof StudioError) return { refused: t };
        return {
          change: 'pads/value attributes -> inputs',
          apply: () => {
            setInput(1, intsInput('pads')!);
            dropAttr(node, 'value');
            if (t !== undefined) setInput(2, scalar('value', t, value!.f));
          },
        };
      }
      return undefined;
    case 'Slice':
      if (crosses(from, to, 10)) {
        if (!attr(node, 'starts') || !attr(node, 'ends')) return refuse('BAD_MODEL', `Slice node ${quote(label)} lacks starts/ends.`);
        return {
          change: 'starts/ends/axes attributes -> inputs',
          apply: () => {
            const starts = intsInput('starts')!, ends = intsInput('ends')!, axes = intsInput('axes');
            setInput(1, starts); setInput(2, ends);
            if (axes) setInput(3, axes);
          },
        };
      }
      return undefined;
    case 'TopK':
      if (crosses(from, to, 10)) {
        return {
          change: 'k attribute -> input',
          apply: () => {
            const k = attr(node, 'k');
            dropAttr(node, 'k');
            setInput(1, addInit('k', DataType.INT64, [1], BigInt64Array.of(k?.i ?? 0n)));
          },
        };
      }
      return undefined;
    case 'Squeeze': case 'Unsqueeze': case 'ReduceSum':
      if (crosses(from, to, 13) && attr(node, 'axes')) return { change: 'axes attribute -> input', apply: () => setInput(1, intsInput('axes')!) };
      return undefined;
    case 'Split': {
      const moveSplit = crosses(from, to, 13) && attr(node, 'split') !== undefined;
      // Split-18 wants either the split input or num_outputs.
      const addCount = !moveSplit && crosses(from, to, 18) && !node.input[1] && !attr(node, 'num_outputs');
      if (moveSplit) return { change: 'split attribute -> input', apply: () => setInput(1, intsInput('split')!) };
      if (addCount) return { change: 'num_outputs added', apply: () => { node.attribute.push(intAttr('num_outputs', node.output.length)); } };
      return undefined;
    }
    case 'Dropout':
      if (crosses(from, to, 12) && attr(node, 'ratio')) return { change: 'ratio attribute dropped (inference)', apply: () => dropAttr(node, 'ratio') };
      return undefined;
    case 'Softmax': case 'LogSoftmax': case 'Hardmax':
      if (crosses(from, to, 13)) return upgradeSoftmax(graph, node, label, fresh);
      return undefined;
    case 'GridSample':
      if (crosses(from, to, 20)) {
        // Opset 20 renamed the modes: bilinear -> linear, bicubic -> cubic (the default, bilinear/linear, is the same).
        const mode = attr(node, 'mode');
        const s = mode ? new TextDecoder().decode(mode.s) : '';
        const renamed = s === 'bilinear' ? 'linear' : s === 'bicubic' ? 'cubic' : undefined;
        if (mode && renamed) return { change: `mode ${s} -> ${renamed}`, apply: () => { mode.s = new TextEncoder().encode(renamed); } };
      }
      return undefined;
  }
  if (REDUCE_18.includes(node.opType) && crosses(from, to, 18) && attr(node, 'axes')) {
    return { change: 'axes attribute -> input', apply: () => setInput(1, intsInput('axes')!) };
  }
  return undefined;
}

/** Before opset 13, Softmax(axis=a) flattened to 2-D at a. Exact rewrite: keep it when a is the
 *  last axis (declared rank), else Shape(x), Flatten(x, a) -> the same node with axis -1 -> Reshape. */
function upgradeSoftmax(graph: GraphProto, node: NodeProto, label: string, fresh: (b: string) => string): Conversion {
  const a = attr(node, 'axis');
  const axis = a ? Number(a.i) : 1;
  const rank = tensorInfo(graph, node.input[0]!)?.shape?.length;
  if (axis === -1 || (rank !== undefined && axis === rank - 1)) {
    return {
      change: 'axis is the last axis: unchanged',
      apply: () => { dropAttr(node, 'axis'); node.attribute.push(intAttr('axis', axis)); },
    };
  }
  const op = node.opType;
  return {
    change: `opset-13 rewrite: Flatten(axis=${axis}) -> ${op}(-1) -> Reshape`,
    apply: () => {
      const x = node.input[0]!, y = node.output[0]!;
      const shape = fresh(`${label}_shape`), flat = fresh(`${label}_flat`), soft = fresh(`${label}_2d`);
      const before = [
        create(NodeProtoSchema, { name: fresh(`${label}/Shape`), opType: 'Shape', input: [x], output: [shape] }),
        create(NodeProtoSchema, { name: fresh(`${label}/Flatten`), opType: 'Flatten', input: [x], output: [flat], attribute: [intAttr('axis', axis)] }),
      ];
      const reshape = create(NodeProtoSchema, { name: fresh(`${label}/Reshape`), opType: 'Reshape', input: [soft, shape], output: [y] });
      // The node object itself stays (callers hold references to it); only its wiring and axis change.
      node.input[0] = flat; node.output[0] = soft;
      dropAttr(node, 'axis'); node.attribute.push(intAttr('axis', -1));
      graph.node.splice(graph.node.indexOf(node), 1, ...before, node, reshape);
    },
  };
}
