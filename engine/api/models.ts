// Models of a project: imported by copying the ONNX file into the project's models/ folder (facts
// read from the copy: hash, opset, inputs), deleted with their file, and shown as a graph.
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ModelInfo } from '../../contract/ipc';
import { copyIntoFolder, readModelFacts } from './model-import';
import { graphView } from './graph-view';
import { loadedModel, projectPath } from './workspace';
import type { Handlers, ServiceDeps } from './types';

/**
 * Copy the ONNX file at `src` (a path the host's file policy already allowed, or one of the engine's
 * own sample files) into the project and record it; the copy is removed again if it is not a model.
 */
export async function importModel(d: ServiceDeps, projectId: string, src: string, displayName: string): Promise<ModelInfo> {
  const project = d.store.getProject(projectId);
  const dest = await copyIntoFolder(src, join(project.dir, 'models'), displayName.endsWith('.onnx') ? displayName : `${displayName}.onnx`);
  try {
    const facts = await readModelFacts(dest);
    return d.store.addModel({ projectId: project.id, name: displayName.replace(/\.onnx$/i, ''), file: `models/${basename(dest)}`, ...facts });
  } catch (e) {
    await rm(dest, { force: true });
    throw e;
  }
}

export const modelHandlers: Handlers = {
  'models.list': (r, d) => d.store.listModels(r.projectId),
  'models.get': (r, d) => d.store.getModel(r.id),
  'models.import': (r, d) => {
    d.store.getProject(r.projectId);
    const src = d.resolveFile(r.file);
    return importModel(d, r.projectId, src, r.name ?? (r.file.kind === 'upload' ? r.file.name : basename(src)));
  },
  'models.delete': async (r, d) => {
    const m = d.store.getModel(r.id);
    const deleted = d.store.deleteModel(r.id);
    if (deleted) await rm(projectPath(d, m.projectId, m.file), { force: true });
    return { deleted };
  },
  'graph.view': async (r, d) => graphView((await loadedModel(d, r.modelId)).model, r.modelId),
};
