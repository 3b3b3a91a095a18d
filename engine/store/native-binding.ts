// Which better-sqlite3 binary to load. better-sqlite3 is not a Node-API addon: a binary built for
// Node's ABI does not load in Electron and vice versa. One install keeps both side by side and picks
// one by runtime with `new Database(file, { nativeBinding })`:
//   - Node (tests, CLI, browser host): the package's own build (node_modules/better-sqlite3/build).
//   - Electron: QSTUDIO_SQLITE_BINDING if set; else <resources>/native/better_sqlite3.node (the
//     packaged app: electron-builder copies it there, see electron-builder.yml); else
//     <repo>/.native/electron/better_sqlite3.node (built by `node electron/scripts/build-sqlite-electron.mjs`
//     on a machine with network, for `npm start`). If none exists we fall back to the default binary
//     (electron-builder's npmRebuild rebuilds it for Electron inside a package) and, if that fails,
//     throw NATIVE_UNAVAILABLE naming every path tried and the command that fixes it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface BindingChoice {
  /** undefined = the package's default binary. */
  nativeBinding?: string;
  runtime: 'node' | 'electron';
  tried: string[];
}

export function chooseSqliteBinding(opts: { repoRoot?: string; resourcesPath?: string; env?: NodeJS.ProcessEnv; versions?: NodeJS.ProcessVersions } = {}): BindingChoice {
  const env = opts.env ?? process.env;
  const versions = opts.versions ?? process.versions;
  const runtime = versions.electron ? 'electron' : 'node';
  const tried: string[] = [];
  const candidates: string[] = [];
  if (env.QSTUDIO_SQLITE_BINDING) candidates.push(env.QSTUDIO_SQLITE_BINDING);
  if (runtime === 'electron') {
    const resources = opts.resourcesPath ?? (process as { resourcesPath?: string }).resourcesPath;
    if (resources) candidates.push(join(resources, 'native', 'better_sqlite3.node'));
    if (opts.repoRoot) candidates.push(join(opts.repoRoot, '.native', 'electron', 'better_sqlite3.node'));
  }
  for (const c of candidates) {
    tried.push(c);
    if (existsSync(c)) return { nativeBinding: c, runtime, tried };
  }
  tried.push('node_modules/better-sqlite3/build/Release/better_sqlite3.node (default)');
  return { runtime, tried };
}
