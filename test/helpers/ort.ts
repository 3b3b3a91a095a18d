// Tests open onnxruntime sessions as the engine does, through engine/runtime/session.ts (same
// provider choice, thread and optimisation options, external-data folder for models given as bytes,
// load errors as StudioErrors naming the model). `npm run lint` (rule ort-through-runtime) refuses
// onnxruntime-node imported anywhere else but engine/runtime/ and this file.
import { createSession, ort, type SessionOptions } from '../../engine/runtime/session';

export { ort };

/** An onnxruntime session on the CPU (tests compare against CPU figures whatever the machine has). */
export async function openSession(model: string | Uint8Array, o: SessionOptions = {}): Promise<ort.InferenceSession> {
  return (await createSession(model, { device: 'cpu', ...o })).session;
}
