import { describe, expect, it } from 'vitest';
import { createPipelineStore } from '../../../../renderer/src/features/pipeline/pipeline-store';
import { initHistory, pushHistory, undo, redo, HISTORY_LIMIT } from '../../../../renderer/src/features/pipeline/history';
import { templateById } from '../../../../renderer/src/features/pipeline/templates';

describe('undo history', () => {
  it('undoes and redoes, and a new edit drops the redo branch', () => {
    let h = initHistory(0);
    h = pushHistory(h, 1);
    h = pushHistory(h, 2);
    h = undo(h);
    expect(h.present).toBe(1);
    h = redo(h);
    expect(h.present).toBe(2);
    h = undo(undo(h));
    expect(h.present).toBe(0);
    h = pushHistory(h, 5);
    expect(h.future).toEqual([]);
    expect(redo(h)).toBe(h);
    expect(undo(initHistory('x')).present).toBe('x');
  });

  it('keeps at most HISTORY_LIMIT past states', () => {
    let h = initHistory(0);
    for (let i = 1; i <= HISTORY_LIMIT + 20; i++) h = pushHistory(h, i);
    expect(h.past.length).toBe(HISTORY_LIMIT);
    expect(h.past[0]).toBe(20);
  });
});

describe('pipeline store', () => {
  it('records edits as undoable steps and drags as one step', () => {
    const store = createPipelineStore(templateById('ptq')!.build());
    const s = () => store.getState();
    const n0 = s().history.present.nodes.length;
    const id = s().addNode('gptq', { x: 10, y: 10 });
    expect(id).toBe('gptq-1');
    s().setParam(id, 'damp', 0.05);
    expect(s().history.present.nodes.find((n) => n.id === id)?.params.damp).toBe(0.05);
    for (let i = 0; i < 5; i++) s().moveNode(id, { x: 20 + i, y: 10 }, false);
    s().moveNode(id, { x: 100, y: 50 }, true);
    expect(s().history.past.length).toBe(3);
    s().undo();
    expect(s().history.present.nodes.find((n) => n.id === id)?.position).toEqual({ x: 10, y: 10 });
    s().undo();
    s().undo();
    expect(s().history.present.nodes.length).toBe(n0);
    s().redo();
    expect(s().history.present.nodes.length).toBe(n0 + 1);
  });

  it('removing a node removes its edges, and undo brings both back', () => {
    const store = createPipelineStore(templateById('ptq')!.build());
    const s = () => store.getState();
    const e0 = s().history.present.edges.length;
    s().removeNodes(['calibrate']);
    expect(s().history.present.edges.length).toBe(e0 - 2);
    s().undo();
    expect(s().history.present.edges.length).toBe(e0);
    s().connect('model', 'model');
    s().connect('model', 'data');
    expect(s().history.past.length).toBe(0);
  });
});

describe('deleting a selection', () => {
  it('removes nodes and edges reported separately as one undo step; removing nothing is no step', () => {
    const store = createPipelineStore(templateById('ptq')!.build());
    const s = () => store.getState();
    const before = s().history.present;
    s().removeElements(['export'], ['evaluate->export']);
    expect(s().history.present.nodes.some((n) => n.id === 'export')).toBe(false);
    expect(s().history.past.length).toBe(1);
    s().removeEdges(['evaluate->export']);
    s().removeNodes(['no-such-node']);
    expect(s().history.past.length).toBe(1);
    s().undo();
    expect(s().history.present).toBe(before);
  });
});
