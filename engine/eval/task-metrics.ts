// Task metrics on real data: classification top-1 on labels, byte-LM perplexity on windows.
import type { NpyArray } from '../data/npy';
import type { StudioSession } from '../runtime/session';
import type { WorkContext } from '../util/work-context';
import { StudioError, quote } from '../errors';
import { argmaxRows } from './agreement';
import { forEachBatch } from './run-batches';

export async function top1Accuracy(s: StudioSession, inputs: Record<string, NpyArray>, labels: NpyArray, o: { batchSize?: number; output?: string; ctx?: WorkContext } = {}): Promise<number> {
  const output = o.output ?? s.outputNames[0]!;
  let correct = 0;
  const n = await forEachBatch(s, inputs, o.batchSize ?? 256, (out, a) => {
    const t = out[output]!;
    const classes = Number(t.dims[t.dims.length - 1]);
    const pred = argmaxRows(t.data as Float32Array, classes);
    for (let i = 0; i < pred.length; i++) if (BigInt(pred[i]!) === BigInt(labels.data[a + i] as bigint | number)) correct++;
  }, { outputs: [output], limit: labels.shape[0], ctx: o.ctx });
  return n ? correct / n : 0;
}

/**
 * Perplexity of a byte-level LM: exp of the mean next-byte cross-entropy over each window
 * (logits [B,T,V] predict ids[t+1] from position t).
 */
export async function perplexity(s: StudioSession, ids: NpyArray, o: { batchSize?: number; input?: string; output?: string; ctx?: WorkContext; inputs?: Record<string, NpyArray> } = {}): Promise<number> {
  // `inputs`: the model's other inputs (attention_mask, position_ids, an empty cache: validateInputs
  // derives them from the token ids), fed alongside the windows.
  const input = o.input ?? (s.inputNames.includes('input_ids') ? 'input_ids' : s.inputNames[0]!);
  const output = o.output ?? s.outputNames[0]!;
  if (ids.dtype !== 'int64' || ids.shape.length !== 2) throw new StudioError('BAD_DATA', `Perplexity needs int64 [B,T] token windows, got ${ids.dtype} ${quote(ids.shape)}.`);
  const T = ids.shape[1]!;
  let nll = 0, count = 0;
  await forEachBatch(s, { ...(o.inputs ?? {}), [input]: ids }, o.batchSize ?? 8, (out, a, b) => {
    const logits = out[output]!.data as Float32Array;
    const V = Number(out[output]!.dims[2]);
    for (let r = 0; r < b - a; r++) {
      for (let t = 0; t < T - 1; t++) {
        const base = (r * T + t) * V;
        let m = -Infinity;
        for (let v = 0; v < V; v++) if (logits[base + v]! > m) m = logits[base + v]!;
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(logits[base + v]! - m);
        const target = Number(ids.data[(a + r) * T + t + 1] as bigint);
        nll += Math.log(sum) + m - logits[base + target]!;
        count++;
      }
    }
  }, { outputs: [output], ctx: o.ctx });
  return Math.exp(nll / count);
}
