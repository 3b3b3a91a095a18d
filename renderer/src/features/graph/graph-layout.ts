// Top-to-bottom layout of an ONNX graph with dagre (as Netron draws it), or for large graphs a simple
// layered layout in linear time. Pure: nodes and edges in, positions out, so it runs in the renderer
// without touching the DOM.
import dagre from '@dagrejs/dagre';

export interface LayoutInput { nodes: { id: string; width?: number; height?: number }[]; edges: { source: string; target: string }[] }
export interface LayoutOutput { positions: Map<string, { x: number; y: number }>; width: number; height: number }

export const NODE_W = 150;
export const NODE_H = 40;

/**
 * Above this many nodes dagre is too slow (about 9 s for 1,000 nodes on a busy 2-core machine) and its
 * recursion overflows the stack at a few thousand; a linear-time layered layout takes over.
 */
export const DAGRE_MAX_NODES = 800;

export function layoutGraph(input: LayoutInput): LayoutOutput {
  if (input.nodes.length > DAGRE_MAX_NODES) return layeredLayout(input);
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

const NODESEP = 24, RANKSEP = 36, MARGIN = 10;

/**
 * Layered top-to-bottom layout in O(nodes + edges): rank = longest path from a source (Kahn order; a
 * cycle's rest goes below), each node placed under the mean x of its predecessors, pushed right past
 * its left neighbour in the rank. Not dagre's crossing minimisation, but a chain stays a straight column.
 */
export function layeredLayout(input: LayoutInput): LayoutOutput {
  const ids = input.nodes.map((n) => n.id);
  const index = new Map(ids.map((id, i) => [id, i]));
  const w = input.nodes.map((n) => n.width ?? NODE_W), h = input.nodes.map((n) => n.height ?? NODE_H);
  const preds: number[][] = ids.map(() => []), succs: number[][] = ids.map(() => []);
  for (const e of input.edges) {
    const a = index.get(e.source), b = index.get(e.target);
    if (a === undefined || b === undefined || a === b) continue;
    preds[b]!.push(a); succs[a]!.push(b);
  }
  const indeg = preds.map((p) => p.length);
  const rank = new Array<number>(ids.length).fill(0);
  const order: number[] = [];
  const queue: number[] = [];
  for (let i = 0; i < ids.length; i++) if (indeg[i] === 0) queue.push(i);
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q]!;
    order.push(v);
    for (const s of succs[v]!) { rank[s] = Math.max(rank[s]!, rank[v]! + 1); if (--indeg[s]! === 0) queue.push(s); }
  }
  if (order.length < ids.length) {
    // Nodes on a cycle: below everything placed so far, in model order.
    let r = Math.max(0, ...rank) + 1;
    for (let i = 0; i < ids.length; i++) if (indeg[i]! > 0) { rank[i] = r++; order.push(i); }
  }
  const ranks: number[][] = [];
  for (const v of order) (ranks[rank[v]!] ??= []).push(v);
  const x = new Array<number>(ids.length).fill(0), y = new Array<number>(ids.length).fill(0);
  let top = MARGIN, minX = Infinity, maxX = -Infinity;
  for (const row of ranks) {
    if (!row) continue;
    const want = (v: number) => (preds[v]!.length ? preds[v]!.reduce((s, p) => s + x[p]! + w[p]! / 2, 0) / preds[v]!.length - w[v]! / 2 : 0);
    const sorted = row.map((v) => [v, want(v)] as const).sort((a, b) => a[1] - b[1]);
    let right = -Infinity, height = 0;
    for (const [v, wx] of sorted) {
      x[v] = Math.max(wx, right + NODESEP);
      right = x[v]! + w[v]!;
      y[v] = top;
      height = Math.max(height, h[v]!);
      minX = Math.min(minX, x[v]!); maxX = Math.max(maxX, right);
    }
    top += height + RANKSEP;
  }
  const positions = new Map<string, { x: number; y: number }>();
  const shift = Number.isFinite(minX) ? MARGIN - minX : 0;
  for (let i = 0; i < ids.length; i++) positions.set(ids[i]!, { x: x[i]! + shift, y: y[i]! });
  return { positions, width: Number.isFinite(maxX) ? maxX - minX + 2 * MARGIN : 0, height: top - RANKSEP + MARGIN };
}
