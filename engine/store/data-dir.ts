// Where the studio keeps its data (the projects root: studio.sqlite + projects/<id>/).
// Order: an explicit --data-dir, then QSTUDIO_HOME, then the OS's per-user app-data folder
// (Electron passes app.getPath('userData') + '/projects' instead of the last step).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.QSTUDIO_HOME) return resolve(env.QSTUDIO_HOME);
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'Quant Studio', 'projects');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Quant Studio', 'projects');
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'quant-studio', 'projects');
}

/** `--data-dir X` / `--data-dir=X` from argv, else defaultDataDir(). */
export function dataDirFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): string {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--data-dir' && argv[i + 1]) return resolve(argv[i + 1]!);
    if (a.startsWith('--data-dir=')) return resolve(a.slice('--data-dir='.length));
  }
  return defaultDataDir(env);
}
