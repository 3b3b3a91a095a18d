// The sample projects shipped beside the app (projects-sample/): listed, and opened as a new project
// with the sample's model and datasets imported. The sample files are the engine's own, so they are
// imported by path directly; the host's file policy is for files the user names.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { basename, join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Json, ResponseOf } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import { deleteProject } from './projects';
import { importModel } from './models';
import { addDataset } from './datasets';
import type { Handlers, ServiceDeps } from './types';

/** projects-sample/ beside the app (repo root in development; ServiceDeps.samplesDir overrides it). */
export function defaultSamplesDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../projects-sample');
}

const samplesDirOf = (d: ServiceDeps) => d.samplesDir ?? defaultSamplesDir();

interface SampleManifest {
  title: string; description: string; model: string; recipe: string; template?: string;
  datasets: { name: string; kind: 'npy' | 'images' | 'text'; file: string; options?: Record<string, Json> }[];
}

function readManifest(dir: string, id: string): SampleManifest {
  const file = join(dir, id, 'sample.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SampleManifest;
  } catch (e) {
    throw new StudioError('NOT_FOUND', `Sample ${quote(id)} has no readable manifest at ${quote(file)}: ${(e as Error).message}`);
  }
}

export const sampleHandlers: Handlers = {
  'samples.list': (_r, d) => {
    const samplesDir = samplesDirOf(d);
    if (!existsSync(samplesDir)) return [];
    const out: ResponseOf<'samples.list'> = [];
    for (const id of readdirSync(samplesDir).sort()) {
      if (!existsSync(join(samplesDir, id, 'sample.json'))) continue;
      const m = readManifest(samplesDir, id);
      const files = [m.model, ...m.datasets.map((ds) => ds.file), m.recipe];
      const sizeBytes = files.reduce((a, f) => a + (existsSync(join(samplesDir, id, f)) ? statSync(join(samplesDir, id, f)).size : 0), 0);
      out.push({ id, title: m.title, description: m.description, sizeBytes, files });
    }
    return out;
  },

  'samples.open': async (r, d) => {
    const samplesDir = samplesDirOf(d);
    const m = readManifest(samplesDir, r.sampleId);
    const dir = join(samplesDir, r.sampleId);
    const recipe = JSON.parse(readFileSync(join(dir, m.recipe), 'utf8')) as Record<string, Json>;
    const project = d.store.createProject({ name: r.name ?? m.title, description: m.description });
    try {
      await importModel(d, project.id, join(dir, m.model), m.title);
      for (const ds of m.datasets) {
        const src = join(dir, ds.file);
        await addDataset(d, { projectId: project.id, name: ds.name, kind: ds.kind, src, fileName: basename(src), options: { ...(ds.options ?? {}), sample: r.sampleId } });
      }
    } catch (e) {
      await deleteProject(d, project.id).catch(() => undefined);
      throw e;
    }
    return { project, recipe };
  },
};
