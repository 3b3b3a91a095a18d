// artifacts.export decides where a relative destination goes, whatever the host allows: a bare file
// name lands in <dataDir>/exports/ (created on first use), never in the engine process's working
// directory; a relative path that climbs out of the exports folder into the data folder is refused.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { useTempStudio } from '../fixtures/temp-studio';

// No checkExportPath: the host lets the UI name any path (the browser host's allowPaths, the CLI).
const studio = useTempStudio('qs-export-', { testJobKinds: true });
const { value } = studio;

describe('artifacts.export destinations', () => {
  it('puts a bare file name into <dataDir>/exports/, not the working directory', async () => {
    const p = await value('projects.create', { name: 'export' });
    const run = await value('runs.start', { projectId: p.id, kind: 'selftest', params: { steps: 2 } });
    await studio.engine.jobs.wait(run.id);
    const [art] = await value('artifacts.list', { projectId: p.id });
    const name = `bare-${randomBytes(4).toString('hex')}.txt`;
    const exp = await value('artifacts.export', { id: art.id, destPath: name });
    expect(exp.path).toBe(join(studio.dir, 'data', 'exports', name));
    expect(readFileSync(exp.path, 'utf8')).toBe('selftest done: 2 steps\n');
    expect(existsSync(join(process.cwd(), name))).toBe(false);
    // A sub-folder of exports is fine; climbing into the rest of the data folder is not.
    const nested = await value('artifacts.export', { id: art.id, destPath: join('sub', name) });
    expect(nested.path).toBe(join(studio.dir, 'data', 'exports', 'sub', name));
    const r = await studio.engine.service.dispatch('artifacts.export', { id: art.id, destPath: join('..', 'studio-copy.txt') });
    expect(r).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    // An absolute path is the host's to allow, and is used as given.
    const abs = join(studio.dir, 'elsewhere.txt');
    expect((await value('artifacts.export', { id: art.id, destPath: abs })).path).toBe(abs);
  });
});
