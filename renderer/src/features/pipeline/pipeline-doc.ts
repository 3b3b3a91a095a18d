// The saved form of a pipeline graph: what the editor edits, what the project stores, what the
// compiler turns into a recipe. Positions are kept so a reopened pipeline looks the same.
import { defaultParams, type Params } from './node-types';

export interface PipelineNode {
  id: string;
  type: string;
  position: { x: number; y: number };
  params: Params;
}

export interface PipelineEdge {
  id: string;
  source: string;
  target: string;
}

export interface PipelineDoc {
  version: 1;
  name: string;
  nodes: PipelineNode[];
  edges: PipelineEdge[];
}

export function edgeId(source: string, target: string): string {
  return `${source}->${target}`;
}

/** Build a doc from a chain of node types laid out left to right, with parameter overrides. */
export function chainDoc(name: string, chain: { id: string; type: string; params?: Params }[], extraEdges: [string, string][] = []): PipelineDoc {
  const nodes: PipelineNode[] = chain.map((c, i) => ({
    id: c.id,
    type: c.type,
    // Columns of five, top to bottom: readable at the editor's zoom without scrolling.
    position: { x: Math.floor(i / 5) * 280, y: (i % 5) * 145 },
    params: { ...defaultParams(c.type), ...(c.params ?? {}) },
  }));
  const edges: PipelineEdge[] = [];
  for (let i = 1; i < chain.length; i++) edges.push({ id: edgeId(chain[i - 1]!.id, chain[i]!.id), source: chain[i - 1]!.id, target: chain[i]!.id });
  for (const [s, t] of extraEdges) edges.push({ id: edgeId(s, t), source: s, target: t });
  return { version: 1, name, nodes, edges };
}

/** Parse a stored doc, tolerating nothing malformed: returns undefined when the JSON is not a pipeline. */
export function asPipelineDoc(v: unknown): PipelineDoc | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const d = v as Partial<PipelineDoc>;
  if (d.version !== 1 || !Array.isArray(d.nodes) || !Array.isArray(d.edges)) return undefined;
  return { version: 1, name: typeof d.name === 'string' ? d.name : 'Pipeline', nodes: d.nodes, edges: d.edges };
}
