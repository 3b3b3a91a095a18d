// The Sensitivity tab in real Chromium: open the Fashion-MNIST sample, analyse (a run with progress),
// the table lists every quantized node and activation tensor, sorts, and "Leave in float" writes the
// node into the pipeline's exclude list.
import { describe, expect, it } from 'vitest';
import { studioForFile } from './harness';

const s = studioForFile({ actionTimeoutMs: 30_000 });

describe('studio: sensitivity view', () => {
  it('analyses the sample CNN, sorts the table and applies a one-click fix to the pipeline', async () => {
    const { page } = s;
    await s.openSample('fmnist-cnn', 'Fashion-MNIST CNN');
    await page.getByTestId('tab-sensitivity').click();
    await page.getByTestId('sens-none').waitFor();
    await page.getByTestId('sens-start').click();
    await page.getByTestId('sens-table').waitFor({ timeout: 400_000 });
    await s.shot('view-sensitivity-1280');
    const rows = page.getByTestId('sens-row');
    expect(await rows.count()).toBeGreaterThanOrEqual(12); // 6 Conv/Gemm weights + their activation tensors
    await expect.poll(async () => page.getByTestId('sens-summary').textContent()).toMatch(/Measured on \d+ held-out samples/);
    // Sort by name, ascending: the first row's name is the smallest.
    await page.getByTestId('sens-sort-name').click();
    const names = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-name') ?? ''));
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    // One click leaves the worst weight in float, in the saved pipeline.
    await page.getByTestId('sens-sort-rank').click();
    const first = page.getByTestId('sens-exclude').first();
    const node = await first.evaluate((b) => b.closest('tr')!.getAttribute('data-name'));
    await first.click();
    await page.getByTestId('sens-fixed').waitFor();
    await page.locator(`tr[data-name="${node}"] [data-testid="sens-excluded"]`).waitFor();
    expect(await page.getByTestId('sens-fixed').textContent()).toContain(node!);
  }, 600_000);
});
