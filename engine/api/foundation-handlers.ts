// Handlers for the foundation's channels: pure Node, no Electron. They translate a validated request
// into store / engine / job-runner calls.
import { rm, stat, copyFile, rename } from 'node:fs/promises';
import { dirname, join, basename, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { platform } from 'node:os';
import type { Json } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import { copyIntoFolder, readModelFacts } from './model-import';
import type { Handlers, ServiceDeps } from './types';

const JOB_KINDS = new Set(['quantize']);
/** Test-only kinds: reachable only when the engine was started for tests (ServiceDeps.testJobKinds). */
const TEST_JOB_KINDS = new Set(['selftest']);

/** Params a renderer sends for a quantize run, resolved to absolute paths for the worker. */
function resolveRunParams(deps: ServiceDeps, projectId: string, kind: string, params: { [k: string]: Json }): { [k: string]: Json } {
  if (!JOB_KINDS.has(kind) && !(deps.testJobKinds && TEST_JOB_KINDS.has(kind))) throw new StudioError('BAD_ARGUMENT', `Unknown run kind ${quote(kind)} (known: ${[...JOB_KINDS].join(', ')}).`);
  if (kind !== 'quantize') return params;
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
  // Only ids cross from the renderer; every path the worker reads is derived here from the store.
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

export const foundationHandlers: Handlers = {
  'app.info': (_r, d) => ({ version: d.version, host: d.host, dataDir: d.store.dataDir, platform: platform() }),

  'projects.list': (_r, d) => d.store.listProjects(),
  'projects.get': (r, d) => d.store.getProject(r.id),
  'projects.create': (r, d) => d.store.createProject(r),
  'projects.rename': (r, d) => d.store.renameProject(r.id, r.name),
  'projects.delete': async (r, d) => {
    const running = d.jobs.activeRunIds().filter((id) => d.store.getRun(id).projectId === r.id);
    if (running.length) throw new StudioError('BAD_ARGUMENT', `Project ${quote(r.id)} has ${running.length} run(s) in progress; cancel them first.`);
    const dir = d.store.projectDir(r.id);
    const deleted = d.store.deleteProject(r.id);
    if (deleted) await rm(dir, { recursive: true, force: true });
    return { deleted };
  },

  'models.list': (r, d) => d.store.listModels(r.projectId),
  'models.get': (r, d) => d.store.getModel(r.id),
  'models.import': async (r, d) => {
    const project = d.store.getProject(r.projectId);
    const src = d.resolveFile(r.file);
    const displayName = r.name ?? (r.file.kind === 'upload' ? r.file.name : basename(src));
    const dest = await copyIntoFolder(src, join(project.dir, 'models'), displayName.endsWith('.onnx') ? displayName : `${displayName}.onnx`);
    try {
      const facts = await readModelFacts(dest);
      return d.store.addModel({ projectId: project.id, name: displayName.replace(/\.onnx$/i, ''), file: `models/${basename(dest)}`, ...facts });
    } catch (e) {
      await rm(dest, { force: true });
      throw e;
    }
  },
  'models.delete': async (r, d) => {
    const m = d.store.getModel(r.id);
    const deleted = d.store.deleteModel(r.id);
    if (deleted) await rm(join(d.store.projectDir(m.projectId), m.file), { force: true });
    return { deleted };
  },

  'datasets.list': (r, d) => d.store.listDatasets(r.projectId),
  'datasets.add': async (r, d) => {
    const project = d.store.getProject(r.projectId);
    const src = d.resolveFile(r.file);
    const dest = await copyIntoFolder(src, join(project.dir, 'datasets'), r.file.kind === 'upload' ? r.file.name : basename(src));
    return d.store.addDataset({ projectId: project.id, name: r.name, kind: r.kind, file: `datasets/${basename(dest)}`, options: r.options ?? {} });
  },
  'datasets.delete': async (r, d) => {
    const ds = d.store.getDataset(r.id);
    const deleted = d.store.deleteDataset(r.id);
    if (deleted) await rm(join(d.store.projectDir(ds.projectId), ds.file), { force: true, recursive: true });
    return { deleted };
  },

  'pipelines.list': (r, d) => d.store.listPipelines(r.projectId),
  'pipelines.get': (r, d) => d.store.getPipeline(r.id),
  'pipelines.save': (r, d) => d.store.savePipeline(r),
  'pipelines.delete': (r, d) => ({ deleted: d.store.deletePipeline(r.id) }),

  'runs.list': (r, d) => d.store.listRuns(r.projectId),
  'runs.get': (r, d) => d.store.getRun(r.id),
  'runs.logs': (r, d) => d.store.listLogs(r.id, r.after ?? 0),
  'runs.start': (r, d) => {
    d.store.getProject(r.projectId);
    const params = resolveRunParams(d, r.projectId, r.kind, r.params ?? {});
    return d.jobs.start({ projectId: r.projectId, pipelineId: r.pipelineId ?? null, kind: r.kind, params });
  },
  'runs.cancel': (r, d) => d.jobs.cancel(r.id),

  'metrics.list': (r, d) => d.store.listMetrics(r.runId),
  'artifacts.list': (r, d) => d.store.listArtifacts(r.projectId, r.runId),
  'artifacts.export': async (r, d) => {
    const a = d.store.getArtifact(r.id);
    const src = join(d.store.projectDir(a.projectId), a.file);
    const dest = resolve(d.checkExportPath(r.destPath));
    if (dest.startsWith(resolve(d.store.dataDir) + sep) && !dest.startsWith(join(resolve(d.store.dataDir), 'exports') + sep)) {
      throw new StudioError('BAD_ARGUMENT', `Export destination ${quote(dest)} is inside the studio's data folder; choose another place.`);
    }
    const tmp = join(dirname(dest), `.${basename(dest)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await copyFile(src, tmp);
      await rename(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new StudioError('IO_ERROR', `Cannot export to ${quote(dest)}: ${(e as Error).message}. Nothing was written there.`, { cause: e });
    }
    return { path: dest, sizeBytes: (await stat(dest)).size };
  },

  'dialog.openFile': (_r, d) => { throw new StudioError('BAD_ARGUMENT', `File dialogs exist only in the desktop app; the ${d.host} host uploads files instead.`); },
  'dialog.saveFile': (_r, d) => { throw new StudioError('BAD_ARGUMENT', `File dialogs exist only in the desktop app; the ${d.host} host downloads files instead.`); },
};
