// Byte-level LM data and perplexity for the weight-only tests and bench/llm-bench.ts: windows of UTF-8
// bytes from ../shared/data/text, perplexity over next-byte predictions, model bytes with weights swapped.
import { readFileSync } from 'node:fs';
import { ort, openSession } from '../../../helpers/ort';
import { sharedPath } from '../../../helpers/shared';
import type { NpyArray } from '../../../../engine/data/npy';
import { clone, ModelProtoSchema, toBinary, type ModelProto } from '../../../../engine/onnx/proto';
import { DataType, makeTensor } from '../../../../engine/onnx/tensor';

export const WINDOW = 256;

/** `count` windows of `len` bytes: back to back from the start (val), or evenly spread (train). */
export function textWindows(file: 'train.txt' | 'val.txt', count: number, len = WINDOW, spread = file === 'train.txt'): NpyArray {
  const bytes = readFileSync(sharedPath('data', 'text', file));
  const data = new BigInt64Array(count * len);
  const stride = spread ? Math.floor((bytes.length - len) / count) : len;
  for (let w = 0; w < count; w++) for (let t = 0; t < len; t++) data[w * len + t] = BigInt(bytes[w * stride + t]!);
  return { dtype: 'int64', shape: [count, len], data };
}

/** exp(mean NLL) of next-byte predictions (positions 0..len−2 predict 1..len−1) over all windows. */
export async function perplexity(model: Uint8Array | string, windows: NpyArray, opts: { threads?: number; batch?: number } = {}): Promise<number> {
  const session = await openSession(model as Uint8Array, { threads: opts.threads ?? 2, optimization: 'all' });
  const [n, len] = windows.shape as [number, number];
  const batch = opts.batch ?? 16;
  let nll = 0, count = 0;
  try {
    for (let s = 0; s < n; s += batch) {
      const e = Math.min(n, s + batch);
      const ids = (windows.data as BigInt64Array).subarray(s * len, e * len);
      const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('int64', ids, [e - s, len]) });
      const logits = res[session.outputNames[0]!]!.data as Float32Array;
      const V = logits.length / ((e - s) * len);
      for (let b = 0; b < e - s; b++) {
        for (let t = 0; t < len - 1; t++) {
          const off = (b * len + t) * V;
          let mx = -Infinity;
          for (let v = 0; v < V; v++) if (logits[off + v]! > mx) mx = logits[off + v]!;
          let z = 0;
          for (let v = 0; v < V; v++) z += Math.exp(logits[off + v]! - mx);
          const target = Number(ids[b * len + t + 1]);
          nll += Math.log(z) + mx - logits[off + target]!;
          count++;
        }
      }
    }
  } finally {
    await session.release();
  }
  return Math.exp(nll / count);
}

/** The model's bytes with some float initializers replaced (e.g. dequantized weights). */
export function withWeights(model: ModelProto, overrides: Map<string, Float32Array>): Uint8Array {
  const m = clone(ModelProtoSchema, model);
  const g = m.graph!;
  g.initializer = g.initializer.map((t) => {
    const w = overrides.get(t.name);
    return w ? makeTensor(t.name, DataType.FLOAT, t.dims.map(Number), w) : t;
  });
  return toBinary(ModelProtoSchema, m);
}
