import { describe, expect, it } from 'vitest';
import { autoLayout, freePosition, overlappingPairs } from '../../../../renderer/src/features/pipeline/pipeline-layout';
import { createPipelineStore } from '../../../../renderer/src/features/pipeline/pipeline-store';
import { templateById, TEMPLATES } from '../../../../renderer/src/features/pipeline/templates';
import { excludeProblems, closestName } from '../../../../renderer/src/features/pipeline/exclude-check';

describe('pipeline node placement', () => {
  it('puts every palette node on a free spot, even when added many times at the same place', () => {
    const store = createPipelineStore(templateById('ptq')!.build());
    for (const t of ['gptq', 'awq', 'bias-correction', 'smoothquant', 'qat-forward', 'qat-backward', 'qat-update']) store.getState().addNode(t, undefined, { x: 0, y: 0 });
    const doc = store.getState().history.present;
    expect(doc.nodes.length).toBe(14);
    expect(overlappingPairs(doc)).toEqual([]);
    // A spot taken by a node is not offered again.
    const p = freePosition(doc, 'gptq', doc.nodes[0]!.position);
    expect(p).not.toEqual(doc.nodes[0]!.position);
  });

  it('places by the drawn (measured) sizes: a node taller than its estimate is not overlapped', () => {
    const doc = templateById('ptq')!.build();
    const params = doc.nodes.find((n) => n.type === 'quant-params')!;
    // Drawn 400 px tall (a wrapped label, a three-line problem note): far beyond the estimate.
    const sizes = new Map([[params.id, { width: 210, height: 400 }]]);
    // Just below where its estimate ends: free by the estimate, inside the drawn node.
    const near = { x: params.position.x, y: params.position.y + 200 };
    const p = freePosition({ ...doc, nodes: [params], edges: [] }, 'gptq', near, sizes);
    const clear = p.x >= params.position.x + 210 || p.y >= params.position.y + 400 || p.x + 210 <= params.position.x;
    expect(clear, JSON.stringify(p)).toBe(true);
    // Auto-layout spaces the tall node's successors below its measured bottom.
    const laid = autoLayout(doc, sizes);
    const lp = laid.nodes.find((n) => n.id === params.id)!.position;
    for (const e of laid.edges.filter((x) => x.source === params.id)) expect(laid.nodes.find((n) => n.id === e.target)!.position.y).toBeGreaterThanOrEqual(lp.y + 400);
  });

  it('lays out every template top to bottom without overlaps, as one undo step', () => {
    for (const t of TEMPLATES) {
      const store = createPipelineStore(t.build());
      const before = store.getState().history.present;
      // Pile every node on one spot first: the layout must separate them.
      store.getState().load({ ...before, nodes: before.nodes.map((n) => ({ ...n, position: { x: 0, y: 0 } })) });
      expect(overlappingPairs(store.getState().history.present).length).toBeGreaterThan(0);
      store.getState().layout();
      const doc = store.getState().history.present;
      expect(overlappingPairs(doc), t.id).toEqual([]);
      const y = (id: string) => doc.nodes.find((n) => n.id === id)!.position.y;
      for (const e of doc.edges) {
        const loop = doc.nodes.find((n) => n.id === e.source)?.type === 'qat-update';
        if (!loop) expect(y(e.source), `${t.id} ${e.id}`).toBeLessThan(y(e.target));
      }
      store.getState().undo();
      expect(overlappingPairs(store.getState().history.present).length).toBeGreaterThan(0);
    }
    expect(autoLayout(templateById('ptq')!.build()).nodes.length).toBe(7);
  });

  it('keeps node and edge selection exclusive', () => {
    const store = createPipelineStore(templateById('ptq')!.build());
    const edge = store.getState().history.present.edges[0]!.id;
    store.getState().select('calibrate');
    store.getState().selectEdge(edge);
    expect(store.getState().selected).toBeNull();
    store.getState().select('calibrate');
    expect(store.getState().selectedEdge).toBeNull();
    store.getState().selectEdge(edge);
    store.getState().removeEdges([edge]);
    expect(store.getState().selectedEdge).toBeNull();
  });
});

describe('exclude-list check', () => {
  const names = new Set(['/0/0.0/Conv', '/6/6.0/Conv', '/9/Gemm']);
  it('flags unknown names on the Quantization params node, with a near real name', () => {
    const doc = templateById('ptq')!.build();
    const params = doc.nodes.find((n) => n.type === 'quant-params')!;
    params.params.exclude = '/9/Gemm, /6/6.0/Convv, totally_else';
    const p = excludeProblems(doc, names);
    expect(p).toHaveLength(1);
    expect(p[0]!.nodeId).toBe(params.id);
    expect(p[0]!.message).toBe("Exclude nodes: the model has no node '/6/6.0/Convv' (did you mean '/6/6.0/Conv'?), 'totally_else'.");
    params.params.exclude = '/9/Gemm';
    expect(excludeProblems(doc, names)).toEqual([]);
    expect(excludeProblems(doc, null)).toEqual([]);
    expect(closestName('zzzzzz', names)).toBeUndefined();
  });
});

describe('exclude toggled from the graph', () => {
  it('adds a node name once and removes it again, keeping the others', async () => {
    const { toggleExcluded, excludedNames } = await import('../../../../renderer/src/features/pipeline/exclude-toggle');
    const doc = templateById('ptq')!.build();
    doc.nodes.find((n) => n.type === 'quant-params')!.params.exclude = '/9/Gemm';
    const on = toggleExcluded(doc, '/0/0.0/Conv')!;
    expect(excludedNames(on)).toEqual(['/9/Gemm', '/0/0.0/Conv']);
    expect(excludedNames(toggleExcluded(on, '/0/0.0/Conv')!)).toEqual(['/9/Gemm']);
    expect(excludedNames(doc)).toEqual(['/9/Gemm']);
    expect(toggleExcluded({ ...doc, nodes: doc.nodes.filter((n) => n.type !== 'quant-params') }, 'x')).toBeUndefined();
  });
});
