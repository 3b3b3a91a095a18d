// The job runner: each run executes in its own worker thread. It records the run in the store
// (queued → running → succeeded | failed | cancelled), streams progress and logs to `emit`, honours
// cancel (AbortSignal in the worker; after a grace period see below), and publishes a job's output
// files only when the job succeeds: a job that throws, is cancelled or whose worker dies leaves the run
// marked failed/cancelled with its error and no artifact (its scratch folder is removed).
//
// A job that does not stop within the grace period: pure-JS kinds ('selftest') are terminate()d. Kinds
// that call native code (onnxruntime) are NOT: terminating a thread inside an ORT call aborts the whole
// process ("terminate called after throwing an instance of 'Napi::Error'"). Such a run is marked
// cancelled at once and its worker detached: it stops at its next cancellation check, its output is
// discarded and its scratch folder removed when it exits.
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, rmSync } from 'node:fs';
import { link, lstat, mkdir, rename, rm, unlink } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventName, EventOf, Json, RunInfo } from '../../contract/ipc';
import { StudioError, quote, toErrorPayload } from '../errors';
import type { Store } from '../store/store';
import type { FromWorker, JobOutcome, JobWorkerData } from './protocol';

export interface JobRunnerOptions {
  store: Store;
  emit?: <E extends EventName>(event: E, payload: EventOf<E>) => void;
  /** A bundled worker entry (Electron build: electron-vite `?modulePath`). Default: worker.ts via the tsx shim. */
  workerPath?: string;
  /** How long a cancelled job may take to stop before it is terminated or detached (ms). */
  graceMs?: number;
  /** Job kinds whose threads may be terminate()d (no native calls in flight). Default: ['selftest']. */
  terminableKinds?: string[];
  /** Jobs running at once; more wait queued. */
  concurrency?: number;
  /**
   * Test-only kinds (default ['selftest']: it can hang on request). They run in their own slots
   * (`testConcurrency`, default 1), so they can never occupy the slots real jobs need.
   */
  testKinds?: string[];
  testConcurrency?: number;
  /** Minimum interval between progress writes to the store (ms); events are forwarded as they come. */
  progressWriteMs?: number;
}

interface Active {
  run: RunInfo;
  worker?: Worker;
  cancelRequested: boolean;
  graceTimer?: NodeJS.Timeout;
  done: Promise<RunInfo>;
  resolve: (r: RunInfo) => void;
  params: { [k: string]: Json };
  /** Counted in `running` (taken from the queue). */
  counted?: boolean;
  /** The run has been recorded as ended; later worker messages are ignored. */
  ended?: boolean;
  /** The worker reported done/error: the outcome is being recorded (too late to cancel). */
  settled?: boolean;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('error', rej).on('end', () => res(h.digest('hex')));
  });
}

const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i;

/**
 * The file name an artifact gets in its run folder: a job names its outputs from user input (the
 * outputName param, a model's name). Control characters (CR/LF broke the download header), path
 * separators, characters Windows refuses and lone surrogates become '_'; leading dots go (a '.work' output was renamed
 * onto the run's own scratch folder and failed the run; dot files are hidden); at most 200 UTF-8 bytes.
 */
