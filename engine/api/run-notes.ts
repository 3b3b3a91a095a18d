// Runs as things a user manages: a name (by default its pipeline's), notes and tags, and deletion of
// a finished run together with everything it wrote (logs, metrics, artifacts and its folder).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StudioError, quote } from '../errors';
import type { Handlers } from './types';

const cleanTags = (tags: string[]) => [...new Set(tags.map((t) => t.trim()).filter(Boolean))];

export const runNotesHandlers: Handlers = {
  'runs.notes': (r, d) => d.store.listRunNotes(r.projectId),
  'runs.annotate': (r, d) => {
    const run = d.store.getRun(r.id);
    d.store.setRunNotes(r.id, { name: r.name?.trim(), notes: r.notes, tags: r.tags ? cleanTags(r.tags) : undefined });
    return d.store.listRunNotes(run.projectId).find((n) => n.runId === r.id)!;
  },
  'runs.delete': async (r, d) => {
    const run = d.store.getRun(r.id);
    if (run.status === 'running' || run.status === 'queued' || d.jobs.activeRunIds().includes(r.id)) {
      throw new StudioError('BAD_ARGUMENT', `Run ${quote(r.id)} is ${run.status}; cancel it before deleting it.`);
    }
    const deleted = d.store.deleteRun(r.id);
    // The row goes first: a folder left by a crash in between is unreferenced, never a row without files.
    if (deleted) await rm(join(d.store.projectDir(run.projectId), 'runs', r.id), { recursive: true, force: true });
    return { deleted };
  },
};
