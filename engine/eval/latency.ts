// Latency of one model under onnxruntime-node: fixed input, given thread count, warm-up runs, then
// the median of N timed runs. FP32 and quantized models are measured the same way, in the same process.
import { performance } from 'node:perf_hooks';
import type { NpyArray } from '../data/npy';
import { createSession } from '../runtime/session';
import { feedsFor } from '../runtime/batching';

export interface LatencyResult {
  medianMs: number;
  minMs: number;
  /** Process CPU time per run: with one thread this is the compute time, and it barely moves when
   *  other processes load the machine (wall time does). */
  cpuMs: number;
  runs: number;
  threads: number;
  batch: number;
}

export async function measureLatency(model: string | Uint8Array, inputs: Record<string, NpyArray>, o: { threads?: number; warmup?: number; runs?: number; batch?: number } = {}): Promise<LatencyResult> {
  const threads = o.threads ?? 1;
  const s = await createSession(model, { device: 'cpu', threads });
  const batch = Math.min(o.batch ?? 1, ...Object.values(inputs).map((a) => a.shape[0]!));
  const feeds = feedsFor(inputs, 0, batch);
  try {
    for (let i = 0; i < (o.warmup ?? 5); i++) await s.run(feeds);
    const times: number[] = [];
    const c0 = process.cpuUsage();
    for (let i = 0; i < (o.runs ?? 20); i++) {
      const t0 = performance.now();
      await s.run(feeds);
      times.push(performance.now() - t0);
    }
    const c = process.cpuUsage(c0);
    const cpuMs = (c.user + c.system) / 1000 / times.length;
    times.sort((x, y) => x - y);
    const mid = times.length >> 1;
    const medianMs = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
    return { medianMs, minMs: times[0]!, cpuMs, runs: times.length, threads, batch };
  } finally {
    await s.release();
  }
}

export interface CompareOptions { threads?: number; warmup?: number; runs?: number; batch?: number; rounds?: number }

/**
 * Latency of several models measured side by side: every session is created and warmed up first,
 * then `rounds` rounds each run every model `runs / rounds` times in turn (A B C, A B C, ...), so a
 * burst of load from other processes hits all of them alike. Per model: the median over rounds of
 * each round's wall-clock median, and of each round's process CPU time per run.
 */
export async function compareLatencyMany(models: (string | Uint8Array)[], inputs: Record<string, NpyArray>, o: CompareOptions = {}): Promise<LatencyResult[]> {
  const threads = o.threads ?? 1;
  const rounds = Math.max(1, o.rounds ?? 7);
  const perRound = Math.max(1, Math.ceil((o.runs ?? 21) / rounds));
  const batch = Math.min(o.batch ?? 1, ...Object.values(inputs).map((a) => a.shape[0]!));
  const feeds = feedsFor(inputs, 0, batch);
  const sessions = [];
  try {
    for (const m of models) {
      const s = await createSession(m, { device: 'cpu', threads });
      sessions.push(s);
      for (let i = 0; i < (o.warmup ?? 5); i++) await s.run(feeds);
    }
    const wall = models.map(() => [] as number[]), cpu = models.map(() => [] as number[]), mins = models.map(() => Infinity);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < sessions.length; k++) {
        const times: number[] = [];
        const c0 = process.cpuUsage();
        for (let i = 0; i < perRound; i++) {
          const t0 = performance.now();
          await sessions[k]!.run(feeds);
          times.push(performance.now() - t0);
        }
        const c = process.cpuUsage(c0);
        wall[k]!.push(median(times));
        cpu[k]!.push((c.user + c.system) / 1000 / perRound);
        mins[k] = Math.min(mins[k]!, ...times);
      }
    }
    return models.map((_, k) => ({ medianMs: median(wall[k]!), minMs: mins[k]!, cpuMs: median(cpu[k]!), runs: rounds * perRound, threads, batch }));
  } finally {
    for (const s of sessions) await s.release();
  }
}

function median(x: number[]): number {
  const y = [...x].sort((p, q) => p - q), mid = y.length >> 1;
  return y.length % 2 ? y[mid]! : (y[mid - 1]! + y[mid]!) / 2;
}

/** Two models, interleaved (compareLatencyMany): `ratio` wall b/a, `cpuRatio` CPU time b/a. */
export async function compareLatency(a: string | Uint8Array, b: string | Uint8Array, inputs: Record<string, NpyArray>, o: CompareOptions = {}): Promise<{ a: LatencyResult; b: LatencyResult; ratio: number; cpuRatio: number }> {
  const [A, B] = await compareLatencyMany([a, b], inputs, o);
  return { a: A!, b: B!, ratio: B!.medianMs / A!.medianMs, cpuRatio: B!.cpuMs / A!.cpuMs };
}
