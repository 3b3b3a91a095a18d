// Graph helpers: walk a model's graphs (If/Loop/Scan bodies included), producer/consumer maps,
// topological order, unique names, value-info lookup, node removal and insertion.
import { StudioError, quote } from '../errors';
import type { GraphProto, NodeProto, ModelProto, ValueInfoProto, TensorProto } from './proto';

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

export function visitGraphs(model: ModelProto, fn: (v: GraphVisit) => void): void {
  if (!model.graph) return;
  for (const v of walkGraphs(model.graph)) fn(v);
}

/** All nodes of the model with the graph holding each. */
export function* allNodes(model: ModelProto): Generator<{ node: NodeProto; graph: GraphProto; path: GraphPath }> {
  if (!model.graph) return;
  for (const v of walkGraphs(model.graph)) for (const node of v.graph.node) yield { node, graph: v.graph, path: v.path };
}

/** Names a subgraph reads from enclosing scopes (used inside, defined nowhere inside). */
export function outerScopeInputs(node: NodeProto): Set<string> {
  const used = new Set<string>();
  for (const { graph } of subgraphsOf(node)) {
    const defined = new Set<string>();
    for (const v of walkGraphs(graph)) {
      for (const i of v.graph.input) defined.add(i.name);
      for (const t of v.graph.initializer) defined.add(t.name);
      for (const n of v.graph.node) for (const o of n.output) defined.add(o);
    }
    for (const v of walkGraphs(graph)) {
      for (const n of v.graph.node) for (const i of n.input) if (i && !defined.has(i)) used.add(i);
      for (const o of v.graph.output) if (!defined.has(o.name)) used.add(o.name);
    }
  }
  return used;
}

/** Inputs a node reads: its listed inputs plus (with subgraphs) the outer names its bodies capture. */
export function nodeInputs(node: NodeProto, withCaptures = true): string[] {
  const ins = node.input.filter((i) => i !== '');
  if (!withCaptures || !node.attribute.some((a) => a.g || a.graphs.length)) return ins;
  return [...new Set([...ins, ...outerScopeInputs(node)])];
}

export function producerMap(graph: GraphProto): Map<string, NodeProto> {
  const m = new Map<string, NodeProto>();
  for (const n of graph.node) for (const o of n.output) if (o) m.set(o, n);
  return m;
}

/** tensor name -> nodes reading it (subgraph captures count as reads by the owning node). */
export function consumerMap(graph: GraphProto): Map<string, NodeProto[]> {
  const m = new Map<string, NodeProto[]>();
  for (const n of graph.node) {
    for (const i of nodeInputs(n)) {
      const list = m.get(i);
      if (list) { if (!list.includes(n)) list.push(n); } else m.set(i, [n]);
    }
  }
  return m;
}

export function initializerMap(graph: GraphProto): Map<string, TensorProto> {
  return new Map(graph.initializer.map((t) => [t.name, t]));
}

/** Nodes in a topological order (stable: keeps the file's order where it is already valid).
 *  Names defined outside the graph (inputs, initializers, enclosing scopes) are available from the start. */
export function topologicalOrder(graph: GraphProto): NodeProto[] {
  const producers = producerMap(graph);
  const indeg = new Map<NodeProto, number>();
  const users = new Map<NodeProto, NodeProto[]>();
  for (const n of graph.node) {
    const deps = new Set<NodeProto>();
    for (const i of nodeInputs(n)) { const p = producers.get(i); if (p && p !== n) deps.add(p); }
    indeg.set(n, deps.size);
    for (const d of deps) (users.get(d) ?? users.set(d, []).get(d)!).push(n);
  }
  const order: NodeProto[] = [];
  const index = new Map(graph.node.map((n, i) => [n, i]));
  // a small binary-heap-free queue: ready nodes kept sorted by original index
  let ready = graph.node.filter((n) => indeg.get(n) === 0);
  while (ready.length) {
    const n = ready.shift()!;
    order.push(n);
    const next: NodeProto[] = [];
    for (const u of users.get(n) ?? []) { const d = indeg.get(u)! - 1; indeg.set(u, d); if (d === 0) next.push(u); }
    if (next.length) ready = [...ready, ...next].sort((a, b) => index.get(a)! - index.get(b)!);
  }
  if (order.length !== graph.node.length) {
    const stuck = graph.node.find((n) => indeg.get(n)! > 0)!;
    throw new StudioError('BAD_MODEL', `Graph ${quote(graph.name)} has a cycle: node ${quote(stuck.name || stuck.opType)} never gets all its inputs.`);
  }
  return order;
}

/** Reorder graph.node topologically in place. */
export function sortTopologically(graph: GraphProto): void {
  const order = topologicalOrder(graph);
  graph.node.splice(0, graph.node.length, ...order);
}

