// Starts the browser host on a fresh data folder (a real SQLite file) and a headless Chromium page on
// it, for the studio's end-to-end tests. Screenshots go to test-results/screenshots/.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startBrowserHost, type BrowserHost } from '../../host/browser-host';

export const SCREENSHOTS = resolve(import.meta.dirname, '../../test-results/screenshots');

export interface StudioSession { host: BrowserHost; browser: Browser; page: Page; dataDir: string; errors: string[]; close(): Promise<void> }

export async function openStudio(): Promise<StudioSession> {
  const dataDir = mkdtempSync(join(tmpdir(), 'qstudio-e2e-'));
  const host = await startBrowserHost({ dataDir, allowPaths: true, graceMs: 2000 });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(20_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  await page.goto(host.url);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    host, browser, page, dataDir, errors,
    async close() {
      await browser.close().catch(() => undefined);
      await host.close().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}
