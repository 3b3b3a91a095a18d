// The dependency rules (.dependency-cruiser.cjs, run by scripts/check-layers.mjs as `npm run lint`)
// hold for the repository, and planted violations of each rule — a cycle included — are caught.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
// @ts-expect-error -- plain .mjs script without types
import { checkLayers } from '../../scripts/check-layers.mjs';

type Report = { errors: string[]; warnings: string[] };
const check = checkLayers as (base?: string) => Promise<Report>;

describe('dependency rules', () => {
  it('the repository keeps to its layers and has no import cycles in engine/ or renderer/', async () => {
    const { errors } = await check();
    expect(errors).toEqual([]);
  }, 120_000);

  describe('planted violations', () => {
    let base = '';
    let report: Report = { errors: [], warnings: [] };
    beforeAll(async () => {
      base = mkdtempSync(join(tmpdir(), 'qs-layers-'));
      // The real packages, so `electron` or `react` resolve as they do in the repository.
      symlinkSync(resolve(__dirname, '../../node_modules'), join(base, 'node_modules'), 'dir');
      const put = (p: string, src: string) => {
        mkdirSync(join(base, p, '..'), { recursive: true });
        writeFileSync(join(base, p), src);
      };
      put('engine/cli/main.ts', "import './ort-user';\nimport '../jobs/runner';\nimport '../a';\nimport '../x';\nimport '../../contract/b';\nimport '../../native-kernels/lib/index';\nimport { s } from '../store/store';\nexport const m = s;\n");
      put('engine/a.ts', "import { app } from 'electron';\nexport const a = app;\n");
      put('engine/store/store.ts', 'export const s = 1;\n');
      // A cycle in which one side is a type-only import: still a cycle.
      put('engine/x.ts', "import { y } from './y';\nexport const x = () => y;\n");
      put('engine/y.ts', "import type { X } from './x-types';\nimport { x } from './x';\nexport const y = 2;\nexport type Y = X | typeof x;\n");
      put('engine/x-types.ts', "import type { Y } from './y';\nexport type X = Y[];\n");
      put('engine/nobody-imports-me.ts', 'export const lonely = 3;\n');
      // A worker entry is reached through new URL(…, import.meta.url), not an import.
      put('engine/jobs/runner.ts', "export const entry = new URL('./worker-entry.ts', import.meta.url);\n");
      // The worker runs the spawner's helpers: reachable, and not a load-time cycle.
      put('engine/jobs/worker-entry.ts', "import { entry } from './runner';\nexport const runsInAWorker = entry;\n");
      put('contract/b.ts', "import { readFileSync } from 'node:fs';\nexport const b = readFileSync;\n");
      put('contract/ipc.ts', 'export type Project = { id: string };\n');
      put('renderer/src/main.tsx', "import './c';\nimport './ok';\nimport './p';\n");
      put('renderer/src/c.tsx', "import { s } from '../../engine/store/store';\nexport const c = s;\n");
      put('renderer/src/ok.tsx', "import type { Project } from '../../contract/ipc';\nimport { useState } from 'react';\nexport const ok = (p: Project) => useState(p);\n");
      put('renderer/src/p.tsx', "import { q } from './q';\nexport const P = () => <div>{q}</div>;\n");
      put('renderer/src/q.tsx', "import { P } from './p';\nexport const q = 1;\nexport const Q = () => <P />;\n");
      // The addon's face reaching into the engine through a string path, as the engine loads the addon.
      put('native-kernels/lib/index.ts', "export async function load() {\n  const path = '../../engine/store/store';\n  return import(/* @vite-ignore */ path);\n}\n");
      // onnxruntime-node: engine/runtime/ and the tests' helper may import it; another engine module and a test may not.
      put('engine/runtime/session.ts', "import * as ort from 'onnxruntime-node';\nexport { ort };\n");
      put('engine/quant/opens-its-own.ts', "import * as ort from 'onnxruntime-node';\nexport const s = ort.InferenceSession;\n");
      put('test/helpers/ort.ts', "export { ort } from '../../engine/runtime/session';\n");
      put('test/engine/direct.test.ts', "import type { InferenceSession } from 'onnxruntime-node';\nimport { ort } from '../helpers/ort';\nexport type S = InferenceSession | typeof ort;\n");
      put('engine/cli/ort-user.ts', "import { ort } from '../runtime/session';\nimport { s } from '../quant/opens-its-own';\nexport const t = [ort, s];\n");
      report = await check(base);
    }, 120_000);
    afterAll(() => rmSync(base, { recursive: true, force: true }));

    it('engine may not import electron', () => {
      // The package resolves through the node_modules link, so only the end of the path is fixed.
      expect(report.errors.some((e) => e.startsWith('engine-not-ui: engine/a.ts → ') && e.endsWith('node_modules/electron/index.js'))).toBe(true);
    });
    it('contract may not import Node built-ins', () => {
      expect(report.errors).toContain('contract-self-contained: contract/b.ts → fs');
    });
    it('renderer may not import the engine, but may import contract/ and its packages', () => {
      expect(report.errors).toContain('renderer-web-only: renderer/src/c.tsx → engine/store/store.ts');
      expect(report.errors.filter((e) => e.includes('renderer/src/ok.tsx'))).toEqual([]);
    });
    it('a string-path dynamic import is seen', () => {
      expect(report.errors).toContain('native-lib-self-contained: native-kernels/lib/index.ts → engine/store/store.ts');
    });
    it('cycles in engine/ (through a type-only import too) and renderer/ fail the check', () => {
      const cycles = report.errors.filter((e) => e.startsWith('no-cycle: '));
      expect(cycles.some((e) => e.includes('engine/x.ts') && e.includes('engine/y.ts'))).toBe(true);
      expect(cycles.some((e) => e.includes('engine/y.ts') && e.includes('engine/x-types.ts'))).toBe(true);
      expect(cycles.some((e) => e.includes('renderer/src/p.tsx') && e.includes('renderer/src/q.tsx'))).toBe(true);
      expect(cycles.some((e) => e.includes('engine/store/store.ts'))).toBe(false);
      expect(cycles.some((e) => e.includes('engine/jobs/worker-entry.ts'))).toBe(false);
    });
    it('a module no entry point reaches is a warning, not an error', () => {
      expect(report.warnings).toEqual(['only-tests-use: engine/nobody-imports-me.ts']);
    });
    it('onnxruntime-node only through engine/runtime/ (tests through their helper), type-only imports too', () => {
      const ort = report.errors.filter((e) => e.startsWith('ort-through-runtime: ')).map((e) => e.slice(0, e.indexOf(' → ')));
      expect(ort.sort()).toEqual(['ort-through-runtime: engine/quant/opens-its-own.ts', 'ort-through-runtime: test/engine/direct.test.ts']);
    });
    it('nothing else is reported', () => {
      expect(report.errors.filter((e) => !e.startsWith('no-cycle: '))).toHaveLength(6);
    });
  });
});
