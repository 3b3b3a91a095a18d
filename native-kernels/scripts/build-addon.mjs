#!/usr/bin/env node
// Builds native-kernels/build/Release/quant_kernels.node with cmake-js. Run by `npm install`
// (postinstall) and `npm run build:native` (--force: always rebuild, exit 1 on failure).
//
// During install it never fails the install: without cmake or a C++ compiler it prints one line and
// exits 0, and the engine then uses its TypeScript reference kernels. With nvcc (CUDACXX, PATH,
// /usr/local/cuda/bin, /usr/local/bin) the CUDA kernels are compiled in; if that build fails, it
// retries CPU-only. QSTUDIO_NATIVE=0 skips the build; QSTUDIO_NATIVE_CUDA=0 builds CPU-only.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = resolve(here, '..');
const root = resolve(pkgDir, '..');
const buildDir = join(pkgDir, 'build');
const logFile = join(buildDir, 'build.log');
const force = process.argv.includes('--force');
const strict = force || process.argv.includes('--strict');
const require = createRequire(join(root, 'package.json'));
const say = (msg) => console.log(`[native-kernels] ${msg}`);

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function giveUp(why) {
  say(`${why} — the engine will use the TypeScript reference kernels (details: ${logFile}).`);
  process.exit(strict ? 1 : 0);
}

if (process.env.QSTUDIO_NATIVE === '0') {
  say('QSTUDIO_NATIVE=0: native build skipped; the engine will use the TypeScript reference kernels.');
  process.exit(0);
}
if (process.platform !== 'linux' || process.arch !== 'x64') {
  say(`no native build for ${process.platform}-${process.arch} (x86-64 Linux only); the engine will use the TypeScript reference kernels.`);
  process.exit(0);
}

mkdirSync(buildDir, { recursive: true });
writeFileSync(logFile, `build started ${new Date().toISOString()}\n`);

let cmakeJs, addonApi;
try {
  cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  addonApi = dirname(require.resolve('node-addon-api/package.json'));
} catch (e) {
  giveUp(`cmake-js or node-addon-api is not installed (${e.message.split('\n')[0]})`);
}
if (!which('cmake')) giveUp('cmake was not found on PATH; install cmake (>= 3.18) and run `npm run build:native`');
if (!which(process.env.CXX || 'c++') && !which('g++') && !which('clang++'))
  giveUp('no C++ compiler (c++, g++, clang++) was found; install one and run `npm run build:native`');

function findNvcc() {
  if (process.env.QSTUDIO_NATIVE_CUDA === '0') return null;
  const candidates = [process.env.CUDACXX, which('nvcc'), '/usr/local/cuda/bin/nvcc', '/usr/local/bin/nvcc'];
  return candidates.find((p) => p && existsSync(p)) ?? null;
}

const jobs = String(Math.max(1, availableParallelism()));
function build(nvcc) {
  const out = join(buildDir, nvcc ? 'cmake-cuda' : 'cmake-cpu');
  const args = [cmakeJs, 'build', '-d', pkgDir, '-O', out, '--parallel', jobs,
    `--CDNODE_ADDON_API_DIR=${addonApi}`, `--CDQK_CUDA=${nvcc ? 'ON' : 'OFF'}`];
  if (nvcc) args.push(`--CDCMAKE_CUDA_COMPILER=${nvcc}`);
  if (which('ninja')) args.push('-G', 'Ninja');
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, {
    cwd: root, encoding: 'utf8', maxBuffer: 64 << 20,
    env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs },
  });
  appendFileSync(logFile, `\n$ node ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}\nexit ${r.status} in ${Date.now() - t0} ms\n`);
  const built = join(out, 'Release', 'quant_kernels.node');
  if (r.status !== 0 || !existsSync(built)) return null;
  return { built, seconds: (Date.now() - t0) / 1000 };
}

function install(result, cuda) {
  const dest = join(buildDir, 'Release');
  mkdirSync(dest, { recursive: true });
  const target = join(dest, 'quant_kernels.node');
  rmSync(target, { force: true });
  // copy, never rename: the cmake tree stays usable for incremental rebuilds
  writeFileSync(target, new Uint8Array(require('node:fs').readFileSync(result.built)));
  // loading it here proves the binary links and initializes on this machine
  const probe = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(target)}); process.stdout.write(String(a.cudaCompiled))`], { encoding: 'utf8' });
  if (probe.status !== 0) {
    appendFileSync(logFile, `load probe failed:\n${probe.stderr}\n`);
    rmSync(target, { force: true });
    return false;
  }
  say(`built ${cuda ? 'with CUDA' : 'CPU-only'} in ${result.seconds.toFixed(1)} s -> ${target}`);
  return true;
}

const nvcc = findNvcc();
if (nvcc) {
  const r = build(nvcc);
  if (r && install(r, true)) process.exit(0);
  say(`the CUDA build with ${nvcc} failed; building CPU-only (see ${logFile}).`);
}
const r = build(null);
if (r && install(r, false)) process.exit(0);
giveUp('the native kernel build failed');
