// Runs: starting one (only ids cross from the renderer; every path the worker reads is derived here
// from the store), cancelling, its logs and metrics, and measuring a finished run's model against
// its FP32 source (latency and the task metric).
import { join, resolve, sep } from 'node:path';
import type { Json, RunEvaluation } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import { parseRecipe } from '../pipeline/recipe';
import { readNpy, type NpyArray } from '../data/npy';
import { compareLatency } from '../eval/latency';
import { top1Accuracy, perplexity } from '../eval/task-metrics';
import { createSession } from '../runtime/session';
import { cachesOf, projectPath } from './workspace';
import type { Handlers, ServiceDeps } from './types';

const JOB_KINDS = new Set(['quantize']);
/** Test-only kinds: reachable only when the engine was started for tests (ServiceDeps.testJobKinds). */
const TEST_JOB_KINDS = new Set(['selftest']);

/** Params a renderer sends for a quantize run, resolved to absolute paths for the worker. */
function resolveRunParams(deps: ServiceDeps, projectId: string, kind: string, params: { [k: string]: Json }): { [k: string]: Json } {
  if (!JOB_KINDS.has(kind) && !(deps.testJobKinds && TEST_JOB_KINDS.has(kind))) throw new StudioError('BAD_ARGUMENT', `Unknown run kind ${quote(kind)} (known: ${[...JOB_KINDS].join(', ')}).`);
  if (kind !== 'quantize') return params;
  // The recipe is judged before a run row exists: a bad key is a BAD_RECIPE answer, not a failed run.
  parseRecipe(params.recipe ?? {}, 'run recipe');
  const { store } = deps;
  if (typeof params.modelId !== 'string') throw new StudioError('BAD_ARGUMENT', `A quantize run needs params.modelId; got ${quote(params.modelId)}.`);
  const model = store.getModel(params.modelId);
  if (model.projectId !== projectId) throw new StudioError('BAD_ARGUMENT', `Model ${quote(model.id)} belongs to another project.`);
  const dir = store.projectDir(projectId);
  const inputs: Record<string, Json> = {};
  const npyOf = (datasetId: string, role: string): string => {
    const ds = store.getDataset(datasetId);
    if (ds.projectId !== projectId) throw new StudioError('BAD_ARGUMENT', `Dataset ${quote(ds.id)} (${role}) belongs to another project.`);
    if (ds.kind !== 'npy') throw new StudioError('BAD_ARGUMENT', `Dataset ${quote(ds.name)} (${role}) is ${quote(ds.kind)}; a quantize run takes .npy arrays here.`);
    return join(dir, ds.file);
  };
  if (typeof params.datasetId === 'string') {
    const inputName = typeof params.inputName === 'string' ? params.inputName : model.inputs[0]?.name;
    if (!inputName) throw new StudioError('BAD_MODEL', `Model ${quote(model.name)} has no inputs.`);
    inputs[inputName] = npyOf(params.datasetId, 'calibration data');
  }
  const resolved: { [k: string]: Json } = { modelId: model.id, modelPath: join(dir, model.file), inputs, recipe: params.recipe ?? {} };
  if (typeof params.datasetId === 'string') resolved.datasetId = params.datasetId;
  if (typeof params.labelsDatasetId === 'string') resolved.labels = npyOf(params.labelsDatasetId, 'labels');
  else if (typeof params.labels === 'string') {
    // Accepted for compatibility: a path, but only inside this project's folder (prefer labelsDatasetId).
    const p = resolve(dir, params.labels);
    if (!p.startsWith(resolve(dir) + sep)) throw new StudioError('BAD_ARGUMENT', `params.labels ${quote(params.labels)} is outside the project folder; pass labelsDatasetId.`);
    resolved.labels = p;
  }
  if (typeof params.outputName === 'string') resolved.outputName = params.outputName;
  return resolved;
}

