// Reading a node's attributes with defaults: the one set of helpers the exporter, the weight-only
// algorithms and QAT's graph builder share.
import type { AttributeProto, NodeProto } from './proto';

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}
export function attrInt(node: NodeProto, name: string, dflt: number): number {
  const a = attr(node, name);
  return a ? Number(a.i) : dflt;
}
export function attrFloat(node: NodeProto, name: string, dflt: number): number {
  const a = attr(node, name);
  return a ? a.f : dflt;
}
export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? a.ints.map((x) => Number(x)) : undefined;
}
export function attrString(node: NodeProto, name: string, dflt: string): string {
  const a = attr(node, name);
  return a ? new TextDecoder().decode(a.s) : dflt;
}
