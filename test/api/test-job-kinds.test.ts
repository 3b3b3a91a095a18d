// The test-only job kind ('selftest': it can hang on request and ignore cancel) is not reachable
// through runs.start in a normal start; only an engine started for tests (option or
// QSTUDIO_TEST_JOB_KINDS=1) accepts it.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStudioEngine, type StudioEngine } from '../../engine/api/engine-host';

let dir: string | undefined;
let engine: StudioEngine | undefined;
afterEach(async () => {
  await engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  engine = dir = undefined;
  delete process.env.QSTUDIO_TEST_JOB_KINDS;
});

async function startSelftest(opts: { testJobKinds?: boolean }) {
  dir = mkdtempSync(join(tmpdir(), 'qs-kinds-'));
  engine = startStudioEngine({ dataDir: dir, host: 'browser', ...opts });
  const p = engine.store.createProject({ name: 'k' });
  return engine.service.dispatch('runs.start', { projectId: p.id, kind: 'selftest', params: { steps: 1, hang: true } });
}

describe('runs.start: test-only job kinds', () => {
  it('refuses selftest in a normal start, naming the known kinds; nothing is recorded', async () => {
    const r = await startSelftest({});
    expect(r).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    if (!r.ok) expect(r.error.message).toMatch(/Unknown run kind .*selftest.*known: quantize/);
    expect(engine!.store.listProjects().flatMap((p) => engine!.store.listRuns(p.id))).toEqual([]);
  });

  it('accepts it when started for tests (option or QSTUDIO_TEST_JOB_KINDS=1)', async () => {
    expect((await startSelftest({ testJobKinds: true })).ok).toBe(true);
    await engine!.close();
    rmSync(dir!, { recursive: true, force: true });
    process.env.QSTUDIO_TEST_JOB_KINDS = '1';
    expect((await startSelftest({})).ok).toBe(true);
  });
});
