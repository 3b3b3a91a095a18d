// A pipeline run: the service has resolved the run's params to absolute paths; this calls the engine's
// one entry, quantizeModel (engine/pipeline/quantize.ts, owned by ptq), writing into the run's scratch
// folder. The runner publishes the model as an artifact only if this returns.
// params: { modelPath, recipe, inputs: { [inputName]: npyPath }, labels?: npyPath, outputName? }
import { join, basename } from 'node:path';
import type { Json } from '../../../contract/ipc';
import { StudioError, quote } from '../../errors';
import { readNpy, type NpyArray } from '../../data/npy';
import { parseRecipe } from '../../pipeline/recipe';
import { quantizeModel } from '../../pipeline/quantize';
import type { JobContext } from './job-context';
import type { JobOutcome } from '../protocol';

export async function quantizeJob(params: { [k: string]: Json }, ctx: JobContext): Promise<JobOutcome> {
  const modelPath = params.modelPath;
  if (typeof modelPath !== 'string') throw new StudioError('BAD_ARGUMENT', `quantize job: params.modelPath ${quote(modelPath)} is not a path.`);
  const recipe = parseRecipe(params.recipe ?? {}, 'run recipe');
  const inputs: Record<string, NpyArray> = {};
  const inputSources: Record<string, string> = {};
  for (const [name, p] of Object.entries((params.inputs ?? {}) as Record<string, Json>)) {
    if (typeof p !== 'string') throw new StudioError('BAD_ARGUMENT', `quantize job: input ${quote(name)} path ${quote(p)} is not a string.`);
    inputs[name] = readNpy(p);
    inputSources[name] = p;
  }
  const labels = typeof params.labels === 'string' ? readNpy(params.labels) : undefined;
  const outputName = typeof params.outputName === 'string' ? basename(params.outputName) : basename(modelPath).replace(/\.onnx$/i, '') + '.quant.onnx';
  const outputPath = join(ctx.workDir, outputName);
  // QAT streams { step, loss, metric? } with each progress event; keep them as per-step metrics
  // ('qat.loss', 'qat.metric') so a finished run can still draw its loss curve.
  const curve: { name: string; value: number; step: number }[] = [];
  const jobCtx: JobContext = {
    ...ctx,
    onProgress: (e) => {
      const m = e.metrics;
      if (e.stage === 'qat' && m && Number.isFinite(m.step) && Number.isFinite(m.loss) && curve.length < 20_000) {
        curve.push({ name: 'qat.loss', value: m.loss!, step: m.step! });
        if (Number.isFinite(m.metric)) curve.push({ name: 'qat.metric', value: m.metric!, step: m.step! });
      }
      ctx.onProgress?.(e);
    },
  };
  // The studio's words for the data in every description ("60 held-out samples of the calibration dataset"), not the CLI's flags.
  const report = await quantizeModel({ modelPath, outputPath, recipe, inputs, labels, inputSources, ctx: jobCtx, dataName: 'the calibration dataset', evalName: 'the evaluation dataset' });
  const metrics = [...Object.entries(report.metrics ?? {}).map(([name, value]) => ({ name, value })), ...curve];
  return { result: JSON.parse(JSON.stringify(report)) as Json, metrics, artifacts: [{ kind: 'model', path: outputPath }] };
}
