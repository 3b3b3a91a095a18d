#!/usr/bin/env node
// Builds better-sqlite3 for Electron's ABI *beside* the Node build (which tests, the CLI and the browser
// host keep using), into .native/electron/better_sqlite3.node. engine/store/native-binding.ts loads it
// when running inside Electron (`npm start`); electron-builder also ships it (extraResources).
// Needs network (Electron's headers). Usage: node electron/scripts/build-sqlite-electron.mjs [--if-missing]
// (`npm start` runs it with --if-missing first: it builds once per Electron version, then does nothing.)
import { cpSync, mkdirSync, mkdtempSync, copyFileSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'package.json'));
const electronVersion = JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
const pkgDir = dirname(require.resolve('better-sqlite3/package.json'));
const outDir = join(root, '.native', 'electron');
const stamp = join(outDir, 'electron-version.txt');
if (process.argv.includes('--if-missing') && existsSync(join(outDir, 'better_sqlite3.node')) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === electronVersion) {
  process.exit(0);
}
const work = mkdtempSync(join(tmpdir(), 'sqlite-electron-'));
try {
  cpSync(pkgDir, join(work, 'better-sqlite3'), { recursive: true, filter: (p) => !p.includes(`${pkgDir}/build`) });
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
  // npm may point node-gyp at the local Node headers (npm_config_nodedir): drop that, we want Electron's.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_(nodedir|target|runtime|disturl|dist_url)$/i.test(k)));
  try {
    execFileSync(process.execPath, [nodeGyp, 'rebuild', '--release', `--target=${electronVersion}`, '--dist-url=https://electronjs.org/headers', '--runtime=electron'], { cwd: join(work, 'better-sqlite3'), stdio: 'inherit', env });
  } catch {
    console.error(`\nCould not build better-sqlite3 for Electron ${electronVersion} (this needs network for Electron's headers and a C++ toolchain).\n` +
      'Without it the desktop app cannot open its database; the browser host (`npm run serve`), the CLI and the tests do not need it.');
    process.exit(1);
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(root, '.native', '.gitignore'), '*\n');
  copyFileSync(join(work, 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'), join(outDir, 'better_sqlite3.node'));
  writeFileSync(stamp, electronVersion + '\n');
  console.log(`better-sqlite3 for Electron ${electronVersion}: ${join(outDir, 'better_sqlite3.node')}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
