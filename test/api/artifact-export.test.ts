// artifacts.export decides where a relative destination goes, whatever the host allows: a bare file
// name lands in <dataDir>/exports/ (created on first use), never in the engine process's working
// directory; a relative path that climbs out of the exports folder into the data folder is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startStudioEngine, type StudioEngine } from '../../engine/api/engine-host';

let dir: string;
let engine: StudioEngine;
const value = async (channel: string, request: unknown) => {
  const r = await engine.service.dispatch(channel, request);
  if (!r.ok) throw new Error(`${channel}: [${r.error.code}] ${r.error.message}`);
  return r.value as any;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'qs-export-'));
  // No checkExportPath: the host lets the UI name any path (the browser host's allowPaths, the CLI).
  engine = startStudioEngine({ dataDir: join(dir, 'data'), host: 'browser', testJobKinds: true });
});
afterAll(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('artifacts.export destinations', () => {
  it('puts a bare file name into <dataDir>/exports/, not the working directory', async () => {
    const p = await value('projects.create', { name: 'export' });
    const run = await value('runs.start', { projectId: p.id, kind: 'selftest', params: { steps: 2 } });
    await engine.jobs.wait(run.id);
    const [art] = await value('artifacts.list', { projectId: p.id });
    const name = `bare-${randomBytes(4).toString('hex')}.txt`;
    const exp = await value('artifacts.export', { id: art.id, destPath: name });
    expect(exp.path).toBe(join(dir, 'data', 'exports', name));
    expect(readFileSync(exp.path, 'utf8')).toBe('selftest done: 2 steps\n');
    expect(existsSync(join(process.cwd(), name))).toBe(false);
    // A sub-folder of exports is fine; climbing into the rest of the data folder is not.
    const nested = await value('artifacts.export', { id: art.id, destPath: join('sub', name) });
    expect(nested.path).toBe(join(dir, 'data', 'exports', 'sub', name));
    const r = await engine.service.dispatch('artifacts.export', { id: art.id, destPath: join('..', 'studio-copy.txt') });
    expect(r).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    // An absolute path is the host's to allow, and is used as given.
    const abs = join(dir, 'elsewhere.txt');
    expect((await value('artifacts.export', { id: art.id, destPath: abs })).path).toBe(abs);
  });
});
