// The job runner with real worker threads (loaded through the tsx shim) and a real SQLite store,
// driven by the 'selftest' job kind: progress, success with a published artifact, a throwing job,
// a worker that dies, cooperative cancel, a job that ignores cancel (terminated after the grace
// period), and cancelling a queued run. Failed or cancelled runs never leave an artifact behind.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../engine/store/store';
import { JobRunner } from '../../engine/jobs/runner';
import type { EventName } from '../../contract/ipc';

let dir: string;
let store: Store;
let events: { event: EventName; payload: any }[];
let runner: JobRunner;
let projectId: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qs-jobs-'));
  store = Store.open(dir);
  events = [];
  runner = new JobRunner({ store, emit: (event, payload) => events.push({ event, payload }), graceMs: 300, concurrency: 1 });
  projectId = store.createProject({ name: 'jobs' }).id;
});
afterEach(async () => {
  await runner.shutdown();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const runDir = (runId: string) => join(store.projectDir(projectId), 'runs', runId);
const filesOf = (runId: string) => (existsSync(runDir(runId)) ? readdirSync(runDir(runId)) : []);

describe('job runner', () => {
  it('streams progress, records the outcome and publishes the artifact', async () => {
    const started = runner.start({ projectId, kind: 'selftest', params: { steps: 4, stepMs: 10 } });
    expect(['queued', 'running']).toContain(started.status);
    const run = await runner.wait(started.id);
    expect(run).toMatchObject({ status: 'succeeded', progress: 1, result: { steps: 4 }, error: null });
    expect(run.timings.totalMs).toBeGreaterThan(0);
    const fractions = events.filter((e) => e.event === 'run.progress').map((e) => e.payload.fraction);
    expect(fractions).toEqual([0.25, 0.5, 0.75, 1]);
    expect(events.filter((e) => e.event === 'run.status').map((e) => e.payload.status)).toEqual(['running', 'succeeded']);
    const [art] = store.listArtifacts(projectId, run.id);
    expect(art).toMatchObject({ kind: 'text', file: `runs/${run.id}/selftest.txt` });
    const bytes = readFileSync(join(store.projectDir(projectId), art!.file));
    expect(bytes.toString()).toBe('selftest done: 4 steps\n');
    expect(art!.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(filesOf(run.id)).toEqual(['selftest.txt']); // scratch folder gone
    expect(store.listMetrics(run.id)).toEqual([{ runId: run.id, name: 'steps', value: 4, step: null }]);
    expect(store.listLogs(run.id).map((l) => l.line)).toContain('selftest: 4 steps');
  });

  it('a job that throws leaves the run failed with its error and no artifact', async () => {
    const run = await runner.wait(runner.start({ projectId, kind: 'selftest', params: { steps: 5, failAt: 2 } }).id);
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ code: 'RUNTIME_ERROR', message: 'selftest failed at step 2 as asked.' });
    expect(run.progress).toBeLessThan(1);
    expect(store.listArtifacts(projectId, run.id)).toEqual([]);
    expect(filesOf(run.id)).toEqual([]);
    expect(events.find((e) => e.event === 'run.status' && e.payload.status === 'failed')?.payload.error.code).toBe('RUNTIME_ERROR');
  });

  it('a worker that dies mid-job leaves the run failed (JOB_FAILED) and no artifact', async () => {
    const run = await runner.wait(runner.start({ projectId, kind: 'selftest', params: { steps: 5, exitAt: 2 } }).id);
    expect(run.status).toBe('failed');
    expect(run.error?.code).toBe('JOB_FAILED');
    expect(run.error?.message).toMatch(/worker thread exited with code 3 before finishing/);
    expect(store.listArtifacts(projectId, run.id)).toEqual([]);
    expect(filesOf(run.id)).toEqual([]);
  });

  it('an unknown job kind fails cleanly', async () => {
    const run = await runner.wait(runner.start({ projectId, kind: 'nonsense' }).id);
    expect(run).toMatchObject({ status: 'failed', error: { code: 'BAD_ARGUMENT' } });
    expect(run.error?.message).toMatch(/Unknown job kind '"nonsense"'/);
  });

  it('honours cancel through the AbortSignal', async () => {
    const r = runner.start({ projectId, kind: 'selftest', params: { steps: 200, stepMs: 20 } });
    await new Promise<void>((res) => { const t = setInterval(() => { if (events.some((e) => e.event === 'run.progress')) { clearInterval(t); res(); } }, 5); });
    const t0 = Date.now();
    runner.cancel(r.id);
    const run = await runner.wait(r.id);
    expect(run.status).toBe('cancelled');
    expect(run.error?.code).toBe('CANCELLED');
    expect(Date.now() - t0).toBeLessThan(300); // stopped by the signal, before the grace period
    expect(store.listArtifacts(projectId, run.id)).toEqual([]);
    expect(filesOf(run.id)).toEqual([]);
  });

  it('terminates a job that ignores cancel after the grace period', async () => {
    const r = runner.start({ projectId, kind: 'selftest', params: { steps: 1, stepMs: 1, hang: true } });
    await new Promise<void>((res) => { const t = setInterval(() => { if (events.some((e) => e.event === 'run.progress')) { clearInterval(t); res(); } }, 5); });
    const t0 = Date.now();
    runner.cancel(r.id);
    const run = await runner.wait(r.id);
    expect(run.status).toBe('cancelled');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(store.listLogs(run.id).some((l) => /terminated/.test(l.line))).toBe(true);
    expect(filesOf(run.id)).toEqual([]);
  });

  it('does not terminate native-calling kinds: marks the run cancelled, detaches, cleans up when the thread stops', async () => {
    const native = new JobRunner({ store, graceMs: 150, terminableKinds: [] }); // selftest treated like 'quantize'
    const r = native.start({ projectId, kind: 'selftest', params: { steps: 100, stepMs: 20, slowStopMs: 700 } });
    await new Promise((res) => setTimeout(res, 300));
    const t0 = Date.now();
    native.cancel(r.id);
    const run = await native.wait(r.id);
    expect(Date.now() - t0).toBeLessThan(600); // recorded after the grace period, not when the thread stops
    expect(run).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    expect(store.listLogs(run.id).some((l) => /left to finish its current native call/.test(l.line))).toBe(true);
    await native.shutdown(5000); // waits for the detached thread to exit
    expect(filesOf(run.id)).toEqual([]); // its late write was cleaned up
    expect(store.listArtifacts(projectId, run.id)).toEqual([]);
    expect(store.getRun(run.id).status).toBe('cancelled');
  });

  it('queues beyond the concurrency limit; a queued run can be cancelled before it starts', async () => {
    const a = runner.start({ projectId, kind: 'selftest', params: { steps: 3, stepMs: 30 } });
    const b = runner.start({ projectId, kind: 'selftest', params: { steps: 1 } });
    expect(store.getRun(b.id).status).toBe('queued');
    const cancelled = await runner.wait(runner.cancel(b.id).id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.startedAt).toBeNull();
    expect((await runner.wait(a.id)).status).toBe('succeeded');
  });
});
