// Electron main: lifecycle, the window, dialogs, and IPC handlers that only translate to engine calls.
// Data lives in --data-dir / QSTUDIO_HOME, else <userData>/projects. better-sqlite3 is loaded with an
// Electron build when present (engine/store/native-binding.ts). Jobs run in worker threads whose entry
// electron-vite bundles separately (`?modulePath`).
import { app, BrowserWindow, dialog, ipcMain, session } from 'electron';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startStudioEngine, type StudioEngine } from '../../engine/api/engine-host';
import { dataDirFromArgs } from '../../engine/store/data-dir';
import { toErrorPayload } from '../../engine/errors';
import jobWorkerPath from '../../engine/jobs/worker?modulePath';
import { registerIpc, sendEvent } from './ipc';
import { createDialogPolicy } from './dialogs';
import { createMainWindow, hardenSession } from './window';

const here = fileURLToPath(new URL('.', import.meta.url));
const preload = join(here, '../preload/index.cjs');
const rendererFile = join(here, '../renderer/index.html');
const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;

let win: BrowserWindow | undefined;
let engine: StudioEngine | undefined;

function dataDir(): string {
  const argv = process.argv.slice(1);
  if (argv.some((a) => a === '--data-dir' || a.startsWith('--data-dir=')) || process.env.QSTUDIO_HOME) return dataDirFromArgs(argv);
  return join(app.getPath('userData'), 'projects');
}

// One user-data folder name on every platform and in dev and packaged builds alike.
app.setPath('userData', join(app.getPath('appData'), 'Quant Studio'));
app.enableSandbox();
app.on('web-contents-created', (_e, contents) => {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

app.whenReady().then(() => {
  hardenSession(session.defaultSession);
  const dialogs = createDialogPolicy(dialog, () => win);
  try {
    engine = startStudioEngine({
      dataDir: dataDir(), host: 'electron', version: app.getVersion(), workerPath: jobWorkerPath,
      db: { repoRoot: app.getAppPath() }, resolveFile: dialogs.resolveFile, checkExportPath: dialogs.checkExportPath,
      overrides: dialogs.handlers,
    });
  } catch (e) {
    const err = toErrorPayload(e);
    dialog.showErrorBox('Quant Studio cannot open its data', `[${err.code}] ${err.message}`);
    app.exit(1);
    return;
  }
  registerIpc(ipcMain, engine.service, { fileUrl: pathToFileURL(rendererFile).href, devUrl });
  engine.onEvent((event, payload) => sendEvent(win?.webContents, event, payload));
  win = createMainWindow(BrowserWindow, { preload, rendererFile, devUrl });
  win.on('closed', () => { win = undefined; });
  app.on('activate', () => {
    if (!win) win = createMainWindow(BrowserWindow, { preload, rendererFile, devUrl });
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || !engine) return;
  event.preventDefault();
  quitting = true;
  void engine.close().finally(() => app.quit());
});
