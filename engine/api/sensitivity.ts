// The sensitivity view's channel: start an analysis run. Only ids cross from the renderer; every path
// the worker reads is resolved here from the store, inside the project's folder.
import { join } from 'node:path';
import type { Json } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import { parseRecipe } from '../pipeline/recipe';
import type { Handlers, ServiceDeps } from './types';

function npyPath(d: ServiceDeps, projectId: string, datasetId: string, role: string): string {
  const ds = d.store.getDataset(datasetId);
  if (ds.projectId !== projectId) throw new StudioError('BAD_ARGUMENT', `Dataset ${quote(ds.id)} (${role}) belongs to another project.`);
  if (ds.kind !== 'npy') throw new StudioError('BAD_ARGUMENT', `Dataset ${quote(ds.name)} (${role}) is ${quote(ds.kind)}; an analysis takes .npy arrays.`);
  return join(d.store.projectDir(projectId), ds.file);
}

export const sensitivityHandlers: Handlers = {
  'analysis.start': (r, d) => {
    d.store.getProject(r.projectId);
    // A bad recipe is a BAD_RECIPE answer now, not a failed run later.
    parseRecipe(r.recipe ?? {}, 'analysis recipe');
    const model = d.store.getModel(r.modelId);
    if (model.projectId !== r.projectId) throw new StudioError('BAD_ARGUMENT', `Model ${quote(model.id)} belongs to another project.`);
    const input = model.inputs[0]?.name;
    if (!input) throw new StudioError('BAD_MODEL', `Model ${quote(model.name)} has no inputs.`);
    const params: { [k: string]: Json } = {
      modelId: model.id, modelPath: join(d.store.projectDir(r.projectId), model.file), recipe: r.recipe ?? {},
      inputs: { [input]: npyPath(d, r.projectId, r.datasetId, 'calibration data') },
    };
    if (r.evalDatasetId) params.evalInputs = { [input]: npyPath(d, r.projectId, r.evalDatasetId, 'evaluation data') };
    if (r.labelsDatasetId) params.labels = npyPath(d, r.projectId, r.labelsDatasetId, 'labels');
    if (r.evalLabelsDatasetId) {
      if (!r.evalDatasetId) throw new StudioError('BAD_ARGUMENT', 'Evaluation labels need an evaluation dataset (evalDatasetId).');
      params.evalLabels = npyPath(d, r.projectId, r.evalLabelsDatasetId, 'evaluation labels');
    }
    return d.jobs.start({ projectId: r.projectId, pipelineId: r.pipelineId ?? null, kind: 'analyze', params });
  },
};
