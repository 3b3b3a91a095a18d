// What runs wrote, and exporting one to a place the user chose: copied to a temporary name beside
// the destination and renamed, so the destination is either the whole file or untouched.
import { rm, stat, copyFile, rename } from 'node:fs/promises';
import { dirname, join, basename, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StudioError, quote } from '../errors';
import { removeDeadTempFiles, tempNameFor } from '../util/stale-temp-files';
import type { Handlers } from './types';

export const artifactHandlers: Handlers = {
  'artifacts.list': (r, d) => d.store.listArtifacts(r.projectId, r.runId),
  'artifacts.export': async (r, d) => {
    const a = d.store.getArtifact(r.id);
    const src = join(d.store.projectDir(a.projectId), a.file);
    const dest = resolve(d.checkExportPath(r.destPath));
    if (dest.startsWith(resolve(d.store.dataDir) + sep) && !dest.startsWith(join(resolve(d.store.dataDir), 'exports') + sep)) {
      throw new StudioError('BAD_ARGUMENT', `Export destination ${quote(dest)} is inside the studio's data folder; choose another place.`);
    }
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
