// A pipeline run: resolves the run's params (already turned into absolute paths by the service) and
// calls the engine's one entry, quantizeModel (engine/pipeline/quantize.ts, owned by ptq).
// params: { modelPath, recipe, inputs: { [inputName]: npyPath }, labels?: npyPath, outputName? }
import { join, basename } from 'node:path';
import type { Json } from '../../../contract/ipc';
import { StudioError, quote } from '../../errors';
import { readNpy, type NpyArray } from '../../data/npy';
import type { JobContext } from '../kinds';
import type { JobOutcome } from '../protocol';

type QuantizeModel = (a: { modelPath: string; outputPath: string; recipe: unknown; inputs: Record<string, NpyArray>; labels?: NpyArray; ctx?: JobContext }) => Promise<unknown>;

async function loadQuantizeModel(): Promise<QuantizeModel> {
  // Loaded by a computed specifier until engine/pipeline/quantize.ts lands (ptq); then this becomes a
  // plain `await import('../../pipeline/quantize')` so the Electron bundle includes it.
  const spec = ['..', '..', 'pipeline', 'quantize'].join('/');
  try {
    const mod = (await import(/* @vite-ignore */ spec)) as { quantizeModel?: QuantizeModel };
    if (typeof mod.quantizeModel !== 'function') throw new Error('engine/pipeline/quantize has no quantizeModel export');
    return mod.quantizeModel;
  } catch (e) {
    throw new StudioError('NATIVE_UNAVAILABLE', `The quantization pipeline is not available in this build: ${(e as Error).message}`, { cause: e });
  }
}

export async function quantizeJob(params: { [k: string]: Json }, ctx: JobContext): Promise<JobOutcome> {
  const modelPath = params.modelPath;
  if (typeof modelPath !== 'string') throw new StudioError('BAD_ARGUMENT', `quantize job: params.modelPath ${quote(modelPath)} is not a path.`);
  const inputsSpec = (params.inputs ?? {}) as Record<string, Json>;
  const inputs: Record<string, NpyArray> = {};
  for (const [name, p] of Object.entries(inputsSpec)) {
    if (typeof p !== 'string') throw new StudioError('BAD_ARGUMENT', `quantize job: input ${quote(name)} path ${quote(p)} is not a string.`);
    inputs[name] = readNpy(p);
  }
  const labels = typeof params.labels === 'string' ? readNpy(params.labels) : undefined;
  const outputName = typeof params.outputName === 'string' ? basename(params.outputName) : basename(modelPath).replace(/\.onnx$/i, '') + '.quant.onnx';
  const outputPath = join(ctx.workDir, outputName);
  const quantizeModel = await loadQuantizeModel();
  const report = (await quantizeModel({ modelPath, outputPath, recipe: params.recipe ?? {}, inputs, labels, ctx })) as { metrics?: Record<string, number> } & Json;
  const metrics = Object.entries((report as { metrics?: Record<string, number> }).metrics ?? {}).map(([name, value]) => ({ name, value }));
  return { result: JSON.parse(JSON.stringify(report)) as Json, metrics, artifacts: [{ kind: 'model', path: outputPath }] };
}
