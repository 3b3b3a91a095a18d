// Runs a user manages: the pipeline's name carried to its runs, elapsed time and an ETA while one
// runs (and the sidebar's running indicator on every page), rename / tags / notes, filter and sort,
// Compare with an FP32 baseline row, one column per quantity, a recipe diff and CSV/JSON export,
// export into the exports folder under the run's name, the browser download named the same, the
// HTML report opened in Chromium with nothing fetched, and delete (confirmed) taking the files with it.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studioForFile } from './harness';

const tmp = mkdtempSync(join(tmpdir(), 'qs-e2e-runs-'));
const s = studioForFile({ teardown: () => rmSync(tmp, { recursive: true, force: true }) });

async function waitFinished(index: number, timeoutMs = 120_000): Promise<string> {
  const row = s.page.getByTestId('run-row').nth(index);
  let status = '';
  await expect.poll(async () => { status = (await row.getAttribute('data-status')) ?? ''; return ['succeeded', 'failed', 'cancelled'].includes(status); }, { timeout: timeoutMs, interval: 200 }).toBe(true);
  return status;
}

describe('studio: runs managed', () => {
  it('carries the pipeline name to its runs and shows elapsed time, ETA and the running indicator', async () => {
    const { page } = s;
    await s.open('');
    // First launch points at the samples.
    await page.getByTestId('first-run').waitFor();
    await s.shot('home-first-run');
    await page.getByTestId('home-samples').click();
    await page.getByTestId('open-sample-fmnist-cnn').click();
    await page.getByTestId('project-title').filter({ hasText: 'Fashion-MNIST CNN' }).waitFor({ timeout: 30_000 });
    await page.getByTestId('tab-pipeline').click();
    await page.getByLabel('Pipeline name').fill('CNN minmax');
    await page.getByRole('button', { name: 'Rename' }).click();
    await expect.poll(() => page.getByTestId('pipeline-select').locator('option:checked').textContent()).toBe('CNN minmax');
    await page.getByTestId('run-pipeline').click();
    const row = page.getByTestId('run-row').first();
    await row.waitFor();
    expect(await row.getByTestId('run-name').textContent()).toBe('#1 CNN minmax');
    // While it runs: elapsed time, an ETA once enough is done, and the sidebar indicator.
    await page.getByTestId('running-indicator').waitFor({ timeout: 30_000 });
    await expect.poll(async () => (await row.getByTestId('run-time').textContent()) ?? '', { timeout: 30_000, interval: 100 }).toMatch(/\d+(\.\d)? s elapsed/);
    await s.shot('runs-running');
    expect(await waitFinished(0)).toBe('succeeded');
    await expect.poll(() => page.getByTestId('running-indicator').count()).toBe(0);
    // Stage names, not raw keys.
    const stages = await page.getByTestId('result-stages').locator('.qs-stage-time').allTextContents();
    expect(stages.length).toBeGreaterThan(1);
    for (const st of stages) expect(st).toMatch(/^[A-Z][A-Za-z0-9 .]* \d+\.\d\d s$/);
    for (const st of stages) expect(st).not.toMatch(/Ms\b|[a-z][A-Z]/);
  }, 150_000);

  it('runs a percentile variant, renames, tags, filters and sorts the runs', async () => {
    const { page } = s;
    await page.getByTestId('tab-pipeline').click();
    await page.getByTestId('pnode-calibrate').click();
    await page.locator('#param-method').selectOption('percentile');
    await page.getByLabel('Pipeline name').fill('CNN percentile');
    await page.getByRole('button', { name: 'Rename' }).click();
    await expect.poll(() => page.getByTestId('pipeline-select').locator('option:checked').textContent()).toBe('CNN percentile');
    await page.getByTestId('run-pipeline').click();
    await page.getByTestId('run-row').nth(1).waitFor();
    expect(await waitFinished(0)).toBe('succeeded');
    // The first run came from the same pipeline, renamed since: it keeps the name the pipeline had when it ran.
    expect(await page.getByTestId('run-row').nth(1).getByTestId('run-name').textContent()).toBe('#1 CNN minmax');
    expect(await page.getByTestId('run-row').nth(0).getByTestId('run-name').textContent()).toBe('#2 CNN percentile');
    await page.getByTestId('run-row').nth(1).click();
    await page.getByTestId('run-name-input').fill('baseline minmax');
    await page.getByTestId('run-tags-input').fill('keep, int8');
    await page.getByTestId('run-notes-input').fill('reference for the report');
    await page.getByTestId('save-run-notes').click();
    await expect.poll(() => page.getByTestId('run-row').nth(1).getByTestId('run-name').textContent()).toBe('#1 baseline minmax');
    expect(await page.getByTestId('run-row').nth(1).getByTestId('run-tag').allTextContents()).toEqual(['keep', 'int8']);
    await page.getByTestId('run-filter').fill('keep');
    await expect.poll(() => page.getByTestId('run-row').count()).toBe(1);
    await page.getByTestId('run-filter').fill('');
    await page.getByTestId('sort-name').click();
    expect(await page.getByTestId('run-name').allTextContents()).toEqual(['#1 baseline minmax', '#2 CNN percentile']);
    await page.getByTestId('sort-name').click();
    expect(await page.getByTestId('run-name').allTextContents()).toEqual(['#2 CNN percentile', '#1 baseline minmax']);
    // A reload keeps the name, tags and notes (stored, not view state).
    await page.reload();
    await page.getByTestId('run-row').nth(1).click();
    expect(await page.getByTestId('run-notes-input').inputValue()).toBe('reference for the report');
  }, 150_000);

  it('compares with an FP32 baseline row, a recipe diff, and exports CSV and JSON', async () => {
    const { page } = s;
    const checks = page.getByTestId('compare-check');
    await checks.nth(0).check();
    await checks.nth(1).check();
    await page.getByTestId('compare').waitFor();
    expect(await page.getByTestId('compare-baseline').locator('td').first().textContent()).toBe('FP32 (original model)');
    const heads = await page.getByTestId('compare-table').locator('thead th').allTextContents();
    expect(new Set(heads).size).toBe(heads.length);
    // Size in one unit, the same digits in every row.
    const sizes = await page.getByTestId('compare-table').locator('td[data-col="sizeMiB"]').allTextContents();
    expect(sizes.every((x) => /^\d+\.\d\d$/.test(x))).toBe(true);
    expect(Number(sizes[0])).toBeGreaterThan(Number(sizes[1]) * 2);
    const diff = (await page.getByTestId('recipe-diff').textContent()) ?? '';
    expect(diff).toMatch(/activations\.calibration\.method.*percentile.*minmax/);
    await page.getByTestId('measure-all').click();
    await expect.poll(async () => (await page.getByTestId('compare-table').locator('thead').textContent()) ?? '', { timeout: 90_000 }).toContain('Latency, measured (ms)');
    // Absolute latencies: FP32's in the baseline row, each run's own.
    const lat = await page.getByTestId('compare-table').locator('td[data-col="latencyMs"]').allTextContents();
    expect(lat.every((x) => /^\d+\.\d\d$/.test(x))).toBe(true);
    await page.getByTestId('compare').scrollIntoViewIfNeeded();
    await s.shot('compare-baseline-diff');
    const csvDl = page.waitForEvent('download');
    await page.getByTestId('export-csv').click();
    const csvFile = join(tmp, 'compare.csv');
    await (await csvDl).saveAs(csvFile);
    const lines = readFileSync(csvFile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^Run,Size \(MiB\),/);
    expect(lines[1]).toMatch(/^FP32 \(original model\),/);
    const jsonDl = page.waitForEvent('download');
    await page.getByTestId('export-json').click();
    const jsonFile = join(tmp, 'compare.json');
    await (await jsonDl).saveAs(jsonFile);
    const rows = JSON.parse(readFileSync(jsonFile, 'utf8')) as Record<string, unknown>[];
    expect(rows.map((r) => r.run)).toEqual(['FP32 (original model)', '#2 CNN percentile', '#1 baseline minmax']);
    expect(typeof rows[1]!['Latency, measured (ms)']).toBe('number');
    await checks.nth(0).uncheck();
  }, 150_000);

  it('exports into the exports folder and downloads under the run\'s name', async () => {
    const { page } = s;
    await page.getByTestId('run-row').nth(0).click();
    const name = await page.getByTestId('export-path').inputValue();
    expect(name).toBe('Fashion-MNIST-CNN-CNN-percentile.onnx');
    expect(await page.getByTestId('export-dest').textContent()).toContain(join(s.dataDir, 'exports', name));
    await page.getByTestId('export-model').click();
    await page.getByTestId('export-summary').waitFor();
    const dest = join(s.dataDir, 'exports', name);
    expect(existsSync(dest) && statSync(dest).size > 1000).toBe(true);
    expect(existsSync(join(process.cwd(), name))).toBe(false);
    const dl = page.waitForEvent('download');
    await page.getByTestId('download-model').click();
    expect((await dl).suggestedFilename()).toBe('Fashion-MNIST-CNN-CNN-percentile.onnx');
    await s.shot('runs-export-named');
  }, 60_000);

  it('writes a self-contained HTML report that opens in Chromium with nothing fetched', async () => {
    const { page } = s;
    await page.getByTestId('run-row').nth(1).click();
    await page.getByTestId('run-evaluation').waitFor({ timeout: 60_000 });
    const dl = page.waitForEvent('download');
    await page.getByTestId('download-report').click();
    const d = await dl;
    expect(d.suggestedFilename()).toBe('Fashion-MNIST-CNN-baseline-minmax.report.html');
    const file = join(tmp, d.suggestedFilename());
    await d.saveAs(file);
    const html = readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script|<link|src="http|url\(/i);
    const view = await s.context.newPage();
    const requests: string[] = [];
    view.on('request', (r) => requests.push(r.url()));
    await view.goto(`file://${file}`);
    expect(await view.locator('h1').textContent()).toBe('#1 baseline minmax');
    for (const id of ['summary', 'recipe', 'data', 'layers', 'nodes', 'stages']) expect(await view.locator(`section#${id}`).count(), id).toBe(1);
    expect(await view.locator('#layers svg rect').count()).toBeGreaterThan(4);
    expect(await view.locator('#data').textContent()).toContain('Fashion-MNIST test images (300)');
    expect(await view.locator('#summary').textContent()).toMatch(/Latency \(measured\)[\d. ]+ms vs/);
    expect(await view.locator('#summary').textContent()).toContain('reference for the report');
    expect(requests).toEqual([`file://${file}`]);
    await view.setViewportSize({ width: 1280, height: 800 });
    await view.screenshot({ path: join(process.cwd(), 'test-results', 'screenshots', 'report-html.png'), fullPage: false });
    await view.close();
  }, 90_000);

  it('deletes a run (asking first) with its artifact files, and opens a sample twice as "(2)"', async () => {
    const { page } = s;
    await page.getByTestId('run-row').nth(0).click();
    const runId = await page.getByTestId('run-row').nth(0).getAttribute('data-run-id');
    const projectDir = join(s.dataDir, 'projects');
    expect(readdirSync(projectDir).some((p) => existsSync(join(projectDir, p, 'runs', runId!)))).toBe(true);
    await page.getByTestId('delete-run').click();
    expect(await page.getByTestId('run-row').count()).toBe(2);
    await page.getByTestId('delete-run').click();
    await expect.poll(() => page.getByTestId('run-row').count()).toBe(1);
    expect(await page.locator(`[data-run-id="${runId}"]`).count()).toBe(0);
    for (const p of readdirSync(projectDir)) expect(existsSync(join(projectDir, p, 'runs', runId!))).toBe(false);
    await s.open('#/g/samples');
    await page.getByTestId('open-sample-fmnist-cnn').click();
    await page.getByTestId('project-title').filter({ hasText: 'Fashion-MNIST CNN (2)' }).waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('project-item').allTextContents()).toEqual(['Fashion-MNIST CNN', 'Fashion-MNIST CNN (2)']);
  }, 60_000);
});
