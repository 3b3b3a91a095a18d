// Datasets of a project: files copied into its datasets/ folder with a kind and options (which input
// they feed, their role). `datasets.prepare` turns images or a text file into an .npy first, checks
// it against the project's model, and attaches that.
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { DatasetInfo, Json } from '../../contract/ipc';
import { StudioError } from '../errors';
import { writeNpy, type NpyArray } from '../data/npy';
import { copyIntoFolder } from './model-import';
import { imagesToArray, listImages, textToArray } from './dataset-import';
import { assertFitsModel } from './dataset-check';
import { projectPath } from './workspace';
import type { Handlers, ServiceDeps } from './types';

/**
 * Copy the file or folder at `src` (a path the host's file policy already allowed, or a file the
 * engine wrote itself) into the project's datasets/ folder as `fileName`, and record it.
 */
export async function addDataset(d: ServiceDeps, a: { projectId: string; name: string; kind: DatasetInfo['kind']; src: string; fileName: string; options?: { [k: string]: Json } }): Promise<DatasetInfo> {
  const project = d.store.getProject(a.projectId);
  const dest = await copyIntoFolder(a.src, join(project.dir, 'datasets'), a.fileName);
  return d.store.addDataset({ projectId: project.id, name: a.name, kind: a.kind, file: `datasets/${basename(dest)}`, options: a.options ?? {} });
}

export const datasetHandlers: Handlers = {
  'datasets.list': (r, d) => d.store.listDatasets(r.projectId),
  'datasets.add': (r, d) => {
    d.store.getProject(r.projectId);
    const src = d.resolveFile(r.file);
    return addDataset(d, { projectId: r.projectId, name: r.name, kind: r.kind, src, fileName: r.file.kind === 'upload' ? r.file.name : basename(src), options: r.options });
  },
  'datasets.delete': async (r, d) => {
    const ds = d.store.getDataset(r.id);
    const deleted = d.store.deleteDataset(r.id);
    if (deleted) await rm(projectPath(d, ds.projectId, ds.file), { force: true, recursive: true });
    return { deleted };
  },
  'datasets.prepare': async (r, d) => {
    d.store.getProject(r.projectId);
    const paths = r.files.map((f) => d.resolveFile(f));
    const names = r.files.map((f, i) => (f.kind === 'upload' ? f.name : paths[i]!.split(/[\\/]/).pop() ?? 'file'));
    let arr: NpyArray;
    let options: Record<string, Json>;
    if (r.kind === 'images') {
      const o = { width: r.width ?? 224, height: r.height ?? 224, channels: r.channels ?? 'rgb', mean: r.mean ?? 0.5, std: r.std ?? 0.5 } as const;
      const uploads = r.files.every((f) => f.kind === 'upload');
      const files = uploads ? paths : listImages(paths);
      arr = await imagesToArray(files, o, uploads ? names : undefined);
      options = { role: 'calibration', source: 'images', images: arr.shape[0]!, resize: [o.width, o.height], channels: o.channels, mean: o.mean, std: o.std };
    } else {
      if (paths.length !== 1) throw new StudioError('BAD_ARGUMENT', `A text dataset is one file; got ${paths.length}.`);
      const window = r.window ?? 256;
      arr = textToArray(paths[0]!, window, 1024, names[0]);
      options = { role: 'calibration', source: 'text', window, windows: arr.shape[0]! };
    }
    if (r.input) options.input = r.input;
    // Checked against the model before anything is stored (wrong size, channels or token dtype).
    assertFitsModel(d, r.projectId, arr, r.files.length === 1 ? names[0]! : `${r.files.length} ${r.kind === 'images' ? 'images' : 'files'} (${names[0]}${r.files.length > 1 ? ', …' : ''})`, options);
    // The .npy is the engine's own file: it is copied into the project directly, not through the
    // host's file policy (which is for files the user names).
    const dir = mkdtempSync(join(tmpdir(), 'qstudio-prep-'));
    try {
      const fileName = `${r.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 80) || 'data'}.npy`;
      const file = join(dir, fileName);
      await writeNpy(file, arr);
      return await addDataset(d, { projectId: r.projectId, name: r.name, kind: 'npy', src: file, fileName, options });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
