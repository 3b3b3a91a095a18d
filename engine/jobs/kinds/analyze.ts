// A sensitivity analysis run (engine/analysis/sensitivity.ts) as a job: progress and cancel come from
// the runner; the variants run in the analysis pool's own worker threads. The report is the run's
// result (the studio's sensitivity view reads it) and an artifact file.
// params: { modelPath, recipe, inputs: { [inputName]: npyPath }, labels?, evalInputs?: {...}, evalLabels? }
import { join } from 'node:path';
import type { Json } from '../../../contract/ipc';
import { StudioError, quote } from '../../errors';
import { readNpy, type NpyArray } from '../../data/npy';
import { writeFileAtomic } from '../../onnx/model-io';
import { parseRecipe } from '../../pipeline/recipe';
import { analyzeSensitivity } from '../../analysis/sensitivity';
import { lmWindows } from '../../eval/output-scores';
import type { JobContext } from './job-context';
import type { JobOutcome } from '../protocol';

function arrays(v: Json | undefined, what: string): Record<string, NpyArray> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new StudioError('BAD_ARGUMENT', `analyze job: params.${what} ${quote(v)} is not an { input: path } object.`);
  const out: Record<string, NpyArray> = {};
  for (const [name, p] of Object.entries(v)) {
    if (typeof p !== 'string') throw new StudioError('BAD_ARGUMENT', `analyze job: ${what} ${quote(name)} path ${quote(p)} is not a string.`);
    out[name] = readNpy(p);
  }
  return out;
}

export async function analyzeJob(params: { [k: string]: Json }, ctx: JobContext): Promise<JobOutcome> {
  const modelPath = params.modelPath;
  if (typeof modelPath !== 'string') throw new StudioError('BAD_ARGUMENT', `analyze job: params.modelPath ${quote(modelPath)} is not a path.`);
  const recipe = parseRecipe(params.recipe ?? {}, 'analysis recipe');
  const inputs = arrays(params.inputs, 'inputs') ?? {};
  const evalInputs = arrays(params.evalInputs, 'evalInputs');
  const labels = typeof params.labels === 'string' ? readNpy(params.labels) : undefined;
  const evalLabels = typeof params.evalLabels === 'string' ? readNpy(params.evalLabels) : undefined;
  const metric = (evalInputs ? evalLabels : labels) ? 'top1' : lmWindows(evalInputs ?? inputs) ? 'perplexity' : 'sqnr';
  const report = await analyzeSensitivity({ modelPath, recipe, inputs, labels, evalInputs, evalLabels, metric, ctx,
    dataNames: { data: 'the calibration dataset', eval: 'the evaluation dataset' } });
  const path = join(ctx.workDir, 'sensitivity.json');
  const text = JSON.stringify(report);
  await writeFileAtomic(path, text);
  return {
    result: JSON.parse(text) as Json,
    metrics: [{ name: 'outputSqnrDb', value: report.allQuantized.sqnrDb }, { name: 'analysisWallMs', value: report.timing.wallMs }],
    artifacts: [{ kind: 'report', path }],
  };
}
