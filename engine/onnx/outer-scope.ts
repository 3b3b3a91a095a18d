// Subgraphs (If branches, Loop/Scan bodies) read values of the graphs around them by name. A rewrite
// that renames values of an outer graph (or moves nodes into a new branch under new names) must rename
// those reads too, or the nested graph points at a value that no longer exists in its scope.
import { clone, AttributeProtoSchema, type AttributeProto, type GraphProto } from './proto';

function renameIn(g: GraphProto, rename: (x: string) => string, shadow: ReadonlySet<string>): void {
  // Names this graph defines shadow the outer ones (and so do those of the graphs between).
  const local = new Set([...shadow, ...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => n.output)]);
  const r = (x: string) => (x && !local.has(x) ? rename(x) : x);
  for (const n of g.node) {
    n.input = n.input.map(r);
    for (const a of n.attribute) for (const sg of [...(a.g ? [a.g] : []), ...a.graphs]) renameIn(sg, rename, local);
  }
  for (const o of g.output) o.name = r(o.name);
}

/** A copy of node attribute `a` whose subgraphs read outer-scope values through `rename` (the
 *  attribute itself when it holds no graph, so unrelated attributes stay shared). */
export function renameOuterReads(a: AttributeProto, rename: (x: string) => string): AttributeProto {
  if (!a.g && a.graphs.length === 0) return a;
  const c = clone(AttributeProtoSchema, a);
  for (const sg of [...(c.g ? [c.g] : []), ...c.graphs]) renameIn(sg, rename, new Set());
  return c;
}
