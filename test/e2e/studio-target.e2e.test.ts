// A mixed-precision pipeline in real Chromium: on the Fashion-MNIST sample, the "Mixed precision
// (target)" template draws an Accuracy target node; its threshold is raised in the inspector (the
// fully quantized CNN gives ~40 dB, so 45 dB makes the search decide), the compiled recipe carries
// "target", and the finished run shows which data it was measured on and the mixed-precision outcome
// with every decision.
import { describe, expect, it } from 'vitest';
import { studioForFile } from './harness';

const s = studioForFile();

describe('studio: a pipeline with an accuracy target', () => {
  it('compiles the Target node into recipe.target, runs it and shows the mixed-precision decisions in the result', async () => {
    const { page } = s;
    await s.openSample('fmnist-cnn', 'Fashion-MNIST CNN');
    await page.getByTestId('tab-pipeline').click();
    await page.getByTestId('template-mixed-precision').click();
    await s.flowReady('pipeline-canvas');
    await page.getByTestId('pnode-target').click();
    await expect.poll(() => page.getByTestId('inspector').locator('h3').textContent()).toBe('Accuracy target');
    // Only the chosen metric's threshold is drawn.
    expect(await page.locator('#param-maxDrop').count()).toBe(0);
    await page.locator('#param-min').fill('45');
    await expect.poll(async () => JSON.parse((await page.getByTestId('recipe-preview').textContent()) ?? '{}').target).toEqual({ metric: 'sqnr', min: 45 });
    await s.shot('pipeline-target-node');
    await page.getByTestId('run-pipeline').click();
    const row = page.getByTestId('run-row').first();
    await row.waitFor();
    await expect.poll(async () => row.getAttribute('data-status'), { timeout: 300_000, interval: 500 }).toMatch(/succeeded|failed/);
    expect(await row.getAttribute('data-status')).toBe('succeeded');
    await row.click();
    await page.getByTestId('run-mixed-precision').waitFor();
    expect(await page.getByTestId('result-evaluation').textContent()).toMatch(/^\d+ held-out samples of/);
    expect(await page.getByTestId('run-mixed-precision').locator('h3').textContent()).toBe('Mixed precision — target output SQNR ≥ 45 dB');
    expect(await page.getByTestId('mp-outcome').textContent()).toMatch(/output SQNR [\d.]+ dB \(fully quantized: output SQNR [\d.]+ dB\)\. Written model: output SQNR [\d.]+ dB/);
    const decisions = page.getByTestId('mp-decisions').locator('tbody tr');
    expect(await decisions.count()).toBeGreaterThan(0);
    // Each decision names the unit, its precisions and the metric after it.
    const first = await decisions.first().locator('td').allTextContents();
    expect(first[0]).toBe('raise');
    expect(first[4]).toMatch(/^\d+\.\d{4}$/);
    expect(await page.getByTestId('run-mixed-precision').textContent()).toMatch(/of 6 weighted layers quantized/);
    await s.shot('runs-mixed-precision');
  }, 400_000);
});
