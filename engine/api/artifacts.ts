// What runs wrote, and exporting one to a place the user chose: copied to a temporary name beside
// the destination and renamed, so the destination is either the whole file or untouched. A file name
// without a folder goes into <dataDir>/exports/ (as the UI says), never the host process's working
// directory: the engine decides this, not the UI, which is not trusted with paths.
import { rm, stat, copyFile, rename, mkdir } from 'node:fs/promises';
import { dirname, join, basename, resolve, sep, isAbsolute } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StudioError, quote } from '../errors';
import { removeDeadTempFiles, tempNameFor } from '../util/stale-temp-files';
import type { Handlers } from './types';

export const artifactHandlers: Handlers = {
  'artifacts.list': (r, d) => d.store.listArtifacts(r.projectId, r.runId),
  'artifacts.export': async (r, d) => {
    const a = d.store.getArtifact(r.id);
    const src = join(d.store.projectDir(a.projectId), a.file);
    const exportsDir = join(resolve(d.store.dataDir), 'exports');
    const requested = isAbsolute(r.destPath) ? r.destPath : resolve(exportsDir, r.destPath);
    const dest = resolve(d.checkExportPath(requested));
    if (dest.startsWith(resolve(d.store.dataDir) + sep) && !dest.startsWith(join(resolve(d.store.dataDir), 'exports') + sep)) {
      throw new StudioError('BAD_ARGUMENT', `Export destination ${quote(dest)} is inside the studio's data folder; choose another place.`);
    }
    if (dest.startsWith(exportsDir + sep)) await mkdir(dirname(dest), { recursive: true });
    // Named with our pid: a temp file left by a killed export is removed by the next write of this name.
    removeDeadTempFiles(dirname(dest), basename(dest));
    const tmp = join(dirname(dest), tempNameFor(basename(dest), randomBytes(4).toString('hex')));
    try {
      await copyFile(src, tmp);
      await rename(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new StudioError('IO_ERROR', `Cannot export to ${quote(dest)}: ${(e as Error).message}. Nothing was written there.`, { cause: e });
    }
    return { path: dest, sizeBytes: (await stat(dest)).size };
  },
};
