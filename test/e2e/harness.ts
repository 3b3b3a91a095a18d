// E2E harness (reuse it in test/e2e/*.e2e.test.ts): starts the browser host on a fresh temp data dir
// and headless Debian Chromium (playwright-core) on a fresh profile, opens the app at the host's
// tokened URL, and tears everything down. Requires `electron-vite build` (npm run test:e2e does it).
//
//   const h = await startStudio();                 // or startStudio({ allowPaths: true })
//   await h.page.getByTestId('new-project-name').fill('CNN');
//   await h.shot('projects-created');              // test-results/screenshots/projects-created.png
//   await h.close();
//
// Or, per test file: `const s = studioForFile();` starts one before the file's tests, closes it after
// them and fails the file on a console error (s.openSample(...), s.flowReady(...) below).
import { afterAll, beforeAll, expect } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startBrowserHost, type BrowserHost } from '../../host/browser-host';

export const repoRoot = resolve(__dirname, '..', '..');
export const screenshotDir = join(repoRoot, 'test-results', 'screenshots');
export const CHROMIUM = process.env.QSTUDIO_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface StudioHarness {
  host: BrowserHost;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  dataDir: string;
  /** Console errors and page errors seen so far (tests can assert none). */
  errors: string[];
  /** Open (or re-open) the app at the host's URL, optionally with a hash route like '#/p/<id>/runs'. */
  open(hash?: string): Promise<void>;
  /** Save test-results/screenshots/<name>.png and return its path. */
  shot(name: string): Promise<string>;
  /** From the samples page, open sample `id` as a project and wait until its page shows `title`. */
  openSample(id: string, title: string): Promise<void>;
  /**
   * Wait until the React Flow canvas with data-testid `canvasTestId` has drawn and measured every node
   * (the app sets data-ready="true"; React Flow keeps a node hidden until measured, and a click or a
   * bounding box read before that misses) and every node is visible.
   */
  flowReady(canvasTestId: string): Promise<void>;
  /** Console and page errors, less the host's expected ones (frame-ancestors CSP note, favicon, 404s). */
  unexpectedErrors(): string[];
  close(): Promise<void>;
}

export interface StudioHarnessOptions {
  /** Reuse a data dir (else a fresh temp one, removed at close). */
  dataDir?: string;
  /** Let the UI name server-side paths (FileRef kind 'path', exports anywhere). */
  allowPaths?: boolean;
  viewport?: { width: number; height: number };
}

export async function startStudio(opts: StudioHarnessOptions = {}): Promise<StudioHarness> {
  if (!existsSync(join(repoRoot, 'out', 'renderer', 'index.html'))) throw new Error('out/renderer is missing: run `npx electron-vite build` (npm run test:e2e does).');
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'qs-e2e-'));
  const host = await startBrowserHost({ dataDir, allowPaths: opts.allowPaths });
  let browser: Browser;
  try {
    // launch() gives every browser a fresh temporary profile (user-data-dir), removed when it closes.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  } catch (e) {
    await host.close();
    throw e;
  }
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  mkdirSync(screenshotDir, { recursive: true });
  const open = async (hash = '') => {
    await page.goto(host.url + hash);
    await page.waitForSelector('.qs-shell');
  };
  return {
    host, browser, context, page, dataDir, errors, open,
    async shot(name) {
      const path = join(screenshotDir, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    async openSample(id, title) {
      await open('#/g/samples');
      await page.getByTestId(`open-sample-${id}`).click();
      await page.getByTestId('project-title').filter({ hasText: title }).waitFor({ timeout: 60_000 });
    },
    async flowReady(canvasTestId) {
      const canvas = page.locator(`[data-testid="${canvasTestId}"][data-ready="true"]`);
      await canvas.waitFor();
      // (A string: this file is type-checked without the DOM library.)
      await page.waitForFunction(`(() => {
        const nodes = [...document.querySelectorAll('[data-testid="${canvasTestId}"] .react-flow__node')];
        return nodes.length > 0 && nodes.every((n) => getComputedStyle(n).visibility === 'visible');
      })()`);
    },
    unexpectedErrors() {
      return errors.filter((e) => !/frame-ancestors|favicon|404/.test(e));
    },
    async close() {
      await browser.close().catch(() => undefined);
      await host.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * One studio for a test file's tests: started before them (default timeouts 20 s per action and 90 s per
 * navigation: loading the 8 MB bundle on a busy 2-core machine is slow), closed after them, and the file
 * fails if the page logged an unexpected error. Returns a handle that is live once the tests run.
 */
export function studioForFile(opts: StudioHarnessOptions & { actionTimeoutMs?: number; setup?: (s: StudioHarness) => Promise<void>; teardown?: () => void } = {}): StudioHarness {
  let h: StudioHarness | undefined;
  beforeAll(async () => {
    h = await startStudio(opts);
    h.page.setDefaultTimeout(opts.actionTimeoutMs ?? 20_000);
    h.page.setDefaultNavigationTimeout(90_000);
    await opts.setup?.(h);
  }, 120_000);
  afterAll(async () => {
    const errs = h?.unexpectedErrors() ?? [];
    await h?.close();
    opts.teardown?.();
    expect(errs).toEqual([]);
  });
  return new Proxy({} as StudioHarness, {
    get(_, key) {
      if (!h) throw new Error(`the studio is not started yet (read '${String(key)}' outside a test?)`);
      const v = (h as unknown as Record<string | symbol, unknown>)[key];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(h) : v;
    },
  });
}
