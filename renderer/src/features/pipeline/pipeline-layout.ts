// Where pipeline nodes go on the canvas: a free spot for a node added from the palette (never on top
// of another node) and a tidy top-to-bottom layout of the whole graph (the "Auto-layout" button).
// Pure functions of the doc, so the store and the tests share them.
import { layoutGraph } from '../graph/graph-layout';
import { nodeType } from './node-types';
import type { PipelineDoc } from './pipeline-doc';

/** Drawn node size (.qs-pnode is 210 px wide; the height grows with the parameters it shows). */
export const PNODE_W = 210;
/**
 * A node's height before it is drawn: header 30 + body padding 12 + one 18-px line per parameter + room
 * for a one-line problem note. Once drawn, the size React Flow measured is used instead (NodeSizes).
 */
export function pnodeHeight(type: string): number {
  const shown = Math.min(4, Math.max(1, nodeType(type)?.parameters.length ?? 1));
  return 30 + 12 + 18 * shown + 30;
}
/** A node fresh from the palette is unconnected, so it shows a problem note: room for all three of its lines. */
const NEW_NODE_NOTE = 30;

/** Sizes of drawn nodes as React Flow measured them (flow units), by node id. */
export type NodeSizes = ReadonlyMap<string, { width: number; height: number }>;

const GAP = 24;

function overlaps(a: { x: number; y: number; w: number; h: number }, b: { x: number; y: number; w: number; h: number }): boolean {
  return a.x < b.x + b.w + GAP && b.x < a.x + a.w + GAP && a.y < b.y + b.h + GAP && b.y < a.y + a.h + GAP;
}

/**
 * The first spot for a new node of `type` that overlaps no existing node: scanned row by row from
 * `near` (the visible area's top-left, when the view knows it), on a grid of node-sized steps.
 * `sizes`: the drawn nodes' measured sizes (else estimated).
 */
export function freePosition(doc: PipelineDoc, type: string, near: { x: number; y: number } = { x: 0, y: 0 }, sizes?: NodeSizes): { x: number; y: number } {
  // Drawn nodes by their measured size: a label that wraps or a long problem note makes a node taller than any estimate.
  const boxes = doc.nodes.map((n) => { const m = sizes?.get(n.id); return { x: n.position.x, y: n.position.y, w: Math.max(PNODE_W, m?.width ?? 0), h: m?.height ?? pnodeHeight(n.type) }; });
  const h = pnodeHeight(type) + NEW_NODE_NOTE;
  const stepX = PNODE_W + GAP, stepY = 60;
  for (let row = 0; row < 200; row++) {
    for (let col = 0; col < 6; col++) {
      const cand = { x: Math.round(near.x + col * stepX), y: Math.round(near.y + row * stepY), w: PNODE_W, h };
      if (!boxes.some((b) => overlaps(cand, b))) return { x: cand.x, y: cand.y };
    }
  }
  // Unreachable with fewer than 1200 nodes; below everything otherwise.
  return { x: near.x, y: Math.max(0, ...boxes.map((b) => b.y + b.h)) + GAP };
}

/** Positions from a layered top-to-bottom layout (dagre; measured sizes where known); the QAT loop's back-edge does not pull ranks. */
export function autoLayout(doc: PipelineDoc, sizes?: NodeSizes): PipelineDoc {
  const typeOf = new Map(doc.nodes.map((n) => [n.id, n.type]));
  const forward = doc.edges.filter((e) => !(typeOf.get(e.source) === 'qat-update' && typeOf.get(e.target) === 'qat-forward'));
  const { positions } = layoutGraph({ nodes: doc.nodes.map((n) => { const m = sizes?.get(n.id); return { id: n.id, width: Math.max(PNODE_W, m?.width ?? 0), height: m?.height ?? pnodeHeight(n.type) }; }), edges: forward });
  return { ...doc, nodes: doc.nodes.map((n) => ({ ...n, position: positions.get(n.id) ?? n.position })) };
}

/** Pairs of nodes whose drawn boxes overlap (what the layout functions avoid; tests assert none). */
export function overlappingPairs(doc: PipelineDoc): [string, string][] {
  const out: [string, string][] = [];
  const box = (n: PipelineDoc['nodes'][number]) => ({ x: n.position.x, y: n.position.y, w: PNODE_W - GAP, h: pnodeHeight(n.type) - GAP });
  for (let i = 0; i < doc.nodes.length; i++) {
    for (let j = i + 1; j < doc.nodes.length; j++) if (overlaps(box(doc.nodes[i]!), box(doc.nodes[j]!))) out.push([doc.nodes[i]!.id, doc.nodes[j]!.id]);
  }
  return out;
}
