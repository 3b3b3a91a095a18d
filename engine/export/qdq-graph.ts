// Graph bookkeeping the QDQ writer needs: who produces and who consumes each tensor, constant
// values (initializers and Constant nodes), attributes, and fresh unique names.
import { create, NodeProtoSchema, AttributeProtoSchema, AttributeType, type GraphProto, type NodeProto, type TensorProto, type AttributeProto } from '../onnx/proto';

export class GraphIndex {
  readonly producer = new Map<string, NodeProto>();
  /** Nodes reading each tensor; a node with subgraphs also "reads" every outer name its subgraphs use. */
  readonly consumers = new Map<string, NodeProto[]>();
  readonly initializers = new Map<string, TensorProto>();
  readonly constantNodes = new Map<string, NodeProto>();
  readonly graphOutputs: Set<string>;
  readonly graphInputs: Set<string>;
  private readonly names: Set<string>;

  /** `parent`: the index of the graph this one is a subgraph of (outer-scope constants are visible). */
  constructor(readonly graph: GraphProto, readonly parent?: GraphIndex) {
    this.names = parent ? parent.names : new Set<string>();
    if (!parent) collectNames(graph, this.names);
    for (const t of graph.initializer) this.initializers.set(t.name, t);
    this.graphOutputs = new Set(graph.output.map((o) => o.name));
    this.graphInputs = new Set(graph.input.map((i) => i.name).filter((n) => !this.initializers.has(n)));
    for (const n of graph.node) {
      for (const o of n.output) if (o) this.producer.set(o, n);
      const reads = new Set(n.input.filter((i) => i));
      for (const a of n.attribute) for (const g of subgraphsOf(a)) for (const r of outerReads(g)) reads.add(r);
      for (const i of reads) {
        const list = this.consumers.get(i) ?? [];
        list.push(n);
        this.consumers.set(i, list);
      }
      if (n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx') && n.output[0]) this.constantNodes.set(n.output[0], n);
    }
  }

  /** The constant tensor behind a name (initializer or Constant node `value`, here or in an outer scope). */
  constant(name: string): TensorProto | undefined {
    if (this.graphInputs.has(name) || this.producer.has(name) && !this.constantNodes.has(name)) return undefined;
    const init = this.initializers.get(name);
    if (init) return init;
    const c = this.constantNodes.get(name);
    if (c) return c.attribute.find((x) => x.name === 'value')?.t;
    return this.parent?.constant(name);
  }

  isConstant(name: string): boolean {
    return this.constant(name) !== undefined;
  }

  consumersOf(name: string): NodeProto[] {
    return this.consumers.get(name) ?? [];
  }

  unique(base: string): string {
    let name = base, i = 1;
    while (this.names.has(name)) name = `${base}_${i++}`;
    this.names.add(name);
    return name;
  }
}

export function subgraphsOf(a: AttributeProto): GraphProto[] {
  return [...(a.g ? [a.g] : []), ...a.graphs];
}

function collectNames(g: GraphProto, names: Set<string>): void {
  for (const t of g.initializer) names.add(t.name);
  for (const i of g.input) names.add(i.name);
  for (const n of g.node) {
    names.add(n.name);
    for (const o of n.output) if (o) names.add(o);
    for (const a of n.attribute) for (const sg of subgraphsOf(a)) collectNames(sg, names);
  }
}

/** Names a subgraph reads from enclosing scopes (used but not produced inside it). */
export function outerReads(g: GraphProto): Set<string> {
  const inside = new Set<string>([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name)]);
  const reads = new Set<string>();
  for (const n of g.node) {
    for (const i of n.input) if (i && !inside.has(i)) reads.add(i);
    for (const a of n.attribute) for (const sg of subgraphsOf(a)) for (const r of outerReads(sg)) if (!inside.has(r)) reads.add(r);
    for (const o of n.output) inside.add(o);
  }
  for (const o of g.output) if (!inside.has(o.name)) reads.add(o.name);
  return reads;
}

export { attr, attrInt } from '../onnx/attributes';

export function intAttr(name: string, value: number): AttributeProto {
  return create(AttributeProtoSchema, { name, type: AttributeType.INT, i: BigInt(value) });
}

export function makeNode(opType: string, inputs: string[], outputs: string[], name: string, attributes: AttributeProto[] = [], domain = ''): NodeProto {
  return create(NodeProtoSchema, { opType, input: inputs, output: outputs, name, attribute: attributes, domain });
}

/** Opset version of the default ONNX domain. */
export function onnxOpset(model: { opsetImport: { domain: string; version: bigint }[] }): number {
  const o = model.opsetImport.find((x) => x.domain === '' || x.domain === 'ai.onnx');
  return o ? Number(o.version) : 0;
}
