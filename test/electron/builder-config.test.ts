// electron-builder.yml describes Linux (AppImage, deb), Windows (nsis) and macOS (dmg) targets and
// keeps native modules out of the asar; the electron-vite build layout matches what it packages.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const root = resolve(__dirname, '..', '..');
const cfg = parse(readFileSync(join(root, 'electron-builder.yml'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const targets = (t: unknown) => (Array.isArray(t) ? t.map((x) => (typeof x === 'string' ? x : x.target)) : [t]);

describe('electron-builder.yml', () => {
  it('has an app id and product name', () => {
    expect(cfg.appId).toMatch(/^[a-z0-9.-]+$/);
    expect(cfg.productName).toBe('Quant Studio');
  });

  it('targets Linux AppImage + deb, Windows nsis, macOS dmg', () => {
    expect(targets(cfg.linux.target)).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect(targets(cfg.win.target)).toContain('nsis');
    expect(targets(cfg.mac.target)).toContain('dmg');
  });

  it('unpacks the native modules from asar', () => {
    const unpack: string[] = cfg.asarUnpack;
    for (const mod of ['better-sqlite3', 'onnxruntime-node']) expect(unpack.some((p) => p.includes(`node_modules/${mod}`)), mod).toBe(true);
    expect(unpack.some((p) => p.startsWith('native-kernels/build'))).toBe(true);
    expect(unpack).toContain('**/*.node');
    expect(cfg.npmRebuild).toBe(true);
  });

  it('packages the build output the app starts from, and no tests', () => {
    expect(cfg.files).toContain('out/**');
    expect(cfg.files).toContain('package.json');
    expect(cfg.files).toContain('!test/**');
    expect(pkg.main).toBe('./out/main/index.js');
    expect(cfg.extraResources[0]).toMatchObject({ from: '.native/electron', to: 'native' });
  });

  it('native modules it unpacks are runtime dependencies, electron is a dev dependency', () => {
    expect(pkg.dependencies['better-sqlite3']).toMatch(/^\^?12\./);
    expect(pkg.dependencies['onnxruntime-node']).toBeTruthy();
    expect(pkg.devDependencies.electron).toBeTruthy();
    expect(pkg.dependencies.electron).toBeUndefined();
  });
});
