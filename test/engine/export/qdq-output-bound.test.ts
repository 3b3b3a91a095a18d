// A tensor that only reaches the model's outputs, directly or through ops that just move values
// (Transpose/Reshape/Concat/...), keeps float precision: detector heads read by float post-processing
// (sigmoid, box decoding) lost their scores to one 8-bit scale (BlazeFace: every score sigmoid(0)).
import { describe, it, expect } from 'vitest';
import { AttributeProtoSchema, create, ModelProtoSchema, GraphProtoSchema, OperatorSetIdProtoSchema, DataType, type ModelProto } from '../../../engine/onnx/proto';
import { floatTensor } from '../../../engine/onnx/tensor';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { planQdq } from '../../../engine/export/qdq-plan';
import { makeNode } from '../../../engine/onnx/graph';
import { valueInfo } from '../../fixtures/value-info';


function detector(): ModelProto {
  const w = (name: string, o: number, i: number) => floatTensor(name, [o, i, 1, 1], Float32Array.from({ length: o * i }, (_, k) => ((k * 37) % 11) / 11 - 0.5));
  const conv = (name: string, x: string, wn: string, y: string) => makeNode('Conv', [x, wn], [y], name);
  const perm = create(AttributeProtoSchema, { name: 'perm', type: 7, ints: [0n, 2n, 3n, 1n] });
  return create(ModelProtoSchema, {
    irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph: create(GraphProtoSchema, {
      name: 'heads', input: [valueInfo('x', ['N', 4, 8, 8])], output: [valueInfo('scores', ['N', 8, 8, 2]), valueInfo('feat', ['N', 8, 8, 8])],
      initializer: [w('w0', 8, 4), w('ws', 2, 8), w('w1', 8, 8)],
      node: [
        conv('body', 'x', 'w0', 'h'), makeNode('Relu', ['h'], ['hr'], 'relu'),
        conv('scoreHead', 'hr', 'ws', 's'), makeNode('Transpose', ['s'], ['scores'], 'toNhwc', [perm]),
        conv('inner', 'hr', 'w1', 'feat'),
      ],
    }),
  });
}

describe('QDQ plan: outputs stay float', () => {
  it('leaves a Conv output float when only value-moving ops lead it to a model output', () => {
    const plan = planQdq(detector(), parseRecipe({}));
    expect(plan.targets.map((t) => t.node.name).sort()).toEqual(['body', 'inner', 'scoreHead']); // weights still int8
    expect(plan.activations.has('s')).toBe(false);
    expect(plan.activations.has('scores')).toBe(false);
    expect(plan.activations.has('hr')).toBe(true); // inner tensors are quantized as before
  });
});
