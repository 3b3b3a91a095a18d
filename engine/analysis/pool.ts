// Runs variant tasks in parallel: a small pool of worker threads (each with one single-threaded ORT
// session at a time) that all hold the shared analysis data and take tasks from one queue. Tasks are
// independent and serialisable (engine/analysis/variant-task.ts), so the same queue could feed other
// machines. `concurrency` 1 runs them in this thread (tests, and where worker threads cannot load TS).
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { StudioError, type StudioErrorCode } from '../errors';
import { throwIfCancelled, type WorkContext } from '../util/work-context';
import { runVariant, type AnalysisShared, type VariantResult, type VariantTask } from './variant-task';

export interface PoolOptions {
  /** Workers (default: the CPU count, at most 4). */
  concurrency?: number;
  ctx?: WorkContext;
  onResult?: (r: VariantResult, done: number, total: number) => void;
}

export const defaultConcurrency = () => Math.max(1, Math.min(4, availableParallelism()));

/**
 * Workers that hold the shared analysis data for the whole analysis (started once: the GPT's weights
 * are copied to each worker once, not per batch of tasks) and run task lists handed to run().
 */
export class VariantPool {
  private workers: Worker[] = [];
  private started?: Promise<void>;
  /** Set when worker threads could not start (e.g. a bundle without the TS worker entry): tasks run here. */
  inProcess = false;
  /** `entry`: the worker script (default: worker-shim.mjs loading variant-worker.ts through tsx). */
  constructor(private readonly shared: AnalysisShared, readonly size = defaultConcurrency(), private readonly entry?: { shim: string; target: string }) {}

  private start(): Promise<void> {
    const shim = this.entry?.shim ?? fileURLToPath(new URL('../jobs/worker-shim.mjs', import.meta.url));
    const target = this.entry?.target ?? new URL('./variant-worker.ts', import.meta.url).href;
    this.started ??= Promise.all(Array.from({ length: this.size }, (_, i) => new Promise<void>((resolve, reject) => {
      const w = new Worker(shim, { workerData: { __target: target, shared: this.shared }, name: `analysis-${i}` });
      this.workers.push(w);
      w.once('message', () => resolve());
      w.once('error', reject);
    }))).then(() => undefined);
    return this.started;
  }

  async run(tasks: VariantTask[], o: Omit<PoolOptions, 'concurrency'> = {}): Promise<VariantResult[]> {
    const results = new Map<string, VariantResult>();
    let done = 0;
    const finish = (r: VariantResult) => { results.set(r.id, r); done++; o.onResult?.(r, done, tasks.length); };
    if (!this.inProcess && this.size > 1 && tasks.length > 1) {
      try { await this.start(); } catch {
        // Same tasks, same pure function: only slower. Said once in the timing (workers: 1).
        await this.close();
        this.inProcess = true;
      }
    }
    if (this.inProcess || this.size <= 1 || tasks.length <= 1) {
      for (const t of tasks) { throwIfCancelled(o.ctx); finish(await runVariant(this.shared, t)); }
      return tasks.map((t) => results.get(t.id)!);
    }
    const queue = [...tasks];
    const listeners: [Worker, (m: unknown) => void, (e: unknown) => void][] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        let failed = false;
        const fail = (e: unknown) => { if (!failed) { failed = true; reject(e); } };
        if (o.ctx?.signal?.aborted) return fail(new StudioError('CANCELLED', 'The analysis was cancelled.'));
        o.ctx?.signal?.addEventListener('abort', () => fail(new StudioError('CANCELLED', 'The analysis was cancelled.')), { once: true });
        for (const w of this.workers) {
          const next = () => {
            if (failed) return;
            const t = queue.shift();
            if (t) w.postMessage(t);
            else if (done === tasks.length) resolve();
          };
          const onMessage = (m: unknown) => {
            const r = m as { ok?: boolean; result?: VariantResult; id?: string; error?: { code: string; message: string } };
            if (!r.ok) return fail(new StudioError((r.error?.code ?? 'INTERNAL') as StudioErrorCode, `Analysis task ${r.id}: ${r.error?.message}`));
            finish(r.result!);
            next();
          };
          w.on('message', onMessage);
          w.on('error', fail);
          listeners.push([w, onMessage, fail]);
          next();
        }
      });
    } catch (e) {
      await this.close(); // a cancelled or failed run leaves no task running in a worker
      throw e;
    } finally {
      for (const [w, m, f] of listeners) { w.off('message', m); w.off('error', f); }
    }
    return tasks.map((t) => results.get(t.id)!);
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    this.started = undefined;
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** One-shot: a pool for these tasks only. */
export async function runVariantTasks(shared: AnalysisShared, tasks: VariantTask[], o: PoolOptions = {}): Promise<VariantResult[]> {
  const pool = new VariantPool(shared, Math.min(tasks.length, o.concurrency ?? defaultConcurrency()));
  try { return await pool.run(tasks, o); } finally { await pool.close(); }
}
