// The test-only job kind ('selftest': it can hang on request and ignore cancel) is not reachable
// through runs.start in a normal start; only an engine started for tests (option or
// QSTUDIO_TEST_JOB_KINDS=1) accepts it.
import { describe, it, expect, afterEach } from 'vitest';
import { startTempStudio, type TempStudio } from '../fixtures/temp-studio';

let studio: TempStudio | undefined;
afterEach(async () => {
  await studio?.close();
  studio = undefined;
  delete process.env.QSTUDIO_TEST_JOB_KINDS;
});

async function startSelftest(opts: { testJobKinds?: boolean }) {
  studio = startTempStudio('qs-kinds-', opts);
  const p = studio.engine.store.createProject({ name: 'k' });
  return studio.call('runs.start', { projectId: p.id, kind: 'selftest', params: { steps: 1, hang: true } });
}

describe('runs.start: test-only job kinds', () => {
  it('refuses selftest in a normal start, naming the known kinds; nothing is recorded', async () => {
    const r = await startSelftest({});
    expect(r).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    if (!r.ok) expect(r.error.message).toMatch(/Unknown run kind .*selftest.*known: quantize/);
    expect(studio!.engine.store.listProjects().flatMap((p) => studio!.engine.store.listRuns(p.id))).toEqual([]);
  });

  it('accepts it when started for tests (option or QSTUDIO_TEST_JOB_KINDS=1)', async () => {
    expect((await startSelftest({ testJobKinds: true })).ok).toBe(true);
    await studio!.close();
    process.env.QSTUDIO_TEST_JOB_KINDS = '1';
    expect((await startSelftest({})).ok).toBe(true);
  });
});
