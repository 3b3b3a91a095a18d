// The runner against hostile names and leftovers: artifact names from user input (CR/LF, non-ASCII,
// '.work', path-like) are published under safe names and never fail the run; test-only kinds cannot
// take the slots real jobs need; and at start, runs of a dead owner are failed and their scratch
// folders (partial outputs, QAT checkpoints) removed, while a live owner's runs and folders are kept.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../engine/store/store';
import { JobRunner, artifactFileName, recoverInterruptedRuns } from '../../engine/jobs/runner';

let dir: string;
let store: Store;
let runner: JobRunner;
let projectId: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qs-jobs-hard-'));
  store = Store.open(dir);
  runner = new JobRunner({ store, graceMs: 300, concurrency: 1 });
  projectId = store.createProject({ name: 'jobs' }).id;
});
afterEach(async () => {
  await runner.shutdown(5000);
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const runDir = (runId: string) => join(store.projectDir(projectId), 'runs', runId);

/** A pid that is certainly dead: a child that has exited. */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
}

describe('job runner: artifact names', () => {
  it('sanitises names: control characters, separators, leading dots, Windows device names, length', () => {
    expect(artifactFileName('a\r\nb.onnx')).toBe('a_b.onnx');
    expect(artifactFileName('.work')).toBe('work');
    expect(artifactFileName('..')).toBe('artifact');
    expect(artifactFileName('résumé ✓.txt')).toBe('résumé ✓.txt');
    expect(artifactFileName('a/b\\c:d*e?.txt')).toBe('a_b_c_d_e_.txt');
    expect(artifactFileName('CON.txt')).toBe('_CON.txt');
    expect(artifactFileName('a\uD800b.txt')).toBe('a_b.txt'); // a lone surrogate
    expect(artifactFileName('emoji 😀.txt')).toBe('emoji 😀.txt'); // a pair is kept
    const long = artifactFileName('é'.repeat(300) + '.onnx');
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(200);
    expect(long.endsWith('.onnx')).toBe(true);
  });

  for (const outputName of ['.work', 'evil\r\nX-Injected: 1.onnx', 'modèle 量子化.onnx', '..hidden']) {
    it(`a job naming its output ${JSON.stringify(outputName)} succeeds and publishes a safe name`, async () => {
      const run = await runner.wait(runner.start({ projectId, kind: 'selftest', params: { steps: 1, stepMs: 1, outputName } }).id);
      expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
      const [art] = store.listArtifacts(projectId, run.id);
      const name = art!.file.split('/').pop()!;
      expect(name).toBe(artifactFileName(outputName));
      expect(readFileSync(join(store.projectDir(projectId), art!.file), 'utf8')).toBe('selftest done: 1 steps\n');
      expect(existsSync(join(runDir(run.id), '.work'))).toBe(false);
    });
  }
});

describe('job runner: outputs that are not regular files', () => {
  it('a symlinked output is refused (the run fails, nothing is published)', async () => {
    const secret = join(dir, 'secret.txt');
    writeFileSync(secret, 'not for download');
    const run = await runner.wait(runner.start({ projectId, kind: 'selftest', params: { steps: 1, stepMs: 1, outputSymlink: secret } }).id);
    expect(run.status).toBe('failed');
    expect(run.error?.message).toMatch(/not a regular file/);
    expect(store.listArtifacts(projectId, run.id)).toEqual([]);
    expect(existsSync(runDir(run.id)) ? readdirSync(runDir(run.id)) : []).toEqual([]);
  });
});

describe('job runner: test-only kinds', () => {
  it('a hanging selftest cannot take the slot a real job needs', async () => {
    const hang = runner.start({ projectId, kind: 'selftest', params: { steps: 1, stepMs: 1, hang: true } });
    const queuedTest = runner.start({ projectId, kind: 'selftest', params: { steps: 1 } });
    // Any non-test kind gets the real slot at once ('nosuchkind' fails fast in its worker).
    const real = runner.start({ projectId, kind: 'nosuchkind', params: {} });
    const ended = await Promise.race([runner.wait(real.id), new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
    expect(ended?.status).toBe('failed');
    expect(ended?.error?.message).toMatch(/Unknown job kind .*nosuchkind/);
    // test kinds still queue behind each other in their own slot
    expect(store.getRun(queuedTest.id).status).toBe('queued');
    expect(store.getRun(hang.id).status).toBe('running');
  }, 30_000);
});

describe('job runner: recovery at start', () => {
  let live: ChildProcess | undefined;
  afterEach(() => { live?.kill('SIGKILL'); live = undefined; });

  it('fails runs of a dead owner and removes their scratch folders (checkpoints); keeps a live owner\'s', async () => {
    const dead = await deadPid();
    live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    await new Promise((r) => live!.once('spawn', r));
    const mk = (pid: number) => {
      const r = store.createRun({ projectId, kind: 'quantize', params: {} });
      store.markRunStarted(r.id);
      store.db.prepare('UPDATE runs SET owner_pid = ?, owner_instance = NULL WHERE id = ?').run(pid, r.id);
      const work = join(runDir(r.id), '.work');
      mkdirSync(work, { recursive: true });
      writeFileSync(join(work, 'model.quant.onnx.qat-checkpoint'), 'QATCKPT1...');
      return r.id;
    };
    const deadRun = mk(dead);
    const liveRun = mk(live.pid!);
    // a finished run whose scratch folder a crash left behind (e.g. killed while publishing)
    const finished = store.createRun({ projectId, kind: 'quantize', params: {} });
    store.finishRun(finished.id, { status: 'failed', error: { code: 'JOB_FAILED', message: 'x' } });
    mkdirSync(join(runDir(finished.id), '.work'), { recursive: true });
    writeFileSync(join(runDir(finished.id), '.work', 'partial.onnx'), 'partial');

    expect(recoverInterruptedRuns(store)).toBe(1);
    expect(store.getRun(deadRun)).toMatchObject({ status: 'failed', error: { code: 'JOB_FAILED' } });
    expect(existsSync(join(runDir(deadRun), '.work'))).toBe(false);
    expect(existsSync(join(runDir(finished.id), '.work'))).toBe(false);
    expect(store.getRun(liveRun).status).toBe('running');
    expect(readdirSync(join(runDir(liveRun), '.work'))).toEqual(['model.quant.onnx.qat-checkpoint']);
  });

  it('runs from before owners were recorded (no owner) count as interrupted', () => {
    const r = store.createRun({ projectId, kind: 'quantize', params: {} });
    store.markRunStarted(r.id);
    store.db.prepare('UPDATE runs SET owner_pid = NULL, owner_boot = NULL, owner_instance = NULL WHERE id = ?').run(r.id);
    expect(recoverInterruptedRuns(store)).toBe(1);
    expect(store.getRun(r.id).status).toBe('failed');
  });
});
