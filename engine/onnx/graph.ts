// The ONNX graph toolkit every rewrite uses: walking a model's graphs (If/Loop/Scan bodies included),
// an index of one graph (producers, consumers counting subgraph captures, constants, fresh names),
// building nodes, unique names, declared types and shapes, and pruning what nothing reads.
import { create, NodeProtoSchema, AttributeProtoSchema, AttributeType, type AttributeProto, type GraphProto, type NodeProto, type ModelProto, type ValueInfoProto, type TensorProto } from './proto';

/** Where a graph sits: [] for the main graph, then (node name, attribute name) hops. */
export type GraphPath = { node: string; attribute: string }[];

export interface GraphVisit { graph: GraphProto; path: GraphPath; parent?: NodeProto }

/** Every subgraph held by a node's attributes (If then/else, Loop/Scan body, ...). */
export function subgraphsOf(node: NodeProto): { attribute: string; graph: GraphProto }[] {
  const out: { attribute: string; graph: GraphProto }[] = [];
  for (const a of node.attribute) {
    if (a.g) out.push({ attribute: a.name, graph: a.g });
    for (const g of a.graphs) out.push({ attribute: a.name, graph: g });
  }
  return out;
}

/** Visit the graph and, depth first, every subgraph below it. */
export function* walkGraphs(graph: GraphProto, path: GraphPath = [], parent?: NodeProto): Generator<GraphVisit> {
  yield { graph, path, parent };
  for (const node of graph.node) {
    for (const sub of subgraphsOf(node)) yield* walkGraphs(sub.graph, [...path, { node: node.name || node.opType, attribute: sub.attribute }], node);
  }
}

/**
 * Names a subgraph reads from enclosing scopes: used (by a node, a nested subgraph or as one of its
 * outputs) before anything inside defines them. Nodes are read in order, as ONNX requires of a body.
 */
export function outerReads(g: GraphProto): Set<string> {
  const inside = new Set<string>([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name)]);
  const reads = new Set<string>();
  for (const n of g.node) {
    for (const i of n.input) if (i && !inside.has(i)) reads.add(i);
    for (const { graph } of subgraphsOf(n)) for (const r of outerReads(graph)) if (!inside.has(r)) reads.add(r);
    for (const o of n.output) inside.add(o);
  }
  for (const o of g.output) if (!inside.has(o.name)) reads.add(o.name);
  return reads;
}

/** What a node reads: its inputs and every outer name its subgraphs capture. */
export function nodeReads(n: NodeProto): Set<string> {
  const reads = new Set(n.input.filter((i) => i));
  for (const { graph } of subgraphsOf(n)) for (const r of outerReads(graph)) reads.add(r);
  return reads;
}

/** One graph's bookkeeping: producer and consumers of each tensor, constants, fresh unique names. */
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
      for (const i of nodeReads(n)) {
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

function collectNames(g: GraphProto, names: Set<string>): void {
  for (const t of g.initializer) names.add(t.name);
  for (const i of g.input) names.add(i.name);
  for (const n of g.node) {
    names.add(n.name);
    for (const o of n.output) if (o) names.add(o);
    for (const { graph } of subgraphsOf(n)) collectNames(graph, names);
  }
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

/** Every name used anywhere in the model: tensors, nodes, graph inputs/outputs, all subgraphs. */
function allNames(model: ModelProto): Set<string> {
  const names = new Set<string>();
  if (!model.graph) return names;
  for (const { graph } of walkGraphs(model.graph)) {
    for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) names.add(v.name);
    for (const t of graph.initializer) names.add(t.name);
    for (const n of graph.node) {
      if (n.name) names.add(n.name);
      for (const x of [...n.input, ...n.output]) if (x) names.add(x);
    }
  }
  return names;
}

/** Returns a function that hands out names not yet used in the model (base, base_1, base_2, ...). */
export function nameAllocator(model: ModelProto): (base: string) => string {
  const used = allNames(model);
  return (base: string) => {
    let name = base, k = 0;
    while (used.has(name)) name = `${base}_${++k}`;
    used.add(name);
    return name;
  };
}

export type Dim = number | string | null;

/** Element type and shape of a tensor as far as the graph declares it (initializers included). */
export function tensorInfo(graph: GraphProto, name: string): { elemType: number; shape?: Dim[] } | undefined {
  const init = graph.initializer.find((t) => t.name === name);
  if (init) return { elemType: init.dataType, shape: init.dims.map(Number) };
  let v: ValueInfoProto | undefined;
  for (const x of [...graph.valueInfo, ...graph.input, ...graph.output]) if (x.name === name) v = x;
  if (!v || v.type?.value.case !== 'tensorType') return undefined;
  const tt = v.type.value.value;
  const shape = tt.shape ? tt.shape.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null)) : undefined;
  return { elemType: tt.elemType, shape };
}

/**
 * Remove what nothing reads, until nothing more goes: nodes none of whose outputs is read (by a node,
 * a subgraph at any depth, or a graph output), initializers nothing reads (and their graph-input
 * entries), and value_info of names that no longer exist. Reads inside If/Loop/Scan bodies count,
 * a body's output that names an outer value included, so nothing a branch returns is removed.
 */
export function pruneUnused(g: GraphProto): void {
  for (let changed = true; changed;) {
    changed = false;
    const used = new Set<string>(g.output.map((o) => o.name));
    for (const n of g.node) for (const r of nodeReads(n)) used.add(r);
    const keep = g.node.filter((n) => n.output.some((o) => o && used.has(o)));
    if (keep.length !== g.node.length) { g.node = keep; changed = true; }
    const dropped = new Set(g.initializer.filter((t) => !used.has(t.name)).map((t) => t.name));
    if (dropped.size) {
      g.initializer = g.initializer.filter((t) => !dropped.has(t.name));
      g.input = g.input.filter((i) => !dropped.has(i.name));
      changed = true;
    }
  }
  const present = new Set<string>([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => n.output)]);
  g.valueInfo = g.valueInfo.filter((v) => present.has(v.name));
}
