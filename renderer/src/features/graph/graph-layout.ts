// Top-to-bottom layout of an ONNX graph with dagre (as Netron draws it). Pure: nodes and edges in,
// positions out, so it runs in the renderer without touching the DOM.
import dagre from '@dagrejs/dagre';

export interface LayoutInput { nodes: { id: string; width?: number; height?: number }[]; edges: { source: string; target: string }[] }
export interface LayoutOutput { positions: Map<string, { x: number; y: number }>; width: number; height: number }

export const NODE_W = 150;
export const NODE_H = 40;

export function layoutGraph(input: LayoutInput): LayoutOutput {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 24, ranksep: 36, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of input.nodes) g.setNode(n.id, { width: n.width ?? NODE_W, height: n.height ?? NODE_H });
  for (const e of input.edges) if (g.hasNode(e.source) && g.hasNode(e.target)) g.setEdge(e.source, e.target);
  dagre.layout(g);
  const positions = new Map<string, { x: number; y: number }>();
  for (const n of input.nodes) {
    const p = g.node(n.id) as { x: number; y: number; width: number; height: number } | undefined;
    if (p) positions.set(n.id, { x: p.x - p.width / 2, y: p.y - p.height / 2 });
  }
  const gg = g.graph() as { width?: number; height?: number };
  return { positions, width: gg.width ?? 0, height: gg.height ?? 0 };
}
