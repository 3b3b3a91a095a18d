// Saved pipelines (the editor's documents) of a project.
import type { Handlers } from './types';

export const pipelineHandlers: Handlers = {
  'pipelines.list': (r, d) => d.store.listPipelines(r.projectId),
  'pipelines.get': (r, d) => d.store.getPipeline(r.id),
  'pipelines.save': (r, d) => d.store.savePipeline(r),
  'pipelines.delete': (r, d) => ({ deleted: d.store.deletePipeline(r.id) }),
};