/** Every name used anywhere in the model: tensors, nodes, graph inputs/outputs, all subgraphs. */
export function allNames(model: ModelProto): Set<string> {
  const names = new Set<string>();
  visitGraphs(model, ({ graph }) => {
    for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) names.add(v.name);
    for (const t of graph.initializer) names.add(t.name);
    for (const n of graph.node) {
      if (n.name) names.add(n.name);
      for (const x of [...n.input, ...n.output]) if (x) names.add(x);
    }
  });
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

/** Graph inputs, outputs and value_info by name. */
export function valueInfoMap(graph: GraphProto): Map<string, ValueInfoProto> {
  const m = new Map<string, ValueInfoProto>();
  for (const v of [...graph.valueInfo, ...graph.input, ...graph.output]) m.set(v.name, v);
  return m;
}

export type Dim = number | string | null;

/** Element type and shape of a tensor as far as the model declares it (initializers included). */
export function tensorInfo(graph: GraphProto, name: string): { elemType: number; shape?: Dim[] } | undefined {
  const init = graph.initializer.find((t) => t.name === name);
  if (init) return { elemType: init.dataType, shape: init.dims.map(Number) };
  const v = valueInfoMap(graph).get(name);
  if (!v || v.type?.value.case !== 'tensorType') return undefined;
  const tt = v.type.value.value;
  const shape = tt.shape ? tt.shape.dim.map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null)) : undefined;
  return { elemType: tt.elemType, shape };
}

/** Remove a node. With `bypass`, its consumers (and graph outputs) read its first input instead of its first output. */
export function removeNode(graph: GraphProto, node: NodeProto, opts: { bypass?: boolean } = {}): void {
  const i = graph.node.indexOf(node);
  if (i < 0) throw new StudioError('INTERNAL', `Node ${quote(node.name || node.opType)} is not in graph ${quote(graph.name)}.`);
  if (opts.bypass) {
    const from = node.output[0], to = node.input[0];
    if (!from || !to) throw new StudioError('INTERNAL', `Cannot bypass node ${quote(node.name || node.opType)}: it needs one input and one output.`);
    if (graph.output.some((o) => o.name === from)) {
      // Keep the graph's output name: the producer of `to` writes `from` directly when it is a node in this graph.
      const prod = graph.node.find((n) => n.output.includes(to));
      const toIsGraphIo = graph.input.some((v) => v.name === to) || graph.output.some((v) => v.name === to) || !prod;
      if (toIsGraphIo) throw new StudioError('BAD_MODEL', `Cannot bypass node ${quote(node.name || node.opType)}: its output ${quote(from)} is a graph output fed straight from ${quote(to)}.`);
      graph.node.splice(i, 1);
      renameTensor(graph, to, from);
      return;
    }
    graph.node.splice(i, 1);
    replaceInputs(graph, from, to);
    return;
  }
  graph.node.splice(i, 1);
}

/** Make every node (and subgraph capture) reading `from` read `to`. Returns how many inputs changed. */
export function replaceInputs(graph: GraphProto, from: string, to: string, except: readonly NodeProto[] = []): number {
  let n = 0;
  for (const v of walkGraphs(graph)) {
    // inside subgraphs only rewrite captures: a subgraph that defines `from` itself shadows it
    if (v.graph !== graph && definesName(v.graph, from)) continue;
    for (const node of v.graph.node) {
      if (except.includes(node)) continue;
      for (let k = 0; k < node.input.length; k++) if (node.input[k] === from) { node.input[k] = to; n++; }
    }
  }
  return n;
}

function definesName(g: GraphProto, name: string): boolean {
  return g.input.some((v) => v.name === name) || g.initializer.some((t) => t.name === name) || g.node.some((n) => n.output.includes(name));
}

/** Rename a tensor everywhere in this graph (producer output, consumers, initializer, value info). */
export function renameTensor(graph: GraphProto, from: string, to: string): void {
  for (const n of graph.node) for (let k = 0; k < n.output.length; k++) if (n.output[k] === from) n.output[k] = to;
  replaceInputs(graph, from, to);
  for (const t of graph.initializer) if (t.name === from) t.name = to;
  for (const v of [...graph.valueInfo, ...graph.input, ...graph.output]) if (v.name === from) v.name = to;
}

/** Insert nodes right after `anchor` (or before it), keeping a valid order when the new nodes read the anchor's outputs. */
export function insertNodes(graph: GraphProto, nodes: NodeProto[], where: { after: NodeProto } | { before: NodeProto } | 'start' | 'end'): void {
  let at: number;
  if (where === 'start') at = 0;
  else if (where === 'end') at = graph.node.length;
  else {
    const anchor = 'after' in where ? where.after : where.before;
    const i = graph.node.indexOf(anchor);
    if (i < 0) throw new StudioError('INTERNAL', `Anchor node ${quote(anchor.name || anchor.opType)} is not in graph ${quote(graph.name)}.`);
    at = 'after' in where ? i + 1 : i;
  }
  graph.node.splice(at, 0, ...nodes);
}
