// Two studio processes on one data dir. The second is refused with a message naming the folder and the
// process that holds it; a process that bypasses the lock still does not fail runs whose owner is alive;
// after the holder is killed (-9) the next start fails its runs, removes their scratch folders and the
// dead process's uploads; and a host never removes an upload folder of a live process.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStudioEngine } from '../../engine/api/engine-host';
import { startBrowserHost } from '../../host/browser-host';
import { Store } from '../../engine/store/store';
import { bootId } from '../../engine/store/process-owner';
import { StudioError } from '../../engine/errors';
import { spawnHost, connectWs, call, type HostProcess } from './host-process';

const dirs: string[] = [];
const children: (HostProcess | ChildProcess)[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'qs-share-')); dirs.push(d); return d; };
const renderer = () => { const r = join(tmp(), 'renderer'); mkdirSync(r); writeFileSync(join(r, 'index.html'), 'x'); return r; };

afterEach(async () => {
  for (const c of children.splice(0)) {
    if ('stop' in c) await c.stop('SIGKILL'); else c.kill('SIGKILL');
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function errorOf(fn: () => unknown): StudioError | undefined {
  try { fn(); } catch (e) { return e as StudioError; }
  return undefined;
}

describe('one process per data dir', () => {
  it('a second engine on the same folder is refused (DB_LOCKED, naming the folder); free again after close', async () => {
    const dir = join(tmp(), 'data');
    const first = startStudioEngine({ dataDir: dir, host: 'browser' });
    const err = errorOf(() => startStudioEngine({ dataDir: dir, host: 'electron' }));
    expect(err?.code).toBe('DB_LOCKED');
    expect(err?.message).toContain(dir);
    expect(err?.message).toContain(`process ${process.pid}`);
    await first.close();
    const again = startStudioEngine({ dataDir: dir, host: 'browser' });
    await again.close();
  });

  it('another process: refused while it runs; its live runs are never failed; after kill -9 its runs fail and its leftovers go', async () => {
    const dir = join(tmp(), 'data');
    const host = await spawnHost(dir, renderer(), { QSTUDIO_TEST_JOB_KINDS: '1' });
    children.push(host);
    const ws = await connectWs(host.port, host.token);
    const p = await call(ws, 1, 'projects.create', { name: 'shared' });
    const run = await call(ws, 2, 'runs.start', { projectId: p.value.id, kind: 'selftest', params: { steps: 2000, stepMs: 50 } });
    expect(run.ok).toBe(true);
    const up = await fetch(`http://127.0.0.1:${host.port}/upload?name=a.bin`, { method: 'POST', body: Buffer.from('upload bytes'), headers: { 'x-studio-token': host.token } });
    expect(up.status).toBe(200);
    ws.close();
    const statusOf = (id: string) => { const s = Store.open(dir); try { return s.getRun(id).status; } finally { s.close(); } };
    for (let i = 0; i < 100 && statusOf(run.value.id) !== 'running'; i++) await new Promise((r) => setTimeout(r, 100));

    // 1. refused, naming the folder and the other process
    const err = errorOf(() => startStudioEngine({ dataDir: dir, host: 'browser' }));
    expect(err?.code).toBe('DB_LOCKED');
    expect(err?.message).toContain(dir);
    expect(err?.message).toContain(`process ${host.child.pid} (browser`);
    // the CLI entry says the same and exits 1 without touching anything
    const second = spawn(process.execPath, ['bin/browser-host.mjs', '--data-dir', dir], { cwd: join(__dirname, '..', '..') });
    let out = '';
    second.stderr.on('data', (d) => (out += d));
    expect(await new Promise((r) => second.on('exit', r))).toBe(1);
    expect(out).toContain(`is in use by process ${host.child.pid}`);

    // 2. a process that opens the store without the lock (an older version, a script) still leaves a live owner's runs alone
    const s = Store.open(dir);
    try {
      expect(s.failInterruptedRuns()).toBe(0);
      expect(s.getRun(run.value.id).status).toBe('running');
    } finally { s.close(); }
    const uploadsRoot = join(dir, '.uploads');
    const [hostUploads] = readdirSync(uploadsRoot);
    expect(readdirSync(join(uploadsRoot, hostUploads!))).toHaveLength(1);
    const workDir = join(dir, 'projects', p.value.id, 'runs', run.value.id, '.work');
    expect(existsSync(workDir)).toBe(true);

    // 3. kill -9: the next start fails the run, removes its scratch folder and the dead host's uploads
    await host.stop('SIGKILL');
    const next = await startBrowserHost({ dataDir: dir, rendererDir: renderer() });
    try {
      expect(next.engine.store.getRun(run.value.id)).toMatchObject({ status: 'failed', error: { code: 'JOB_FAILED' } });
      expect(existsSync(workDir)).toBe(false);
      expect(readdirSync(uploadsRoot)).not.toContain(hostUploads);
    } finally {
      await next.close();
    }
  }, 120_000);

  it('a host removes only dead processes\' upload folders, at start and at stop', async () => {
    const dir = join(tmp(), 'data');
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    children.push(live);
    await new Promise((r) => live.once('spawn', r));
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('exit', r));
    const boot = bootId().replace(/-/g, '');
    const root = join(dir, '.uploads');
    const liveFolder = `${live.pid}-${boot}-aaaa`;
    const deadFolder = `${dead.pid}-${boot}-bbbb`;
    for (const f of [liveFolder, deadFolder]) { mkdirSync(join(root, f), { recursive: true }); writeFileSync(join(root, f, 'u1'), 'x'); }
    writeFileSync(join(root, 'legacyflatupload'), 'x'); // the old layout: one folder shared by every process
    const host = await startBrowserHost({ dataDir: dir, rendererDir: renderer() });
    const up = await fetch(`http://127.0.0.1:${host.port}/upload?name=a.bin`, { method: 'POST', body: Buffer.from('mine'), headers: { 'x-studio-token': host.token } });
    expect(up.status).toBe(200);
    const during = readdirSync(root);
    expect(during).toHaveLength(2);
    expect(during).toContain(liveFolder);
    expect(during.find((f) => f !== liveFolder)).toMatch(new RegExp(`^${process.pid}-${boot}-[0-9a-f]+$`));
    await host.close();
    expect(readdirSync(root)).toEqual([liveFolder]);
    expect(readdirSync(join(root, liveFolder))).toEqual(['u1']);
  });
});
