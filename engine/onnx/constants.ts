// Weights that live in `Constant` nodes (PP-OCR, Silero export them that way) look like
// initializers to the quantizer after `constantsToInitializers`; `constantValue` finds either.
import { StudioError, quote } from '../errors';
import { create, TensorProtoSchema, ValueInfoProtoSchema, TypeProtoSchema, TypeProto_TensorSchema, TensorShapeProtoSchema, TensorShapeProto_DimensionSchema, type GraphProto, type NodeProto, type TensorProto, type ModelProto } from './proto';
import { DataType } from './tensor';
import { walkGraphs } from './graph';

export interface ConstantSource { tensor: TensorProto; source: 'initializer' | 'constant'; node?: NodeProto }

/** The tensor a Constant node holds (value, value_float(s), value_int(s)); undefined for sparse/string forms we do not read. */
export function constantNodeTensor(node: NodeProto): TensorProto | undefined {
  if (node.opType !== 'Constant') return undefined;
  const name = node.output[0] ?? '';
  for (const a of node.attribute) {
    switch (a.name) {
      case 'value':
        if (!a.t) return undefined;
        // the output name is the tensor's name, whatever the attribute says
        return a.t.name === name ? a.t : create(TensorProtoSchema, { ...a.t, name });
      case 'value_float': return create(TensorProtoSchema, { name, dataType: DataType.FLOAT, dims: [], floatData: [a.f] });
      case 'value_floats': return create(TensorProtoSchema, { name, dataType: DataType.FLOAT, dims: [BigInt(a.floats.length)], floatData: [...a.floats] });
      case 'value_int': return create(TensorProtoSchema, { name, dataType: DataType.INT64, dims: [], int64Data: [a.i] });
      case 'value_ints': return create(TensorProtoSchema, { name, dataType: DataType.INT64, dims: [BigInt(a.ints.length)], int64Data: [...a.ints] });
    }
  }
  return undefined;
}

/** An initializer or a Constant node's value named `tensorName` in this graph (not its subgraphs). */
export function constantValue(graph: GraphProto, tensorName: string): ConstantSource | undefined {
  const init = graph.initializer.find((t) => t.name === tensorName);
  if (init) return { tensor: init, source: 'initializer' };
  const node = graph.node.find((n) => n.opType === 'Constant' && n.output[0] === tensorName);
  if (!node) return undefined;
  const tensor = constantNodeTensor(node);
  return tensor ? { tensor, source: 'constant', node } : undefined;
}

export interface ConstantsToInitializersResult { converted: number; kept: { node: string; reason: string }[] }

/** Move Constant nodes' tensors into their graph's initializers (every graph, subgraphs included).
 *  Kept as nodes: constants that are graph outputs, sparse/string values, and those `filter` rejects. */
export function constantsToInitializers(model: ModelProto, filter: (t: TensorProto, node: NodeProto) => boolean = () => true): ConstantsToInitializersResult {
  const res: ConstantsToInitializersResult = { converted: 0, kept: [] };
  if (!model.graph) throw new StudioError('BAD_MODEL', 'Model has no graph.');
  const needsInputs = model.irVersion < 4n; // before IR 4, every initializer must also be a graph input
  for (const { graph } of walkGraphs(model.graph)) {
    const outputs = new Set(graph.output.map((o) => o.name));
    const existing = new Set(graph.initializer.map((t) => t.name));
    const keep: NodeProto[] = [];
    for (const node of graph.node) {
      if (node.opType !== 'Constant') { keep.push(node); continue; }
      const label = node.name || node.output[0] || '?';
      const t = constantNodeTensor(node);
      const why = !t ? 'value is sparse, a string or missing'
        : outputs.has(t.name) ? 'it is a graph output'
        : existing.has(t.name) ? `an initializer is already named ${quote(t.name)}`
        : t.dataType === DataType.STRING ? 'string tensor'
        : !filter(t, node) ? 'filtered out' : '';
      if (why) { keep.push(node); res.kept.push({ node: label, reason: why }); continue; }
      graph.initializer.push(t!);
      existing.add(t!.name);
      if (needsInputs) graph.input.push(valueInfoFor(t!));
      res.converted++;
    }
    graph.node.splice(0, graph.node.length, ...keep);
  }
  return res;
}

function valueInfoFor(t: TensorProto) {
  const shape = create(TensorShapeProtoSchema, { dim: t.dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: d } })) });
  return create(ValueInfoProtoSchema, { name: t.name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: t.dataType, shape }) } }) });
}

