// Projects: a name, a folder under the data dir, and everything in it. Deleting one removes the row
// first, then the folder, and is refused while one of its runs is in progress.
import { rm } from 'node:fs/promises';
import { StudioError, quote } from '../errors';
import type { Handlers, ServiceDeps } from './types';

/** Delete the project's row and its folder; refused while a run of it is in progress. */
export async function deleteProject(d: ServiceDeps, id: string): Promise<{ deleted: boolean }> {
  const running = d.jobs.activeRunIds().filter((runId) => d.store.getRun(runId).projectId === id);
  if (running.length) throw new StudioError('BAD_ARGUMENT', `Project ${quote(id)} has ${running.length} run(s) in progress; cancel them first.`);
  const dir = d.store.projectDir(id);
  const deleted = d.store.deleteProject(id);
  if (deleted) await rm(dir, { recursive: true, force: true });
  return { deleted };
}

export const projectHandlers: Handlers = {
  'projects.list': (_r, d) => d.store.listProjects(),
  'projects.get': (r, d) => d.store.getProject(r.id),
  'projects.create': (r, d) => d.store.createProject(r),
  'projects.rename': (r, d) => d.store.renameProject(r.id, r.name),
  'projects.delete': (r, d) => deleteProject(d, r.id),
};