/** Latency (fastest of interleaved runs) and the task metric of a finished run's model vs its FP32 source. */
async function evaluateRun(d: ServiceDeps, runId: string, batch: number): Promise<RunEvaluation> {
  const run = d.store.getRun(runId);
  if (run.status !== 'succeeded') throw new StudioError('BAD_ARGUMENT', `Run ${quote(run.id)} is ${run.status}; only a finished run can be measured.`);
  const artifact = d.store.listArtifacts(run.projectId, run.id).find((a) => a.kind === 'model');
  if (!artifact) throw new StudioError('NOT_FOUND', `Run ${quote(run.id)} recorded no model artifact.`);
  const quantPath = projectPath(d, run.projectId, artifact.file);
  const fp32Path = run.params.modelPath;
  if (typeof fp32Path !== 'string') throw new StudioError('NOT_FOUND', `Run ${quote(run.id)} does not record its FP32 model path.`);
  const inputs: Record<string, NpyArray> = {};
  for (const [name, p] of Object.entries((run.params.inputs ?? {}) as Record<string, Json>)) if (typeof p === 'string') inputs[name] = readNpy(p);
  if (!Object.keys(inputs).length) throw new StudioError('BAD_DATA', `Run ${quote(run.id)} had no input data to measure with.`);
  const threads = 1;
  const lat = await compareLatency(fp32Path, quantPath, inputs, { batch, threads, runs: 21, warmup: 3 });
  let metric: RunEvaluation['metric'] = null;
  const [first] = Object.values(inputs);
  const samples = first?.shape[0] ?? 0;
  const both = async (f: (s: Awaited<ReturnType<typeof createSession>>) => Promise<number>) => {
    const out: number[] = [];
    for (const path of [fp32Path, quantPath]) {
      const s = await createSession(path, { device: 'cpu' });
      try { out.push(await f(s)); } finally { await s.release(); }
    }
    return out as [number, number];
  };
  if (typeof run.params.labels === 'string') {
    const labels = readNpy(run.params.labels);
    const [a, b] = await both((s) => top1Accuracy(s, inputs, labels));
    metric = { name: 'top-1 accuracy', fp32: a, quant: b, higherIsBetter: true };
  } else if (first && first.dtype === 'int64' && first.shape.length === 2 && Object.keys(inputs).length === 1) {
    const [a, b] = await both((s) => perplexity(s, first));
    metric = { name: 'perplexity', fp32: a, quant: b, higherIsBetter: false };
  }
  // Speed-up from the fastest run of each model, not the median: with 1 thread on a shared machine
  // the FP32 model's longer runs get preempted far more often than the int8 model's, which once
  // made the medians claim 7.9× where the compute (min, and CPU time) is 2.3×.
  return {
    runId: run.id, batch: lat.a.batch, threads, samples, fp32Ms: lat.a.minMs, quantMs: lat.b.minMs, speedup: lat.a.minMs / lat.b.minMs,
    fp32MedianMs: lat.a.medianMs, quantMedianMs: lat.b.medianMs, fp32CpuMs: lat.a.cpuMs, quantCpuMs: lat.b.cpuMs, runs: lat.a.runs, metric,
  };
}

export const runHandlers: Handlers = {
  'runs.list': (r, d) => d.store.listRuns(r.projectId),
  'runs.get': (r, d) => d.store.getRun(r.id),
  'runs.logs': (r, d) => d.store.listLogs(r.id, r.after ?? 0),
  'runs.start': (r, d) => {
    d.store.getProject(r.projectId);
    const params = resolveRunParams(d, r.projectId, r.kind, r.params ?? {});
    return d.jobs.start({ projectId: r.projectId, pipelineId: r.pipelineId ?? null, kind: r.kind, params });
  },
  'runs.cancel': (r, d) => d.jobs.cancel(r.id),
  'runs.evaluate': async (r, d) => {
    const batch = r.batch ?? 8;
    const { evaluations } = cachesOf(d);
    const key = `${r.runId}:${batch}`;
    const hit = evaluations.get(key);
    if (hit) return hit;
    const result = await evaluateRun(d, r.runId, batch);
    evaluations.set(key, result);
    return result;
  },
  'metrics.list': (r, d) => d.store.listMetrics(r.runId),
};
