// Worker-thread entry for weightStats (engine/api/tensor-stats.ts): computes once on the input it was
// started with, posts { ok, result } or { ok: false, error }, and is then terminated by its caller.
import { parentPort, workerData } from 'node:worker_threads';
import { weightStats, type WeightStatsInput } from './tensor-stats';
import { toErrorPayload } from '../errors';

const input = (workerData as { input: WeightStatsInput }).input;
try {
  parentPort!.postMessage({ ok: true, result: weightStats(input) });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: toErrorPayload(e) });
}
