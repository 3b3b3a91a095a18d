// Run a model over sample-major inputs in batches and hand each batch's outputs to a callback.
import type { NpyArray } from '../data/npy';
import { runRanges, feedsFor, sampleCount } from '../runtime/batching';
import type { StudioSession } from '../runtime/session';
import type { ort } from '../runtime/session';
import { throwIfCancelled, type WorkContext } from '../util/work-context';

export async function forEachBatch(
  s: StudioSession, inputs: Record<string, NpyArray>, batchSize: number,
  fn: (out: Record<string, ort.Tensor>, start: number, end: number) => void,
  opts: { outputs?: readonly string[]; limit?: number; ctx?: WorkContext; stage?: string } = {},
): Promise<number> {
  const total = Math.min(opts.limit ?? Infinity, sampleCount(inputs));
  for (const [a, b] of runRanges(inputs, total, batchSize)) {
    throwIfCancelled(opts.ctx);
    const out = await s.run(feedsFor(inputs, a, b), opts.outputs);
    fn(out, a, b);
    opts.ctx?.onProgress?.({ stage: opts.stage ?? 'evaluate', fraction: b / total });
  }
  return total;
}
