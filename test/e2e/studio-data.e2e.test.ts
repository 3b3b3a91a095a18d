// Data is checked when it is attached: random bytes named .npy, a channels-last array for the
// channels-first CNN, images resized to the wrong size and labels beyond the model's classes are
// refused at once, with a message that names the file the user chose (never the upload's temporary
// path or the data dir); JPEG photos are accepted (decoded by sharp); the dataset table shows each
// dataset's samples, shape and dtype and whether it fits the model.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studioForFile } from './harness';
import { writeNpy } from '../../engine/data/npy';

const tmp = mkdtempSync(join(tmpdir(), 'qs-e2e-data-'));
const s = studioForFile({ teardown: () => rmSync(tmp, { recursive: true, force: true }) });
const assets = join(import.meta.dirname, '../../.cache/test-assets/skimage-data');

async function attachNpy(file: string, role: 'calibration' | 'labels' = 'calibration'): Promise<void> {
  const { page } = s;
  await page.getByLabel('Data kind').selectOption('npy');
  await page.locator('.qs-field', { hasText: 'Use as' }).locator('select').selectOption(role);
  const chooser = page.waitForEvent('filechooser');
  await page.getByTestId('attach-data').click();
  await (await chooser).setFiles(file);
}
async function attachError(): Promise<string> {
  const note = s.page.getByTestId('attach-error');
  await note.waitFor({ timeout: 30_000 });
  return (await note.textContent()) ?? '';
}

describe('studio: data checked on attach', () => {
  it('shows samples, shape and dtype of the sample data, and that it fits the model', async () => {
    const { page } = s;
    await s.openSample('fmnist-cnn', 'Fashion-MNIST CNN');
    const rows = page.getByTestId('dataset-row');
    await expect.poll(() => rows.first().getAttribute('data-fits')).toBe('true');
    expect(await rows.nth(0).getByTestId('dataset-facts').textContent()).toBe('300 × [1, 28, 28] float32');
    expect(await rows.nth(1).getByTestId('dataset-facts').textContent()).toBe('300 × int64');
    expect(await rows.nth(1).getAttribute('data-fits')).toBe('true');
  }, 60_000);

  it('refuses random bytes named .npy, naming the file and no internal path', async () => {
    const f = join(tmp, 'random.npy');
    writeFileSync(f, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 255)));
    await attachNpy(f);
    const msg = await attachError();
    expect(msg).toMatch(/'random\.npy'/);
    expect(msg).not.toContain(s.dataDir);
    expect(msg).not.toMatch(/uploads?[\\/]|qs-e2e-data/);
    await expect.poll(() => s.page.getByTestId('dataset-row').count()).toBe(2);
  }, 60_000);

  it('refuses a channels-last array for the channels-first model, saying how to fix it', async () => {
    const f = join(tmp, 'nhwc.npy');
    await writeNpy(f, { dtype: 'float32', shape: [8, 28, 28, 1], data: new Float32Array(8 * 28 * 28) });
    await attachNpy(f);
    await expect.poll(attachError).toMatch(/'nhwc\.npy' has shape \[8, 28, 28, 1\].*channels last \(NHWC\).*'image'.*np\.transpose\(a, \(0, 3, 1, 2\)\)/);
    await s.shot('data-rejected-nhwc');
  }, 60_000);

  it('refuses labels beyond the model\'s 10 classes and labels of another length', async () => {
    const f = join(tmp, 'labels-11.npy');
    await writeNpy(f, { dtype: 'int64', shape: [300], data: BigInt64Array.from({ length: 300 }, (_, i) => BigInt(i % 12)) });
    await attachNpy(f, 'labels');
    await expect.poll(attachError).toMatch(/'labels-11\.npy'.*values span 0\.\.11.*10 classes \(0\.\.9\)/);
    const g = join(tmp, 'labels-short.npy');
    await writeNpy(g, { dtype: 'int64', shape: [50], data: new BigInt64Array(50) });
    await attachNpy(g, 'labels');
    await expect.poll(attachError).toMatch(/'labels-short\.npy'.*50 labels for 300 input samples/);
  }, 60_000);

  it('refuses images resized to another size than the model takes; takes JPEG photos at the right size', async () => {
    const { page } = s;
    await page.getByLabel('Data kind').selectOption('images');
    // The form starts at what the model takes: 28×28 gray.
    expect(await page.locator('.qs-field', { hasText: 'Width' }).locator('input').inputValue()).toBe('28');
    expect(await page.locator('.qs-field', { hasText: 'Channels' }).locator('select').inputValue()).toBe('gray');
    await page.locator('.qs-field', { hasText: 'Width' }).locator('input').fill('32');
    let chooser = page.waitForEvent('filechooser');
    await page.getByTestId('attach-data').click();
    await (await chooser).setFiles([join(assets, 'retina.jpg'), join(assets, 'coins.png')]);
    await expect.poll(attachError).toMatch(/'2 images \(retina\.jpg, …\)' has shape \[2, 1, 28, 32\].*'image'.*1, 28, 28\].*axis 3 differs/);
    await page.locator('.qs-field', { hasText: 'Width' }).locator('input').fill('28');
    chooser = page.waitForEvent('filechooser');
    await page.getByTestId('attach-data').click();
    await (await chooser).setFiles([join(assets, 'retina.jpg'), join(assets, 'hubble_deep_field.jpg'), join(assets, 'coins.png')]);
    const row = page.getByTestId('dataset-row').filter({ hasText: '3 images' });
    await row.waitFor({ timeout: 30_000 });
    await expect.poll(() => row.getByTestId('dataset-facts').textContent()).toBe('3 × [1, 28, 28] float32');
    expect(await row.getAttribute('data-fits')).toBe('true');
    expect(await page.getByTestId('attach-error').count()).toBe(0);
    await s.shot('data-attached');
    await page.setViewportSize({ width: 900, height: 800 });
    await s.shot('overview-900');
    await page.setViewportSize({ width: 1280, height: 800 });
  }, 60_000);

  it('the Ranges view says what the pipeline does to a tensor, and marks a row only when it is that', async () => {
    const { page } = s;
    await page.getByTestId('tab-ranges').click();
    const line = page.getByTestId('pipeline-treatment');
    await line.waitFor({ timeout: 60_000 });
    // The sample recipe: int8 per channel. The per-tensor rows are not what it does: none is marked.
    expect(await line.getAttribute('data-kind')).toBe('weight');
    expect(await line.textContent()).toMatch(/int8 symmetric, one scale per output channel — weight of '\/0\/0\.0\/Conv'/);
    expect(await page.getByTestId('pipeline-choice').count()).toBe(0);
    // An activation: uint8 asymmetric by MinMax, and that row is marked.
    const act = await page.getByTestId('tensor-select').locator('optgroup').nth(1).locator('option').first().getAttribute('value');
    await page.getByTestId('tensor-select').selectOption(act!);
    await expect.poll(() => line.getAttribute('data-kind'), { timeout: 60_000 }).toBe('activation');
    await expect.poll(() => page.getByTestId('pipeline-choice').count(), { timeout: 60_000 }).toBe(1);
    expect(await page.getByTestId('choices-table').locator('tr', { has: page.getByTestId('pipeline-choice') }).textContent()).toMatch(/minmax.*asymmetric \(uint8\)/);
    await s.shot('ranges-pipeline-marker');
  }, 90_000);
});
