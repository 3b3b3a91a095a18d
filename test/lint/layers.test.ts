// The layering rule (scripts/check-layers.mjs) holds for the repo, and a planted violation is caught.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error -- plain .mjs script without types
import { checkLayers } from '../../scripts/check-layers.mjs';

const check = checkLayers as (base?: string) => string[];

describe('layering', () => {
  it('the repository keeps to its layers', () => {
    expect(check()).toEqual([]);
  });

  it('catches planted violations in each layer', () => {
    const base = mkdtempSync(join(tmpdir(), 'qs-layers-'));
    try {
      const put = (p: string, src: string) => { mkdirSync(join(base, p, '..'), { recursive: true }); writeFileSync(join(base, p), src); };
      put('engine/a.ts', "import { app } from 'electron';\n");
      put('contract/b.ts', "import { readFileSync } from 'node:fs';\n");
      put('renderer/src/c.tsx', "import { Store } from '../../engine/store/store';\n");
      put('renderer/src/ok.tsx', "import type { Project } from '../../contract/ipc';\n");
      const problems = check(base);
      expect(problems.some((p) => p.startsWith('engine/a.ts') && p.includes("'electron'"))).toBe(true);
      expect(problems.some((p) => p.startsWith('contract/b.ts') && p.includes('node:fs'))).toBe(true);
      expect(problems.some((p) => p.startsWith('renderer/src/c.tsx') && p.includes('engine/'))).toBe(true);
      expect(problems.some((p) => p.startsWith('renderer/src/ok.tsx'))).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
