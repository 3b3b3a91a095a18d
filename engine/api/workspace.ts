// What several handler modules need from the store beyond one row: a model's file and its parsed
// ONNX (cached per service, keyed by the file's hash), and a calibration dataset read as the model's
// input. Paths come from the store's rows, never from the renderer.
import { isAbsolute, join } from 'node:path';
import type { ActivationRange, RunEvaluation } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import { loadModel, type LoadedModel } from '../onnx/model-io';
import { readNpy, type NpyArray } from '../data/npy';
import { readTextWindows } from '../data/text-windows';
import type { ServiceDeps } from './types';

interface Caches {
  models: Map<string, { key: string; loaded: LoadedModel }>;
  activationRanges: Map<string, Map<string, ActivationRange>>;
  evaluations: Map<string, RunEvaluation>;
}

// Per service (its deps object): two services over two stores never share a cached model.
const caches = new WeakMap<ServiceDeps, Caches>();

export function cachesOf(d: ServiceDeps): Caches {
  let c = caches.get(d);
  if (!c) {
    c = { models: new Map(), activationRanges: new Map(), evaluations: new Map() };
    caches.set(d, c);
  }
  return c;
}

/** A store path relative to its project folder (or already absolute) as an absolute path. */
export function projectPath(d: ServiceDeps, projectId: string, file: string): string {
  return isAbsolute(file) ? file : join(d.store.projectDir(projectId), file);
}

/** The model's ONNX, parsed once per content hash. */
export async function loadedModel(d: ServiceDeps, modelId: string): Promise<LoadedModel> {
  const m = d.store.getModel(modelId);
  const { models } = cachesOf(d);
  const hit = models.get(modelId);
  if (hit && hit.key === m.sha256) return hit.loaded;
  const loaded = await loadModel(projectPath(d, m.projectId, m.file));
  if (models.size > 4) models.clear();
  models.set(modelId, { key: m.sha256, loaded });
  return loaded;
}

/** A calibration dataset of the model's project, read as the model's (single) input. */
export function datasetInputs(d: ServiceDeps, modelId: string, datasetId: string, lm: LoadedModel): { inputs: Record<string, NpyArray>; name: string } {
  const m = d.store.getModel(modelId);
  const p = d.store.getProject(m.projectId);
  const ds = d.store.listDatasets(m.projectId).find((x) => x.id === datasetId);
  if (!ds) throw new StudioError('NOT_FOUND', `Dataset ${quote(datasetId)} is not in project ${quote(p.name)}.`);
  const path = projectPath(d, m.projectId, ds.file);
  const inits = new Set(lm.model.graph!.initializer.map((t) => t.name));
  const graphInputs = lm.model.graph!.input.filter((i) => !inits.has(i.name)).map((i) => i.name);
  const input = typeof ds.options.input === 'string' ? ds.options.input : graphInputs[0];
  if (!input || !graphInputs.includes(input)) throw new StudioError('BAD_DATA', `Dataset ${quote(ds.name)} feeds input ${quote(input)}, which model ${quote(m.name)} does not have (inputs: ${graphInputs.join(', ')}).`);
  if (graphInputs.length > 1) throw new StudioError('BAD_DATA', `Model ${quote(m.name)} has ${graphInputs.length} inputs; activation statistics need one dataset per input (only single-input models are supported here).`);
  if (ds.options.role === 'labels') throw new StudioError('BAD_DATA', `Dataset ${quote(ds.name)} holds labels, not model inputs: choose a calibration dataset.`);
  let arr: NpyArray;
  if (ds.kind === 'npy') arr = readNpy(path);
  else if (ds.kind === 'text') arr = readTextWindows(path, 16, typeof ds.options.window === 'number' ? ds.options.window : 256);
  else throw new StudioError('BAD_DATA', `Dataset ${quote(ds.name)} is an image folder; convert it to .npy first (activation statistics read .npy or text).`);
  return { inputs: { [input]: arr }, name: ds.name };
}
