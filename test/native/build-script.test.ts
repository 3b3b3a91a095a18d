// The postinstall build (native-kernels/scripts/build-addon.mjs) must never fail `npm ci`: without cmake
// or a compiler it prints one line and exits 0 (and `--force`, i.e. `npm run build:native`, exits 1).
// Run on a copy of the script in a temp project so the real build folder is left alone.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { repoRoot } from '../helpers/shared';

function tempProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qk-build-'));
  mkdirSync(join(dir, 'native-kernels', 'scripts'), { recursive: true });
  copyFileSync(join(repoRoot, 'native-kernels', 'scripts', 'build-addon.mjs'), join(dir, 'native-kernels', 'scripts', 'build-addon.mjs'));
  writeFileSync(join(dir, 'package.json'), '{"name":"tmp","private":true,"type":"module"}');
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function runScript(dir: string, args: string[], env: Record<string, string>) {
  const emptyBin = mkdtempSync(join(tmpdir(), 'qk-bin-'));
  return spawnSync(process.execPath, [join(dir, 'native-kernels', 'scripts', 'build-addon.mjs'), ...args], {
    encoding: 'utf8', env: { HOME: process.env.HOME ?? '/tmp', PATH: emptyBin, ...env },
  });
}

describe('postinstall build script', () => {
  it('QSTUDIO_NATIVE=0 skips the build with one line and exit 0', () => {
    const r = runScript(tempProject(), [], { QSTUDIO_NATIVE: '0' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toContain('TypeScript reference kernels');
  });

  it('without cmake on PATH: one actionable line and exit 0 (npm ci goes on); --force exits 1', () => {
    const dir = tempProject();
    const r = runScript(dir, [], {});
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cmake was not found on PATH.*npm run build:native.*TypeScript reference kernels/);
    expect(existsSync(join(dir, 'native-kernels', 'build', 'Release', 'quant_kernels.node'))).toBe(false);
    const forced = runScript(dir, ['--force'], {});
    expect(forced.status).toBe(1);
  });
});
