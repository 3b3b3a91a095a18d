// The ONNX graph toolkit (engine/onnx/graph.ts) on real models: the graph index (producers,
// consumers counting subgraph captures, constants, unique names), the subgraph walker, declared types,
// and pruneUnused — which keeps everything a subgraph reads or returns from the graph around it.
import { describe, it, expect } from 'vitest';
import { loadModel, serializeModel } from '../../../engine/onnx/model-io';
import { walkGraphs, GraphIndex, nameAllocator, tensorInfo, outerReads, pruneUnused, makeNode, subgraphsOf } from '../../../engine/onnx/graph';
import { create, GraphProtoSchema, AttributeProtoSchema, AttributeType, ValueInfoProtoSchema, type GraphProto } from '../../../engine/onnx/proto';
import { DataType, makeTensor } from '../../../engine/onnx/tensor';
import { models } from '../../helpers/shared';
import { thirdParty } from './fixtures';

const vi = (name: string) => create(ValueInfoProtoSchema, { name });
const graphAttr = (name: string, g: GraphProto) => create(AttributeProtoSchema, { name, type: AttributeType.GRAPH, g });
const names = (g: GraphProto) => g.node.map((n) => n.name);

describe('graph index and walker', () => {
  it('producers, consumers and constants on the CNN; fresh names never collide', async () => {
    const { model } = await loadModel(models.cnn);
    const g = model.graph!;
    const idx = new GraphIndex(g);
    expect(idx.producer.get('/0/0.0/Conv_output_0')!.opType).toBe('Conv');
    expect(idx.consumersOf('/0/0.0/Conv_output_0').map((n) => n.opType)).toEqual(['Relu']);
    expect(idx.consumersOf('image').length).toBe(1);
    const conv = g.node.find((n) => n.opType === 'Conv')!;
    expect(idx.isConstant(conv.input[1]!)).toBe(true);
    expect(idx.isConstant('image')).toBe(false);
    const relu = g.node.find((n) => n.opType === 'Relu')!;
    expect(idx.unique(relu.output[0]!)).toBe(`${relu.output[0]}_1`);
    const fresh = nameAllocator(model);
    expect(fresh(relu.output[0]!)).toBe(`${relu.output[0]}_1`);
    expect(fresh(relu.output[0]!)).toBe(`${relu.output[0]}_2`);
  });

  it('walks If subgraphs (Silero v5); what bodies capture from outside counts as read by the If', async () => {
    const { model } = await loadModel(thirdParty.sileroIf);
    const visits = [...walkGraphs(model.graph!)];
    const ifs = visits.flatMap((v) => v.graph.node).filter((n) => n.opType === 'If');
    expect(ifs.length).toBe(25);
    expect(visits.length).toBe(1 + 2 * 25);
    expect(visits.some((v) => v.path.length >= 2)).toBe(true); // nested Ifs
    const idx = new GraphIndex(model.graph!);
    const top = model.graph!.node.filter((n) => n.opType === 'If');
    const captures = top.flatMap((n) => subgraphsOf(n).flatMap(({ graph }) => [...outerReads(graph)]));
    expect(captures.length).toBeGreaterThan(0);
    for (const c of captures) expect(idx.consumersOf(c).some((n) => n.opType === 'If')).toBe(true);
  });

  it('looks up declared shapes and types', async () => {
    const { model } = await loadModel(models.cnn);
    const g = model.graph!;
    const inp = tensorInfo(g, 'image')!;
    expect(inp.elemType).toBe(1);
    expect(inp.shape!.slice(1)).toEqual([1, 28, 28]);
    const conv = g.node.find((n) => n.opType === 'Conv')!;
    expect(tensorInfo(g, conv.input[1]!)!.shape!.length).toBe(4);
    expect(tensorInfo(g, 'nope')).toBeUndefined();
  });
});

describe('pruneUnused', () => {
  it('removes dead chains of any op and the initializers only they read, until nothing more goes', () => {
    const g = create(GraphProtoSchema, {
      name: 'g',
      node: [makeNode('Transpose', ['w'], ['wt'], 'deadT'), makeNode('Relu', ['wt'], ['wr'], 'deadR'), makeNode('Constant', [], ['c'], 'deadC'), makeNode('Add', ['x', 'b'], ['y'], 'live')],
      initializer: [makeTensor('w', DataType.FLOAT, [2], Float32Array.of(1, 2)), makeTensor('b', DataType.FLOAT, [1], Float32Array.of(3))],
      input: [vi('x'), vi('w')],
      output: [vi('y')],
      valueInfo: [vi('wt'), vi('y')],
    });
    pruneUnused(g);
    expect(names(g)).toEqual(['live']);
    expect(g.initializer.map((t) => t.name)).toEqual(['b']);
    expect(g.input.map((i) => i.name)).toEqual(['x']);
    expect(g.valueInfo.map((v) => v.name)).toEqual(['y']);
  });

  it('keeps what an If branch returns from the outer graph, and what a nested body reads', () => {
    // then_branch returns outer 'a' directly (no node inside reads it); else_branch holds an If whose
    // branch reads outer initializer 'w'. Both are reads of the outer graph.
    const inner = create(GraphProtoSchema, { name: 'inner', node: [makeNode('Neg', ['w'], ['nw'], 'neg')], output: [vi('nw')] });
    const innerElse = create(GraphProtoSchema, { name: 'innerElse', node: [makeNode('Identity', ['w'], ['iw'], 'id')], output: [vi('iw')] });
    const thenB = create(GraphProtoSchema, { name: 'then', output: [vi('a')] });
    const elseB = create(GraphProtoSchema, { name: 'else', node: [makeNode('If', ['cond'], ['z'], 'innerIf', [graphAttr('then_branch', inner), graphAttr('else_branch', innerElse)])], output: [vi('z')] });
    const g = create(GraphProtoSchema, {
      name: 'g',
      node: [makeNode('Relu', ['x'], ['a'], 'makeA'), makeNode('If', ['cond'], ['y'], 'if', [graphAttr('then_branch', thenB), graphAttr('else_branch', elseB)])],
      initializer: [makeTensor('w', DataType.FLOAT, [1], Float32Array.of(5)), makeTensor('unused', DataType.FLOAT, [1], Float32Array.of(0))],
      input: [vi('x'), vi('cond')],
      output: [vi('y')],
    });
    pruneUnused(g);
    expect(names(g)).toEqual(['makeA', 'if']);
    expect(g.initializer.map((t) => t.name)).toEqual(['w']);
  });

  it('leaves a real model that reads everything it holds byte-identical', async () => {
    const { model } = await loadModel(models.cnn);
    const bytes = Buffer.from(serializeModel(model));
    pruneUnused(model.graph!);
    expect(Buffer.from(serializeModel(model)).equals(bytes)).toBe(true);
  });
});
