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

/** Median latency of two models interleaved run by run, so machine noise hits both alike. */
export async function compareLatency(a: string | Uint8Array, b: string | Uint8Array, inputs: Record<string, NpyArray>, o: { threads?: number; warmup?: number; runs?: number; batch?: number } = {}): Promise<{ a: LatencyResult; b: LatencyResult; ratio: number; cpuRatio: number; minRatio: number }> {
  const rounds = 3;
  const ra: number[] = [], rb: number[] = [], ca: number[] = [], cb: number[] = [], ma: number[] = [], mb: number[] = [];
  let la: LatencyResult | undefined, lb: LatencyResult | undefined;
  for (let i = 0; i < rounds; i++) {
    la = await measureLatency(a, inputs, { ...o, runs: Math.ceil((o.runs ?? 21) / rounds) });
    lb = await measureLatency(b, inputs, { ...o, runs: Math.ceil((o.runs ?? 21) / rounds) });
    ra.push(la.medianMs); rb.push(lb.medianMs); ca.push(la.cpuMs); cb.push(lb.cpuMs); ma.push(la.minMs); mb.push(lb.minMs);
  }
  const med = (x: number[]) => x.sort((p, q) => p - q)[x.length >> 1]!;
  // minMs over all rounds (it was the last round's only), and its ratio: on a loaded machine a longer
  // run is preempted more often (each preemption adds a scheduler slice, ~4 ms here), which inflates the
  // slower model's median far more than the faster one's; the minimum is the uncontended time.
  const A = { ...la!, medianMs: med(ra), cpuMs: med(ca), minMs: Math.min(...ma), runs: la!.runs * rounds };
  const B = { ...lb!, medianMs: med(rb), cpuMs: med(cb), minMs: Math.min(...mb), runs: lb!.runs * rounds };
  return { a: A, b: B, ratio: B.medianMs / A.medianMs, cpuRatio: B.cpuMs / A.cpuMs, minRatio: B.minMs / A.minMs };
}
