// Shape arithmetic collapsed on the real GPT sample (its exporter wrote Shape -> Gather -> Unsqueeze ->
// Concat chains around every Reshape): groups hold only shape bookkeeping, node counts add up between
// the collapsed and the full graph, edges only join drawn nodes, and expanding brings the members back.
// The large-graph layout keeps a 10k-node model's ranks apart and runs in linear time.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary, ModelProtoSchema } from '../../engine/onnx/proto';
import { graphView } from '../../engine/api/graph-view';
import { collapseShapeGroups, findShapeGroups, SHAPE_GROUP_OP } from '../../renderer/src/features/graph/shape-chains';
import { DAGRE_MAX_NODES, layoutGraph, NODE_H, NODE_W } from '../../renderer/src/features/graph/graph-layout';
import { residualLadder } from '../fixtures/large-graph';

const repo = join(import.meta.dirname, '../..');
const gpt = graphView(fromBinary(ModelProtoSchema, readFileSync(join(repo, 'projects-sample/moby-gpt/model.onnx'))), 'gpt');

describe('shape-arithmetic groups', () => {
  const groups = findShapeGroups(gpt);
  const byId = new Map(gpt.nodes.map((n) => [n.id, n]));

  it('finds the GPT\'s shape chains and nothing that carries data', () => {
    expect(groups.length).toBeGreaterThanOrEqual(6);
    const members = groups.flatMap((g) => g.members.map((id) => byId.get(id)!));
    expect(members.some((n) => n.opType === 'Shape')).toBe(true);
    // Every group starts from a Shape node; no layer math (MatMul, Softmax, LayerNorm) is ever folded.
    for (const g of groups) expect(g.members.some((id) => byId.get(id)!.opType === 'Shape'), g.id).toBe(true);
    for (const n of members) expect(['MatMul', 'Softmax', 'LayerNormalization', 'Tanh', 'Transpose', 'Input', 'Output']).not.toContain(n.opType);
    // The token embedding is a Gather too, but of a weight by the input ids: it stays.
    const embedding = gpt.nodes.find((n) => n.opType === 'Gather' && n.weights.length && n.inputs.some((i) => gpt.nodes.find((x) => x.opType === 'Input')!.outputs.includes(i)));
    expect(embedding).toBeDefined();
    expect(members).not.toContain(embedding);
  });

  it('keeps counts: drawn nodes + members folded - groups = the full graph', () => {
    const c = collapseShapeGroups(gpt, groups, new Set());
    const folded = groups.reduce((s, g) => s + g.members.length, 0);
    expect(c.nodes.length).toBe(gpt.nodes.length - folded + groups.length);
    expect(c.nodes.filter((n) => n.opType === SHAPE_GROUP_OP)).toHaveLength(groups.length);
    expect(c.nodes.length).toBeLessThan(gpt.nodes.length * 0.75);
    const drawn = new Set(c.nodes.map((n) => n.id));
    for (const e of c.edges) { expect(drawn.has(e.source), e.source).toBe(true); expect(drawn.has(e.target), e.target).toBe(true); expect(e.source).not.toBe(e.target); }
    // Every group still connects to the data flow it serves (a Reshape / Expand / mask op outside it).
    for (const g of groups) expect(c.edges.some((e) => e.source === g.id && !g.members.includes(e.target)), g.id).toBe(true);
  });

  it('expands one group back into its members', () => {
    const first = groups[0]!;
    const c = collapseShapeGroups(gpt, groups, new Set([first.id]));
    const drawn = new Set(c.nodes.map((n) => n.id));
    expect(drawn.has(first.id)).toBe(false);
    for (const m of first.members) expect(drawn.has(m)).toBe(true);
    expect(c.nodes.length).toBe(collapseShapeGroups(gpt, groups, new Set()).nodes.length - 1 + first.members.length);
  });

  it('finds nothing to fold in a model without shape arithmetic', () => {
    expect(findShapeGroups(graphView(residualLadder(40), 'ladder'))).toEqual([]);
  });
});

describe('large-graph layout', () => {
  it('lays out a 10k-node model fast, ranks top to bottom, no two nodes on top of each other', () => {
    const g = graphView(residualLadder(10_000), 'ladder');
    expect(g.nodes.length).toBeGreaterThan(DAGRE_MAX_NODES);
    const t0 = performance.now();
    const { positions } = layoutGraph({ nodes: g.nodes.map((n) => ({ id: n.id, width: NODE_W, height: NODE_H })), edges: g.edges });
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(2_000);
    expect(positions.size).toBe(g.nodes.length);
    for (const e of g.edges) expect(positions.get(e.target)!.y, `${e.source} -> ${e.target}`).toBeGreaterThan(positions.get(e.source)!.y);
    const cells = new Set<string>();
    for (const p of positions.values()) {
      const key = `${Math.round(p.x)}:${Math.round(p.y)}`;
      expect(cells.has(key)).toBe(false);
      cells.add(key);
    }
    const rows = new Map<number, number[]>();
    for (const p of positions.values()) rows.set(p.y, [...(rows.get(p.y) ?? []), p.x]);
    for (const xs of rows.values()) { xs.sort((a, b) => a - b); for (let i = 1; i < xs.length; i++) expect(xs[i]! - xs[i - 1]!).toBeGreaterThanOrEqual(NODE_W); }
  });
});
