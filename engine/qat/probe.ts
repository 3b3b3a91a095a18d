// One forward run at the training batch size that records the shape of every tensor the backward
// pass needs (they become constants of the training graph).
import type { ModelProto } from '../onnx/proto';
import { serializeModel } from '../onnx/model-io';
import { createSession, type Device, ort } from '../runtime/session';
import { addGraphOutputs } from '../quant/calibration/augment';
import { tensorsNeedingShapes } from './backward';

export async function probeShapes(model: ModelProto, feeds: Record<string, ort.Tensor>, params: readonly string[], device: Device = 'cpu'): Promise<Map<string, number[]>> {
  const names = tensorsNeedingShapes(model, params);
  const s = await createSession(serializeModel(addGraphOutputs(model, names)), { device, source: 'QAT shape probe' });
  try {
    const out = await s.run(feeds, [...new Set([...names, ...model.graph!.output.map((o) => o.name)])]);
    const shapes = new Map<string, number[]>();
    for (const [k, v] of Object.entries(feeds)) shapes.set(k, [...v.dims]);
    for (const [k, v] of Object.entries(out)) shapes.set(k, [...v.dims]);
    return shapes;
  } finally {
    await s.release();
  }
}
