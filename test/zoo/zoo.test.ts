// The model zoo's fast subset (models.json entries with "ci": true): real third-party models as
// shipped, the default recipe through the real CLI, and each model's task on real inputs.
// "keeps-task": the quantized model must make the same decisions as the truth (and FP32).
// "warns-if-wrecked": where the default recipe is known to break the task, the run must say so and
// name the layers responsible instead of exiting quietly (the full table: `npm run bench:zoo`).
import { describe, it, expect } from 'vitest';
import { zooEntries, zooAvailable, runZooEntry, cleanUp } from './zoo';

const ci = zooEntries.filter((e) => e.ci);

describe('model zoo (fast subset)', () => {
  it('lists at least one model of each kind the issue names', () => {
    const traits = zooEntries.flatMap((e) => e.traits).join(' | ');
    expect(traits).toMatch(/fixed batch/);
    expect(traits).toMatch(/dynamic range/);
    expect(traits).toMatch(/If/);
  });
  for (const entry of ci) {
    it.runIf(zooAvailable(entry) || process.env.CI)(`${entry.id}: ${entry.family}`, async () => {
      const run = await runZooEntry(entry);
      try {
        expect(run.exitCode, run.stderr).toBe(0);
        const t = run.task!;
        expect(t.fp32, 'the FP32 model itself must pass its task check').toBe(`${t.evalSamples}/${t.evalSamples}`);
        if (entry.expect === 'keeps-task') expect(t.kept, t.detail.join('\n')).toBe(true);
        else if (!t.kept) {
          const said = JSON.stringify([run.report?.warnings ?? [], run.report?.notices ?? []]);
          expect(said, 'a run that wrecks the task must warn').toMatch(/warn|wreck|SQNR/i);
        }
      } finally { cleanUp(run); }
    }, 240_000);
  }
});
