// The QDQ planner pads a uint8 Conv's input channels to a multiple of 4 (MLAS's symmetric int8 kernel)
// only where the Pad pays for itself: a 1-channel input (engine/core/ort-cpu-costs.ts channelPadPays;
// for 3 channels the Pad cost what the kernel saved, measured by bench/ort-cpu-op-costs.ts).
import { describe, it, expect } from 'vitest';
import { create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, DataType, type ModelProto } from '../../../engine/onnx/proto';
import { makeTensor } from '../../../engine/onnx/tensor';
import { attr, valueInfo } from '../../../engine/qat/onnx-build';
import { planQdq } from '../../../engine/export/qdq-plan';
import { parseRecipe } from '../../../engine/pipeline/recipe';

/** One image Conv (cin -> 16 channels, 3x3) and a second 16 -> 16 Conv reading it. */
function imageConv(cin: number): ModelProto {
  const w = (name: string, dims: number[]) => makeTensor(name, DataType.FLOAT, dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 37) % 11) / 11 - 0.5));
  const conv = (x: string, wn: string, y: string, name: string) => create(NodeProtoSchema, { opType: 'Conv', input: [x, wn], output: [y], name, attribute: [attr.ints('pads', [1, 1, 1, 1])] });
  return create(ModelProtoSchema, {
    irVersion: 8n, opsetImport: [{ domain: '', version: 17n }],
    graph: create(GraphProtoSchema, {
      name: 'image', initializer: [w('w0', [16, cin, 3, 3]), w('w1', [16, 16, 3, 3])],
      node: [conv('x', 'w0', 'a', 'first'), conv('a', 'w1', 'y', 'second')],
      input: [valueInfo('x', DataType.FLOAT, ['N', cin, 8, 8])], output: [valueInfo('y', DataType.FLOAT, ['N', 16, 8, 8])],
    }),
  });
}

describe('QDQ plan: input-channel padding', () => {
  it('pads a 1-channel image Conv to 4 channels, not a 3-channel one, and never one whose channels are a multiple of 4', () => {
    const pad = (cin: number, recipe = {}) => planQdq(imageConv(cin), parseRecipe(recipe)).targets.map((t) => [t.node.name, t.padChannelsTo]);
    expect(pad(1)).toEqual([['first', 4], ['second', undefined]]);
    expect(pad(3)).toEqual([['first', undefined], ['second', undefined]]);
    expect(pad(2)).toEqual([['first', undefined], ['second', undefined]]);
    // int8 activations: the padded form measured slower, so no padding even for one channel.
    expect(pad(1, { activations: { dtype: 'int8', scheme: 'symmetric' } })).toEqual([['first', undefined], ['second', undefined]]);
  });
});