export function artifactFileName(name: string): string {
  // Lone surrogates first: a file system writes them as U+FFFD while the store would keep them, and
  // encodeURIComponent (the download header) throws on them.
  let n = name.replace(/[\uD800-\uDFFF]/gu, '_').normalize('NFC').replace(/[\u0000-\u001f\u007f/\\:*?"<>|]+/g, '_').replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  if (WINDOWS_DEVICE.test(n)) n = `_${n}`;
  // Too long: shorten the stem, keep the extension (it says what the file is).
  const ext = /\.[A-Za-z0-9]{1,16}$/.exec(n)?.[0] ?? '';
  const stem = Array.from(n.slice(0, n.length - ext.length));
  while (stem.length && Buffer.byteLength(stem.join('') + ext) > 200) stem.pop();
  return (stem.join('') + ext) || 'artifact';
}

/** Move a finished output into its run folder under a safe name no other artifact of the run has. */
async function placeArtifact(src: string, runDir: string): Promise<string> {
  const safe = artifactFileName(basename(src));
  const dot = safe.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [safe.slice(0, dot), safe.slice(dot)] : [safe, ''];
  for (let i = 1; ; i++) {
    const dest = join(runDir, i === 1 ? safe : `${stem}-${i}${ext}`);
    // link() fails if dest exists: two outputs with one sanitised name never overwrite each other.
    try {
      await link(src, dest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw e;
      if (existsSync(dest)) continue; // a file system without hard links: the run folder is ours alone
      await rename(src, dest);
      return dest;
    }
    await unlink(src);
    return dest;
  }
}

/**
 * At start: runs left queued/running by a dead owner are marked failed, and the scratch folder of every
 * run that is not running any more is removed (a killed job leaves its partial output and its QAT
 * checkpoints there; nothing reads them again, since a new run gets a new folder). Runs of a live
 * owner and their folders are left alone. Returns the number of runs marked failed.
 */
export function recoverInterruptedRuns(store: Store): number {
  const failed = store.recoverInterruptedRuns();
  for (const p of store.listProjects()) {
    const runsDir = join(store.projectDir(p.id), 'runs');
    let ids: string[];
    try { ids = readdirSync(runsDir); } catch { continue; }
    for (const id of ids) {
      const work = join(runsDir, id, '.work');
      if (!existsSync(work)) continue;
      let live = false;
      try { live = ['queued', 'running'].includes(store.getRun(id).status); } catch { /* no such run: a leftover */ }
      if (!live) rmSync(work, { recursive: true, force: true });
    }
  }
  return failed.length;
}

export class JobRunner {
  private readonly opts: Required<Omit<JobRunnerOptions, 'emit' | 'workerPath'>> & Pick<JobRunnerOptions, 'emit' | 'workerPath'>;
  private readonly active = new Map<string, Active>();
  private readonly queue: string[] = [];
  private running = 0;
  private runningTest = 0;
  private closed = false;
  /** Threads of ended runs that have not exited yet (detached after cancel, or finishing up). */
  private readonly lingering = new Set<Promise<void>>();

  constructor(opts: JobRunnerOptions) {
    this.opts = { graceMs: 2000, concurrency: 2, progressWriteMs: 100, terminableKinds: ['selftest'], testKinds: ['selftest'], testConcurrency: 1, ...opts };
  }

  /** Create a run and start (or queue) its job. `params` must already be resolved to absolute paths. */
  start(req: { projectId: string; pipelineId?: string | null; kind: string; params?: { [k: string]: Json } }): RunInfo {
    if (this.closed) throw new StudioError('JOB_FAILED', 'The job runner is shut down.');
    const params = req.params ?? {};
    const run = this.opts.store.createRun({ projectId: req.projectId, pipelineId: req.pipelineId ?? null, kind: req.kind, params });
    let resolveDone!: (r: RunInfo) => void;
    const done = new Promise<RunInfo>((r) => (resolveDone = r));
    this.active.set(run.id, { run, cancelRequested: false, done, resolve: resolveDone, params });
    this.queue.push(run.id);
    this.pump();
    return this.opts.store.getRun(run.id);
  }

  /** Resolves when the run has ended (any status). */
  wait(runId: string): Promise<RunInfo> {
    const a = this.active.get(runId);
    return a ? a.done : Promise.resolve(this.opts.store.getRun(runId));
  }

  cancel(runId: string): RunInfo {
    const a = this.active.get(runId);
    if (!a || a.settled || a.ended) return this.opts.store.getRun(runId); // already ending: cancelling is a no-op
    a.cancelRequested = true;
    if (!a.worker) {
      const i = this.queue.indexOf(runId);
      if (i >= 0) this.queue.splice(i, 1);
      void this.finish(a, { status: 'cancelled', error: { code: 'CANCELLED', message: 'The run was cancelled before it started.' } });
      return this.opts.store.getRun(runId);
    }
    a.worker.postMessage({ type: 'cancel' });
    a.graceTimer ??= setTimeout(() => {
      if (a.ended || !a.worker) return;
      if (this.opts.terminableKinds.includes(a.run.kind)) {
        this.log(a, `cancel: the job did not stop within ${this.opts.graceMs} ms; its worker thread was terminated.`);
        void a.worker.terminate();
      } else {
        this.log(a, `cancel: the job did not stop within ${this.opts.graceMs} ms; it is left to finish its current native call in the background and its output will be discarded.`);
        a.worker.unref();
        void this.finish(a, { status: 'cancelled', error: { code: 'CANCELLED', message: 'The run was cancelled.' } }, this.workDir(a));
      }
    }, this.opts.graceMs);
    return this.opts.store.getRun(runId);
  }

  activeRunIds(): string[] {
    return [...this.active.keys()];
  }

  /**
   * Cancel everything and wait (app quit / host stop), including detached threads still inside a
   * native call (up to `lingerMs`): exiting the process under them would abort it.
   */
  async shutdown(lingerMs = 60_000): Promise<void> {
    this.closed = true;
    const waits = [...this.active.keys()].map((id) => { this.cancel(id); return this.wait(id); });
    await Promise.all(waits);
    const deadline = Date.now() + lingerMs;
    while (this.lingering.size && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(this.lingering), new Promise((r) => { timer = setTimeout(r, deadline - Date.now()); })]);
      clearTimeout(timer);
    }
  }

  private isTestKind(a: Active): boolean {
    return this.opts.testKinds.includes(a.run.kind);
  }

  /** Start queued runs in order while their pool (real jobs / test-only kinds) has a free slot. */
  private pump(): void {
    for (let i = 0; i < this.queue.length;) {
      const a = this.active.get(this.queue[i]!);
      if (!a) { this.queue.splice(i, 1); continue; }
      const test = this.isTestKind(a);
      if (test ? this.runningTest >= this.opts.testConcurrency : this.running >= this.opts.concurrency) { i++; continue; }
      this.queue.splice(i, 1);
      if (test) this.runningTest++; else this.running++;
      a.counted = true;
      void this.launch(a);
    }
  }

  private workDir(a: Active): string {
    return join(this.opts.store.projectDir(a.run.projectId), 'runs', a.run.id, '.work');
  }

  private emit<E extends EventName>(event: E, payload: EventOf<E>): void {
    try { this.opts.emit?.(event, payload); } catch { /* a listener's failure never fails a job */ }
  }

  private log(a: Active, line: string): void {
    try { this.opts.store.appendLog(a.run.id, line); } catch { /* logging must not fail the job */ }
    this.emit('run.log', { runId: a.run.id, line: line.slice(0, 10_000) });
  }

  private async launch(a: Active): Promise<void> {
    const t0 = performance.now();
    const workDir = this.workDir(a);
    try {
      await rm(workDir, { recursive: true, force: true });
      await mkdir(workDir, { recursive: true });
      this.opts.store.markRunStarted(a.run.id);
    } catch (e) {
      return void this.finish(a, { status: 'failed', error: toErrorPayload(e) });
    }
    this.emit('run.status', { runId: a.run.id, projectId: a.run.projectId, status: 'running' });

    const data: JobWorkerData = { runId: a.run.id, kind: a.run.kind, params: a.params, workDir };
    let entry: string;
    if (this.opts.workerPath) entry = this.opts.workerPath;
    else {
      entry = fileURLToPath(new URL('./worker-shim.mjs', import.meta.url));
      data.__target = new URL('./worker.ts', import.meta.url).href;
    }
    let worker: Worker;
    try {
      worker = new Worker(entry, { workerData: data, name: `job-${a.run.kind}-${a.run.id}` });
    } catch (e) {
      return void this.finish(a, { status: 'failed', error: { code: 'JOB_FAILED', message: `Cannot start the job's worker ${quote(entry)}: ${(e as Error).message}` } });
    }
    a.worker = worker;
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    this.lingering.add(exited);
    void exited.then(() => this.lingering.delete(exited));

    let lastWrite = 0;
    const timings = () => ({ totalMs: Math.round(performance.now() - t0) });
    worker.on('message', (m: FromWorker) => {
      if (a.ended) return;
      if (m.type === 'progress') {
        const ev = m.event;
        const fraction = Math.min(1, Math.max(0, Number.isFinite(ev.fraction) ? ev.fraction : 0));
        const metrics = ev.metrics ? Object.fromEntries(Object.entries(ev.metrics).filter(([, v]) => Number.isFinite(v)).slice(0, 100)) : undefined;
        this.emit('run.progress', { runId: a.run.id, stage: String(ev.stage).slice(0, 200), fraction, message: ev.message?.slice(0, 2000), metrics });
        const t = performance.now();
        if (t - lastWrite >= this.opts.progressWriteMs || fraction >= 1) {
          lastWrite = t;
          try { this.opts.store.updateRunProgress(a.run.id, { stage: String(ev.stage).slice(0, 200), fraction, message: ev.message?.slice(0, 2000) }); } catch { /* keep running */ }
        }
      } else if (m.type === 'log') this.log(a, m.line);
      else if (m.type === 'done') {
        if (a.settled) return;
        a.settled = true;
        if (a.graceTimer) clearTimeout(a.graceTimer);
        // The job returned: its files are complete. (Cancelled meanwhile? Then its output is discarded.)
        if (a.cancelRequested) void this.finish(a, { status: 'cancelled', error: { code: 'CANCELLED', message: 'The run was cancelled.' }, timings: timings() }, workDir);
        else void this.publish(a, m.outcome, workDir, timings());
        this.reap(worker);
      } else if (m.type === 'error') {
        if (a.settled) return;
        a.settled = true;
        if (a.graceTimer) clearTimeout(a.graceTimer);
        const cancelled = m.error.code === 'CANCELLED' || a.cancelRequested;
        void this.finish(a, { status: cancelled ? 'cancelled' : 'failed', error: cancelled ? { code: 'CANCELLED', message: 'The run was cancelled.' } : m.error, timings: timings() }, workDir);
        this.reap(worker);
      }
    });
    let crash: Error | undefined;
    worker.on('error', (e) => { crash = e; });
    worker.on('exit', (code) => {
      if (a.graceTimer) clearTimeout(a.graceTimer);
      if (a.settled) return; // its outcome is being recorded (publish/finish clean the scratch folder)
      if (a.ended) {
        // A detached (cancelled) worker may have written after its folder was removed: clean again.
        const cleaned: Promise<void> = rm(workDir, { recursive: true, force: true }).catch(() => undefined);
        this.lingering.add(cleaned);
        void cleaned.then(() => this.lingering.delete(cleaned));
        return;
      }
      if (a.cancelRequested) {
        void this.finish(a, { status: 'cancelled', error: { code: 'CANCELLED', message: 'The run was cancelled.' }, timings: timings() }, workDir);
      } else {
        const why = crash ? `crashed: ${crash.message}` : `exited with code ${code} before finishing`;
        void this.finish(a, { status: 'failed', error: { code: 'JOB_FAILED', message: `The ${a.run.kind} job's worker thread ${why}.` }, timings: timings() }, workDir);
      }
    });
  }

  /** A finished job's thread normally exits by itself; one kept alive by idle native handles is terminated later (nothing is in flight then). */
  private reap(worker: Worker): void {
    worker.unref();
    setTimeout(() => void worker.terminate(), 30_000).unref();
  }

  /** Move the job's outputs out of its scratch folder, hash them and record everything in one transaction. */
  private async publish(a: Active, outcome: JobOutcome, workDir: string, timings: Record<string, number>): Promise<void> {
    const runDir = resolve(workDir, '..');
    const projectDir = this.opts.store.projectDir(a.run.projectId);
    const artifacts: { kind: string; file: string; sizeBytes: number; sha256: string }[] = [];
    try {
      for (const art of outcome.artifacts ?? []) {
        const src = resolve(art.path);
        if (!src.startsWith(resolve(workDir) + sep)) throw new StudioError('JOB_FAILED', `The job reported an artifact outside its scratch folder: ${quote(art.path)}.`);
        // lstat: a symlink published as an artifact would let a download read a file nobody named.
        const info = await lstat(src);
        if (!info.isFile()) throw new StudioError('JOB_FAILED', `The job reported an artifact that is not a regular file: ${quote(art.path)}.`);
        const sha256 = await sha256File(src);
        const dest = await placeArtifact(src, runDir);
        artifacts.push({ kind: art.kind, file: relative(projectDir, dest).split(sep).join('/'), sizeBytes: info.size, sha256 });
      }
      await this.finish(a, { status: 'succeeded', result: outcome.result ?? null, metrics: outcome.metrics, artifacts, timings }, workDir);
    } catch (e) {
      for (const x of artifacts) await rm(join(projectDir, x.file), { force: true }).catch(() => undefined);
      await this.finish(a, { status: 'failed', error: toErrorPayload(e), timings }, workDir);
    }
  }

  private async finish(a: Active, end: Parameters<Store['finishRun']>[1], workDir?: string): Promise<void> {
    if (a.ended) return;
    a.ended = true;
    if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    let run: RunInfo;
    try {
      run = this.opts.store.finishRun(a.run.id, end);
    } catch (e) {
      run = { ...a.run, status: 'failed', error: toErrorPayload(e) };
    }
    if (end.error) this.log(a, `${end.status}: [${end.error.code}] ${end.error.message}`);
    this.emit('run.status', { runId: run.id, projectId: run.projectId, status: run.status, ...(run.error ? { error: run.error } : {}) });
    this.active.delete(a.run.id);
    if (a.counted) { if (this.isTestKind(a)) this.runningTest--; else this.running--; }
    a.resolve(run);
    this.pump();
  }
}
