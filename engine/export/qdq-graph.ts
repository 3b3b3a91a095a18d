// Graph bookkeeping the QDQ writer needs: who produces and who consumes each tensor, constant
// values (initializers and Constant nodes), attributes, and fresh unique names.
import { create, NodeProtoSchema, AttributeProtoSchema, AttributeType, type GraphProto, type NodeProto, type TensorProto, type AttributeProto } from '../onnx/proto';

export class GraphIndex {
  readonly producer = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly initializers = new Map<string, TensorProto>();
  readonly constantNodes = new Map<string, NodeProto>();
  readonly graphOutputs: Set<string>;
  readonly graphInputs: Set<string>;
  private names = new Set<string>();

  constructor(readonly graph: GraphProto) {
    for (const t of graph.initializer) { this.initializers.set(t.name, t); this.names.add(t.name); }
    this.graphOutputs = new Set(graph.output.map((o) => o.name));
    this.graphInputs = new Set(graph.input.map((i) => i.name).filter((n) => !this.initializers.has(n)));
    for (const i of graph.input) this.names.add(i.name);
    for (const n of graph.node) {
      this.names.add(n.name);
      for (const o of n.output) { if (o) { this.producer.set(o, n); this.names.add(o); } }
      for (const i of n.input) {
        if (!i) continue;
        const list = this.consumers.get(i) ?? [];
        list.push(n);
        this.consumers.set(i, list);
      }
      if (n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx') && n.output[0]) this.constantNodes.set(n.output[0], n);
    }
  }

  /** The constant tensor behind a name (initializer or Constant node `value`), if it is one. */
  constant(name: string): TensorProto | undefined {
    const init = this.initializers.get(name);
    if (init) return this.graphInputs.has(name) ? undefined : init;
    const c = this.constantNodes.get(name);
    const a = c?.attribute.find((x) => x.name === 'value');
    return a?.t;
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

export function attr(n: NodeProto, name: string): AttributeProto | undefined {
  return n.attribute.find((a) => a.name === name);
}

export function attrInt(n: NodeProto, name: string, dflt: number): number {
  const a = attr(n, name);
  return a ? Number(a.i) : dflt;
}

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
