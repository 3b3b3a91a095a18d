// A mixed-precision pipeline in real Chromium: on the Fashion-MNIST sample, the "Mixed precision
// (target)" template draws an Accuracy target node; its threshold is raised in the inspector (the
// fully quantized CNN gives ~40 dB, so 45 dB makes the search decide), the compiled recipe carries
// "target", and the finished run shows which data it was measured on and the mixed-precision outcome
// with every decision. Then the Sensitivity view's one-click fixes on a weight-only MatMulNBits pipeline
// (W4A16 GPTQ on the CNN's Gemm): "Raise to int8" and switching GPTQ -> RTN edit the saved pipeline
// and analyse again.
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
    expect(await page.getByTestId('result-evaluation').textContent()).toMatch(/^\d+ held-out samples of the calibration dataset \(its last 20 %/);
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

  it('Sensitivity: "Raise to int8" and "switch to RTN" edit the weight-only pipeline and analyse again', async () => {
    const { page } = s;
    await page.getByTestId('tab-pipeline').click();
    await page.getByTestId('template-w4a16-gptq').click();
    await expect.poll(() => page.getByTestId('pipeline-select').locator('option:checked').textContent()).toBe('W4A16 GPTQ');
    await s.flowReady('pipeline-canvas');
    await page.getByTestId('pnode-quant-params').click();
    await page.locator('#param-opTypes').fill('Gemm'); // the CNN has one Gemm and no MatMul
    await page.getByTestId('save-pipeline').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('All changes saved');
    await page.getByTestId('tab-sensitivity').click();
    await page.getByTestId('sens-pipeline').selectOption({ label: 'W4A16 GPTQ' });
    await page.getByTestId('sens-start').click();
    await page.getByTestId('sens-table').waitFor({ timeout: 300_000 });
    await expect.poll(() => page.getByTestId('sens-rounding').textContent()).toBe('GPTQ');
    expect(await page.getByTestId('sens-int8-note').count()).toBe(0);
    const allQuantized = async () => Number(/All quantized: output ([\d.]+) dB/.exec((await page.getByTestId('sens-summary').textContent()) ?? '')?.[1]);
    const int4Db = await allQuantized();
    expect(int4Db).toBeGreaterThan(20);
    const row = page.locator('tr[data-name="/9/Gemm"]');
    await row.getByTestId('sens-raise-int8').click();
    await expect.poll(() => page.getByTestId('sens-fixed').textContent()).toMatch(/\/9\/Gemm is now stored at 8 bits \(MatMulNBits bits=8\)/);
    await row.getByTestId('sens-int8').waitFor();
    // The analysis ran again with the edited recipe: two analyse runs, the newer one finished.
    await expect.poll(async () => (await page.getByTestId('sens-progress').count()) === 0, { timeout: 300_000, interval: 500 }).toBe(true);
    // The layer at 8 bits: the re-analysed model is closer to FP32 (~12 dB here).
    await expect.poll(allQuantized, { timeout: 30_000 }).toBeGreaterThan(int4Db + 6);
    await page.getByTestId('sens-switch-rtn').click();
    await expect.poll(() => page.getByTestId('sens-rounding').textContent()).toBe('RTN');
    await expect.poll(() => page.getByTestId('sens-fixed').textContent()).toMatch(/now rounds every layer with RTN/);
    await expect.poll(async () => (await page.getByTestId('sens-progress').count()) === 0, { timeout: 300_000, interval: 500 }).toBe(true);
    await s.shot('view-sensitivity-fixes');
    // The saved pipeline says both: its compiled recipe has the int8 layer and no GPTQ.
    await page.getByTestId('tab-pipeline').click();
    await expect.poll(() => page.getByTestId('pipeline-select').locator('option:checked').textContent()).toBe('W4A16 GPTQ');
    const recipe = JSON.parse((await page.getByTestId('recipe-preview').textContent()) ?? '{}');
    expect(recipe.int8Layers).toEqual(['/9/Gemm']);
    expect(recipe.algorithms).toEqual([{ name: 'rtn' }]);
  }, 600_000);
});
