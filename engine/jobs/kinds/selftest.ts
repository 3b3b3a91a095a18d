// A small real job for testing the runner end to end: streams progress over `steps` steps,
// writes an artifact, and on request throws, hangs (ignoring cancel), kills its own thread, or stops
// late after a cancel (`slowStopMs`: like a long native call that cannot be interrupted, still writing).
// `outputName` names its output file as a user-named output would be (the runner must sanitise it);
// `outputSymlink` makes the output a symlink to that path (the runner must refuse to publish it).
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Json } from '../../../contract/ipc';
import { StudioError } from '../../errors';
import { throwIfCancelled } from '../../util/work-context';
import type { JobContext } from './job-context';
import type { JobOutcome } from '../protocol';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function selftestJob(params: { [k: string]: Json }, ctx: JobContext): Promise<JobOutcome> {
  const steps = typeof params.steps === 'number' ? params.steps : 5;
  const stepMs = typeof params.stepMs === 'number' ? params.stepMs : 20;
  const failAt = typeof params.failAt === 'number' ? params.failAt : -1;
  const exitAt = typeof params.exitAt === 'number' ? params.exitAt : -1;
  const hang = params.hang === true;
  const slowStopMs = typeof params.slowStopMs === 'number' ? params.slowStopMs : 0;
  ctx.log?.(`selftest: ${steps} steps`);
  // A partial output exists from the start: the runner must never publish it unless the job succeeds.
  const out = join(ctx.workDir, typeof params.outputName === 'string' ? basename(params.outputName) : 'selftest.txt');
  await writeFile(out, 'partial\n');
  for (let i = 0; i < steps; i++) {
    if (slowStopMs && ctx.signal?.aborted) {
      await sleep(slowStopMs);
      await mkdir(ctx.workDir, { recursive: true });
      await writeFile(join(ctx.workDir, 'late.txt'), 'written after the cancel\n');
    }
    if (!hang) throwIfCancelled(ctx);
    if (i === failAt) throw new StudioError('RUNTIME_ERROR', `selftest failed at step ${i} as asked.`);
    if (i === exitAt) process.exit(3);
    await sleep(stepMs);
    ctx.onProgress?.({ stage: 'selftest', fraction: (i + 1) / steps, message: `step ${i + 1}/${steps}`, metrics: { step: i + 1 } });
  }
  if (hang) await new Promise(() => undefined);
  await writeFile(out, `selftest done: ${steps} steps\n`);
  if (typeof params.outputSymlink === 'string') { await rm(out); await symlink(params.outputSymlink, out); }
  return { result: { steps }, metrics: [{ name: 'steps', value: steps }], artifacts: [{ kind: 'text', path: out }] };
}
