// The model zoo's fast subset (models.json entries with "ci": true): real third-party models as
// shipped, the default recipe through the real CLI, and each model's task on real inputs.
// "keeps-task": the quantized model makes the same decisions as the truth (and FP32).
// "guard-keeps-task": the fully quantized model breaks the task ("guard": false: the run warns and names
// the layers responsible) and the default recipe's wreck guard (engine/pipeline/guard.ts) brings it back.
// "warns-if-wrecked": where the default recipe breaks the task, the run must warn and name the layers
// responsible. With the entry's recipe `target` the task must come back while part of the model stays
// quantized. The full table: `npm run bench:zoo`.
import { describe, it, expect } from 'vitest';
import { zooEntries, zooAvailable, runZooEntry, cleanUp, type ZooRun } from './zoo';

const ci = zooEntries.filter((e) => e.ci);

function expectWarningIfWrecked(run: ZooRun): void {
  if (run.task!.kept) return;
  const w = run.report?.warnings ?? [];
  expect(w.length, 'a run that wrecks the task must warn').toBeGreaterThan(0);
  expect(w[0]!.culprits?.length ?? 0, 'the warning names the layers responsible').toBeGreaterThan(0);
}

describe('model zoo (fast subset)', () => {
  it('lists at least one model of each kind the issue names', () => {
    const traits = zooEntries.flatMap((e) => e.traits).join(' | ');
    expect(traits).toMatch(/fixed batch/);
    expect(traits).toMatch(/dynamic range/);
    expect(traits).toMatch(/If/);
    expect(traits).toMatch(/float16 weights and activations/);
    expect(traits).toMatch(/LSTM/);
  });
  for (const entry of ci) {
    it.runIf(zooAvailable(entry) || process.env.CI)(`${entry.id}: ${entry.family}`, async () => {
      const run = await runZooEntry(entry);
      try {
        expect(run.exitCode, run.stderr).toBe(0);
        const t = run.task!;
        expect(t.fp32, 'the FP32 model itself must pass its task check').toBe(`${t.evalSamples}/${t.evalSamples}`);
        if (entry.expect === 'warns-if-wrecked') expectWarningIfWrecked(run);
        else expect(t.kept, t.detail.join('\n')).toBe(true);
        if (entry.expect === 'guard-keeps-task') {
          expect(run.report?.guard?.kept, 'the guard searched the wrecked model again').toBe(true);
          const quantized = (run.report?.mixedPrecision?.assignment ?? []).filter((a) => !a.precision.startsWith('float'));
          expect(quantized.length, 'the guard keeps part of the model quantized').toBeGreaterThan(0);
        }
      } finally { cleanUp(run); }
      if (entry.expect === 'guard-keeps-task') {
        // Without the guard the same run loses the task: the guard is what keeps it.
        const plain = await runZooEntry(entry, { guard: false });
        try {
          expect(plain.exitCode, plain.stderr).toBe(0);
          expect(plain.report?.guard).toBeUndefined();
          expect(plain.task!.kept, 'the fully quantized model loses the task').toBe(false);
          expectWarningIfWrecked(plain);
        } finally { cleanUp(plain); }
      }
      if (!entry.target) return;
      const fixed = await runZooEntry(entry, { target: entry.target });
      try {
        expect(fixed.exitCode, fixed.stderr).toBe(0);
        expect(fixed.task!.kept, fixed.task!.detail.join('\n')).toBe(true);
        expect(fixed.report?.mixedPrecision?.met).toBe(true);
        const quantized = (fixed.report?.mixedPrecision?.assignment ?? []).filter((a) => a.precision !== 'float');
        expect(quantized.length, 'the target keeps part of the model quantized').toBeGreaterThan(0);
      } finally { cleanUp(fixed); }
    }, 360_000);
  }
});
