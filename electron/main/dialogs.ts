// Native file dialogs, as service handlers, plus the policy that makes them the renderer's only way to
// name files: a FileRef path or an export path is accepted only if a dialog returned it in this session.
import type { BrowserWindow, Dialog } from 'electron';
import { resolve } from 'node:path';
import { StudioError, quote } from '../../engine/errors';
import type { Handlers } from '../../engine/api/types';
import type { FileRef } from '../../contract/ipc';

export function createDialogPolicy(dialog: Pick<Dialog, 'showOpenDialog' | 'showSaveDialog'>, getWindow: () => BrowserWindow | undefined) {
  const openable = new Set<string>();
  const savable = new Set<string>();
  const handlers: Handlers = {
    'dialog.openFile': async (r) => {
      const win = getWindow();
      const opts = { title: r.title, filters: r.filters, properties: [r.directory ? 'openDirectory' as const : 'openFile' as const] };
      const res = win ? await dialog.showOpenDialog(win, opts) : await dialog.showOpenDialog(opts);
      const path = res.canceled ? null : (res.filePaths[0] ?? null);
      if (path) openable.add(resolve(path));
      return { path };
    },
    'dialog.saveFile': async (r) => {
      const win = getWindow();
      const opts = { title: r.title, defaultPath: r.defaultName, filters: r.filters };
      const res = win ? await dialog.showSaveDialog(win, opts) : await dialog.showSaveDialog(opts);
      const path = res.canceled || !res.filePath ? null : res.filePath;
      if (path) savable.add(resolve(path));
      return { path };
    },
  };
  return {
    handlers,
    resolveFile(ref: FileRef): string {
      if (ref.kind !== 'path') throw new StudioError('BAD_ARGUMENT', `The desktop app takes files from its open dialog, not uploads (${quote(ref.uploadId)}).`);
      const p = resolve(ref.path);
      if (!openable.has(p)) throw new StudioError('BAD_ARGUMENT', `The file ${quote(ref.path)} was not chosen in an open dialog; choose it with "Import…".`);
      return p;
    },
    checkExportPath(path: string): string {
      const p = resolve(path);
      if (!savable.has(p)) throw new StudioError('BAD_ARGUMENT', `The destination ${quote(path)} was not chosen in a save dialog.`);
      return p;
    },
  };
}
