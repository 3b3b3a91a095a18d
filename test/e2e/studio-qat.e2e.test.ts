// QAT from the studio, end to end: the Fashion-MNIST sample (images + labels), the QAT template of the
// pipeline editor shortened to 20 steps of batch 16, run as a job; the run view draws the loss curve
// live from the job's progress events and again in the result from the stored per-step metrics.
// A longer QAT run is then cancelled in the middle of training: it ends 'cancelled' with no artifact.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { studioForFile } from './harness';

const s = studioForFile({ allowPaths: true, setup: (h) => h.openSample('fmnist-cnn', 'Fashion-MNIST CNN') });

function db<T>(f: (d: Database.Database) => T): T {
  const d = new Database(join(s.dataDir, 'studio.sqlite'), { readonly: true });
  try { return f(d); } finally { d.close(); }
}

async function startQat(steps: number, batchSize: number) {
  const { page } = s;
  await page.getByTestId('tab-pipeline').click();
  await page.getByTestId('template-qat').click();
  await page.getByTestId('pnode-qat-forward').waitFor();
  await page.getByTestId('pnode-qat-forward').click();
  await page.locator('#param-steps').fill(String(steps));
  await page.locator('#param-batchSize').fill(String(batchSize));
  const preview = page.getByTestId('recipe-preview');
  await expect.poll(async () => JSON.parse((await preview.textContent()) ?? '{}').algorithms).toEqual([{ name: 'qat', steps, batchSize, lr: 0.0001, learnScales: false }]);
  await page.getByTestId('run-pipeline').click();
  await page.getByTestId('run-row').first().waitFor();
}

describe('studio QAT e2e', () => {
  it('runs a short QAT from the template with a live loss curve, then shows it in the result', async () => {
    const { page } = s;
    await startQat(20, 16);
    const row = page.getByTestId('run-row').first();
    // Live: points arrive while the run is still running.
    const live = page.getByTestId('qat-loss-curve').first();
    let seenLive = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 150_000) {
      const status = await row.getAttribute('data-status');
      if (status === 'running' && await live.count()) seenLive = Math.max(seenLive, Number(await live.getAttribute('data-points')));
      if (status === 'succeeded' || status === 'failed' || status === 'cancelled') break;
      await page.waitForTimeout(50);
    }
    expect(await row.getAttribute('data-status')).toBe('succeeded');
    expect(seenLive, 'loss points seen while the run was running').toBeGreaterThanOrEqual(1);
    // Result: the stored per-step losses, all 20 of them, drawn by plotly.
    const curve = page.getByTestId('run-results').getByTestId('qat-loss-curve');
    await expect.poll(async () => Number(await curve.getAttribute('data-points'))).toBe(20);
    await curve.getByTestId('qat-loss-plot').locator('.main-svg').first().waitFor();
    expect(await curve.locator('.scatterlayer .trace').count()).toBeGreaterThanOrEqual(2);
    expect(await curve.getByTestId('qat-loss-summary').textContent()).toMatch(/step 20 · loss \d/);
    // Report metrics are labelled, accuracies in percent.
    const results = (await page.getByTestId('run-results').textContent()) ?? '';
    expect(results).toMatch(/QAT steps20/);
    expect(results).toMatch(/Top-1 accuracy, quantized\d+\.\d\d %/);
    expect(results).not.toMatch(/qatFinalLoss|top1Quantized/);
    await curve.scrollIntoViewIfNeeded();
    await s.shot('qat-loss-curve');
    const runId = db((d) => (d.prepare("SELECT id FROM runs WHERE status = 'succeeded' ORDER BY created_at DESC LIMIT 1").get() as { id: string }).id);
    expect(db((d) => d.prepare("SELECT count(*) AS n FROM metrics WHERE run_id = ? AND name = 'qat.loss'").get(runId))).toEqual({ n: 20 });
  }, 180_000);

  it('cancels a QAT run in the middle of training: cancelled, no model artifact', async () => {
    const { page } = s;
    await startQat(400, 16);
    const row = page.getByTestId('run-row').first();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 60_000 }).toBe('running');
    // In the middle: training has begun (loss points, progress bar moved), far from the end.
    const live = page.getByTestId('qat-loss-curve').first();
    await expect.poll(async () => Number((await live.count()) ? await live.getAttribute('data-points') : 0), { timeout: 90_000 }).toBeGreaterThanOrEqual(3);
    const progress = Number(await row.getByTestId('run-progress').getAttribute('aria-valuenow'));
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThan(100);
    await s.shot('runs-qat-live');
    await row.getByTestId('cancel-run').click();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 60_000 }).toBe('cancelled');
    const run = db((d) => d.prepare('SELECT id, status FROM runs ORDER BY created_at DESC LIMIT 1').get() as { id: string; status: string });
    expect(run.status).toBe('cancelled');
    expect(db((d) => d.prepare('SELECT count(*) AS n FROM artifacts WHERE run_id = ?').get(run.id))).toEqual({ n: 0 });
    await s.shot('runs-qat-cancelled');
  }, 180_000);
});
