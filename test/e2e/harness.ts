// E2E harness (reuse it in test/e2e/*.e2e.test.ts): starts the browser host on a fresh temp data dir
// and headless Debian Chromium (playwright-core) on a fresh profile, opens the app at the host's
// tokened URL, and tears everything down. Requires `electron-vite build` (npm run test:e2e does it).
//
//   const h = await startStudio();                 // or startStudio({ allowPaths: true })
//   await h.page.getByTestId('new-project-name').fill('CNN');
//   await h.shot('projects-created');              // test-results/screenshots/projects-created.png
//   await h.close();
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
  return {
    host, browser, context, page, dataDir, errors,
    async open(hash = '') {
      await page.goto(host.url + hash);
      await page.waitForSelector('.qs-shell');
    },
    async shot(name) {
      const path = join(screenshotDir, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    async close() {
      await browser.close().catch(() => undefined);
      await host.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
