// The model graph as the studio draws it: nodes, the tensor edges between them and every tensor's
// shape and dtype. Constant nodes that only hold weights (PP-OCR stores all weights that way) are
// folded into their consumers as weights, the way Netron shows initializers.
import type { GraphView, GraphTensor } from '../../contract/ipc';
import type { ModelProto, TensorProto, ValueInfoProto } from '../onnx/proto';
import { dataTypeName, elementCount, tensorDims } from '../onnx/tensor';

function shapeOf(v: ValueInfoProto): { dtype: string; shape: (number | string | null)[] } {
  if (v.type?.value.case !== 'tensorType') return { dtype: 'unknown', shape: [] };
  const t = v.type.value.value;
  const shape = (t.shape?.dim ?? []).map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null));
  return { dtype: dataTypeName[t.elemType] ?? `type ${t.elemType}`, shape };
}

function attrText(a: { name: string; i?: bigint; f?: number; s?: Uint8Array; ints?: bigint[]; floats?: number[]; type?: number; t?: TensorProto }): string {
  if (a.ints && a.ints.length) return `[${a.ints.map(String).join(', ')}]`;
  if (a.floats && a.floats.length) return `[${a.floats.map((f) => +f.toPrecision(4)).join(', ')}]`;
  if (a.s && a.s.length) return new TextDecoder().decode(a.s).slice(0, 200);
  if (a.t) return `tensor ${dataTypeName[a.t.dataType] ?? a.t.dataType} [${tensorDims(a.t).join(', ')}]`;
  if (a.f) return String(+a.f.toPrecision(6));
  return String(a.i ?? 0);
}

/** Constant nodes whose value is a tensor: output name -> the tensor. */
export function constantTensors(model: ModelProto): Map<string, TensorProto> {
  const out = new Map<string, TensorProto>();
  for (const n of model.graph?.node ?? []) {
    if (n.opType !== 'Constant' || n.domain) continue;
    const v = n.attribute.find((a) => a.name === 'value');
    if (v?.t && n.output[0]) out.set(n.output[0], v.t);
  }
  return out;
}

export function graphView(model: ModelProto, modelId: string): GraphView {
  const g = model.graph!;
  const tensors = new Map<string, GraphTensor>();
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const consts = constantTensors(model);
  const add = (name: string, t: GraphTensor) => { if (name && !tensors.has(name)) tensors.set(name, t); };
  for (const t of [...inits.values(), ...consts.values()]) {
    const dims = tensorDims(t);
    add(t.name, { name: t.name, kind: 'weight', dtype: dataTypeName[t.dataType] ?? `type ${t.dataType}`, shape: dims, elements: elementCount(dims) });
  }
  for (const [name, t] of consts) {
    const dims = tensorDims(t);
    add(name, { name, kind: 'weight', dtype: dataTypeName[t.dataType] ?? `type ${t.dataType}`, shape: dims, elements: elementCount(dims) });
  }
  for (const v of g.input) if (!inits.has(v.name)) add(v.name, { name: v.name, kind: 'input', ...shapeOf(v), elements: null });
  for (const v of g.output) add(v.name, { name: v.name, kind: 'output', ...shapeOf(v), elements: null });
  for (const v of g.valueInfo) add(v.name, { name: v.name, kind: 'activation', ...shapeOf(v), elements: null });

  const isWeight = (name: string) => inits.has(name) || consts.has(name);
  const nodes: GraphView['nodes'] = [];
  const producer = new Map<string, string>();
  const used = new Set<string>();
  g.node.forEach((n, i) => {
    // A weight-holding Constant is drawn inside its consumer, not as a node of its own.
    if (n.opType === 'Constant' && !n.domain && consts.has(n.output[0] ?? '')) return;
    const nid = n.name || `${n.opType}_${i}`;
    const attributes: Record<string, string> = {};
    for (const a of n.attribute) attributes[a.name] = attrText(a as never);
    nodes.push({ id: nid, name: n.name, opType: n.opType, domain: n.domain, inputs: [...n.input], outputs: [...n.output], weights: n.input.filter(isWeight), attributes });
    for (const o of n.output) { if (o) { producer.set(o, nid); add(o, { name: o, kind: 'activation', dtype: 'unknown', shape: [], elements: null }); } }
  });
  for (const v of g.input) if (!inits.has(v.name)) { producer.set(v.name, `input:${v.name}`); nodes.unshift({ id: `input:${v.name}`, name: v.name, opType: 'Input', domain: '', inputs: [], outputs: [v.name], weights: [], attributes: {} }); }
  const edges: GraphView['edges'] = [];
  for (const n of nodes) {
    for (const inp of n.inputs) {
      const src = producer.get(inp);
      if (src && !isWeight(inp)) { edges.push({ source: src, target: n.id, tensor: inp }); used.add(inp); }
    }
  }
  for (const v of g.output) {
    const src = producer.get(v.name);
    const oid = `output:${v.name}`;
    nodes.push({ id: oid, name: v.name, opType: 'Output', domain: '', inputs: [v.name], outputs: [], weights: [], attributes: {} });
    if (src) edges.push({ source: src, target: oid, tensor: v.name });
  }
  const opset = Number(model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
  return { modelId, opset, producer: `${model.producerName} ${model.producerVersion}`.trim(), nodes, edges, tensors: [...tensors.values()] };
}
