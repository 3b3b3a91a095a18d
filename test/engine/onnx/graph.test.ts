import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { loadModel, serializeModel } from '../../../engine/onnx/model-io';
import { walkGraphs, producerMap, consumerMap, topologicalOrder, sortTopologically, nameAllocator, outerScopeInputs, tensorInfo, removeNode, insertNodes, replaceInputs, allNodes } from '../../../engine/onnx/graph';
import { create, NodeProtoSchema, GraphProtoSchema, AttributeProtoSchema, AttributeType, ValueInfoProtoSchema } from '../../../engine/onnx/proto';
import { models } from '../../helpers/shared';
import { thirdParty } from './fixtures';
import { fmnistImages } from '../quant/calibrators/fmnist-activations';

const node = (opType: string, input: string[], output: string[], name = output[0]!, attribute: ReturnType<typeof create<typeof AttributeProtoSchema>>[] = []) =>
  create(NodeProtoSchema, { name, opType, input, output, attribute });

describe('graph helpers', () => {
  it('producer/consumer maps and a stable topological order on the CNN', async () => {
    const { model } = await loadModel(models.cnn);
    const g = model.graph!;
    const prod = producerMap(g), cons = consumerMap(g);
    expect(prod.get('/0/0.0/Conv_output_0')!.opType).toBe('Conv');
    expect(cons.get('/0/0.0/Conv_output_0')!.map((n) => n.opType)).toEqual(['Relu']);
    expect(cons.get('image')!.length).toBe(1);
    const original = [...g.node];
    expect(topologicalOrder(g)).toEqual(original);
    g.node.reverse();
    sortTopologically(g);
    expect(g.node).toEqual(original);
    // a cycle is reported with the node's name
    g.node[0]!.input[0] = g.node[g.node.length - 1]!.output[0]!;
    expect(() => topologicalOrder(g)).toThrow(/cycle.*\/0\/0\.0\/Conv/);
  });

  it('inserting an Identity and removing it again (bypass) restores the exact model', async () => {
    const { model } = await loadModel(models.cnn);
    const bytes = Buffer.from(serializeModel(model));
    const g = model.graph!;
    const relu = g.node.find((n) => n.opType === 'Relu')!;
    const fresh = nameAllocator(model);
    const out = fresh(relu.output[0]!);
    expect(out).toBe(`${relu.output[0]}_1`);
    const id = node('Identity', [relu.output[0]!], [out], fresh('probe'));
    insertNodes(g, [id], { after: relu });
    expect(replaceInputs(g, relu.output[0]!, out, [id])).toBe(1); // every reader but the probe now reads the probe
    expect(topologicalOrder(g)).toEqual(g.node);
    const s = await ort.InferenceSession.create(serializeModel(model));
    const x = fmnistImages(4);
    const y = await s.run({ image: new ort.Tensor('float32', x, [4, 1, 28, 28]) });
    const s0 = await ort.InferenceSession.create(bytes);
    const y0 = await s0.run({ image: new ort.Tensor('float32', x, [4, 1, 28, 28]) });
    expect(Array.from(y.logits!.data as Float32Array)).toEqual(Array.from(y0.logits!.data as Float32Array));
    removeNode(g, id, { bypass: true });
    expect(Buffer.from(serializeModel(model)).equals(bytes)).toBe(true);
  });

  it('walks If subgraphs (Silero v5) and sees what bodies capture from outside', async () => {
    const { model } = await loadModel(thirdParty.sileroIf);
    const visits = [...walkGraphs(model.graph!)];
    const ifs = [...allNodes(model)].filter((x) => x.node.opType === 'If');
    expect(ifs.length).toBe(25);
    expect(visits.length).toBe(1 + 2 * 25);
    expect(visits.some((v) => v.path.length >= 2)).toBe(true); // nested Ifs
    const top = model.graph!.node.filter((n) => n.opType === 'If');
    const captures = top.flatMap((n) => [...outerScopeInputs(n)]);
    expect(captures.length).toBeGreaterThan(0);
    const cons = consumerMap(model.graph!);
    for (const c of captures) expect(cons.get(c)!.some((n) => n.opType === 'If')).toBe(true);
    expect(topologicalOrder(model.graph!).length).toBe(model.graph!.node.length);
  });

  it('orders a producer before an If whose branch reads its output', () => {
    const branch = (v: string) => create(GraphProtoSchema, { name: v, node: [node('Identity', ['a'], [`${v}_out`])], output: [create(ValueInfoProtoSchema, { name: `${v}_out` })] });
    const iff = node('If', ['cond'], ['y'], 'if0', [
      create(AttributeProtoSchema, { name: 'then_branch', type: AttributeType.GRAPH, g: branch('then') }),
      create(AttributeProtoSchema, { name: 'else_branch', type: AttributeType.GRAPH, g: branch('else') }),
    ]);
    const makeA = node('Relu', ['x'], ['a'], 'makeA');
    const g = create(GraphProtoSchema, { name: 'g', node: [iff, makeA] });
    expect(topologicalOrder(g).map((n) => n.name)).toEqual(['makeA', 'if0']);
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
