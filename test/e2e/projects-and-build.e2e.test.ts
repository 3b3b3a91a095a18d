// The app in real headless Chromium through the browser host: create a project, see it listed, reload,
// find it still there — read back from the SQLite file by a separate connection — and save a screenshot.
import { describe, it, expect, afterAll } from 'vitest';
import { join } from 'node:path';
import { statSync, readFileSync, mkdtempSync, mkdirSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Store } from '../../engine/store/store';
import { JobRunner } from '../../engine/jobs/runner';
import Database from 'better-sqlite3';
import { startStudio, type StudioHarness } from './harness';

let h: StudioHarness | undefined;
afterAll(async () => { await h?.close(); });

describe('projects in the browser host: persisted in SQLite, token required', () => {
  it('creates a project, lists it, and still has it after a reload (persisted in SQLite)', async () => {
    h = await startStudio();
    const { page } = h;
    await h.open();
    expect(await page.getByTestId('project-list').locator('li').count()).toBe(0);
    await page.getByText('No projects yet').waitFor();

    await page.getByTestId('new-project-name').fill('Fashion-MNIST W8A8');
    await page.getByTestId('create-project').click();
    await page.getByTestId('project-title').filter({ hasText: 'Fashion-MNIST W8A8' }).waitFor();
    const items = page.getByTestId('project-item');
    expect(await items.allTextContents()).toEqual(['Fashion-MNIST W8A8']);
    expect(page.url()).toMatch(/#\/p\/[A-Za-z0-9]+\/overview$/);

    await page.reload();
    await page.getByTestId('project-title').filter({ hasText: 'Fashion-MNIST W8A8' }).waitFor();
    expect(await page.getByTestId('project-item').allTextContents()).toEqual(['Fashion-MNIST W8A8']);

    // In the SQLite file itself, read by another connection.
    const db = new Database(join(h.dataDir, 'studio.sqlite'), { readonly: true });
    try {
      expect(db.prepare('SELECT name FROM projects').all()).toEqual([{ name: 'Fashion-MNIST W8A8' }]);
    } finally {
      db.close();
    }
    await page.getByText('No model yet').waitFor();
    const shot = await h.shot('projects-foundation');
    expect(statSync(shot).size).toBeGreaterThan(5_000);
    expect(h.errors).toEqual([]);
  });

  it('a browser without the token gets 403 and no app', async () => {
    const other = await h!.browser.newContext();
    try {
      const page = await other.newPage();
      const res = await page.goto(`http://127.0.0.1:${h!.host.port}/`);
      expect(res?.status()).toBe(403);
      expect(await page.locator('.qs-shell').count()).toBe(0);
    } finally {
      await other.close();
    }
  });
});

describe('the electron-vite build (run by npm run test:e2e before these tests)', () => {
  const out = join(__dirname, '..', '..', 'out');

  it('has main, a CommonJS preload that needs only electron, and the renderer', () => {
    expect(statSync(join(out, 'main', 'index.js')).size).toBeGreaterThan(1000);
    expect(statSync(join(out, 'renderer', 'index.html')).size).toBeGreaterThan(100);
    const preload = readFileSync(join(out, 'preload', 'index.cjs'), 'utf8');
    const required = [...preload.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    expect([...new Set(required)]).toEqual(['electron']);
    expect(preload).not.toMatch(/^\s*(import|export)\s/m);
  });

  it("main's bundled job worker (the Electron build's ?modulePath entry) runs a job", async () => {
    // Work on a copy of out/main: in a shared checkout another build may replace out/ meanwhile. The copy
    // stays inside the repo so the chunk's bare imports still resolve from node_modules.
    mkdirSync(join(out, '..', '.qstudio-tmp'), { recursive: true }); // git-ignored
    const copy = mkdtempSync(join(out, '..', '.qstudio-tmp', 'bundle-'));
    cpSync(join(out, 'main'), copy, { recursive: true });
    const main = readFileSync(join(copy, 'index.js'), 'utf8');
    const chunk = /["']\.\/(chunks\/worker-[\w-]+\.js)["']/.exec(main)?.[1];
    expect(chunk, 'worker entry referenced from out/main/index.js').toBeTruthy();
    const dir = mkdtempSync(join(tmpdir(), 'qs-bundled-worker-'));
    const store = Store.open(dir);
    const runner = new JobRunner({ store, workerPath: join(copy, chunk!) });
    try {
      const p = store.createProject({ name: 'bundled' });
      const run = await runner.wait(runner.start({ projectId: p.id, kind: 'selftest', params: { steps: 3 } }).id);
      expect(run.error).toBeNull();
      expect(run).toMatchObject({ status: 'succeeded', result: { steps: 3 } });
      expect(store.listArtifacts(p.id)).toHaveLength(1);
    } finally {
      await runner.shutdown();
      store.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
