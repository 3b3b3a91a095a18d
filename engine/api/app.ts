// The app itself: what is running where, and the channels only the desktop host answers (file
// dialogs; Electron's main process overrides them).
import { platform } from 'node:os';
import { StudioError } from '../errors';
import type { Handlers } from './types';

export const appHandlers: Handlers = {
  'app.info': (_r, d) => ({ version: d.version, host: d.host, dataDir: d.store.dataDir, platform: platform() }),
  'dialog.openFile': (_r, d) => { throw new StudioError('BAD_ARGUMENT', `File dialogs exist only in the desktop app; the ${d.host} host uploads files instead.`); },
  'dialog.saveFile': (_r, d) => { throw new StudioError('BAD_ARGUMENT', `File dialogs exist only in the desktop app; the ${d.host} host downloads files instead.`); },
};
