import { describe, it, expect } from 'vitest';
import { loadModel, serializeModel } from '../../../engine/onnx/model-io';
import { clone, ModelProtoSchema, type ModelProto } from '../../../engine/onnx/proto';
import { fuseTanhGelu } from '../../../engine/export/qdq-gelu';
import { onnxOpset } from '../../../engine/onnx/graph';
import { readTextWindows } from '../../../engine/data/text-windows';
import { createSession } from '../../../engine/runtime/session';
import { feedsFor } from '../../../engine/runtime/batching';
import { compareTensors } from '../../../engine/eval/agreement';
import { models, sharedPath } from '../../helpers/shared';

const windows = readTextWindows(sharedPath('data', 'text', 'val.txt'), 2, 256);

async function logits(model: ModelProto): Promise<Float32Array> {
  const s = await createSession(serializeModel(model), { device: 'cpu', threads: 1 });
  try {
    const out = await s.run(feedsFor({ input_ids: windows }, 0, 2));
    return out[s.outputNames[0]!]!.data as Float32Array;
  } finally { await s.release(); }
}

describe('tanh-GELU fusion in the QDQ export', async () => {
  const { model } = await loadModel(models.gpt);

  it('replaces the 9-op tanh GELU of every block by one opset-20 Gelu, same logits', async () => {
    const m = clone(ModelProtoSchema, model);
    const before = m.graph!.node.length;
    expect(fuseTanhGelu(m, new Set())).toBe(6);
    expect(onnxOpset(m)).toBe(20);
    expect(m.irVersion >= 9n).toBe(true);
    const gelus = m.graph!.node.filter((n) => n.opType === 'Gelu');
    expect(gelus.length).toBe(6);
    expect(new TextDecoder().decode(gelus[0]!.attribute.find((a) => a.name === 'approximate')!.s)).toBe('tanh');
    expect(m.graph!.node.filter((n) => n.opType === 'Tanh').length).toBe(0);
    expect(before - m.graph!.node.length).toBe(6 * 8);
    const err = compareTensors(await logits(model), await logits(m));
    expect(err.sqnrDb).toBeGreaterThan(60);
  });

  it('leaves a GELU alone when a tensor inside it is quantized', () => {
    const m = clone(ModelProtoSchema, model);
    const tanhIn = m.graph!.node.find((n) => n.opType === 'Tanh')!.input[0]!;
    expect(fuseTanhGelu(m, new Set([tanhIn]))).toBe(5);
    expect(m.graph!.node.filter((n) => n.opType === 'Tanh').length).toBe(1);
  });
});
