// The Graph view at Netron's bar of 10k nodes, in real Chromium: a seeded 10,000-op ONNX model
// (test/fixtures/large-graph.ts, written with the project's ONNX toolkit) is imported through the UI,
// drawn within a budget (a linear-time layout, node sizes given up front, only what is in view
// rendered), and search finds a node near its end and centres on it.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { studioForFile } from './harness';
import { residualLadder } from '../fixtures/large-graph';
import { serializeModel } from '../../engine/onnx/model-io';

const NODES = 10_000;
/** Opening the Graph tab until every node counts as drawn and the first ones are on screen (2 cores, shared). */
const DRAW_BUDGET_MS = 20_000;
/** From typing the name into the search box until the found node is centred on screen (1.7-3.8 s at load ~23, 12 s with two busy loops on top). */
const FIND_BUDGET_MS = 20_000;

const tmp = mkdtempSync(join(tmpdir(), 'qs-e2e-large-'));
const s = studioForFile({ teardown: () => rmSync(tmp, { recursive: true, force: true }) });

describe('studio: a 10k-node graph', () => {
  it('draws the graph within its budget and centres on a node found deep in it', async () => {
    const { page } = s;
    const file = join(tmp, 'residual-ladder-10k.onnx');
    writeFileSync(file, serializeModel(residualLadder(NODES)));
    await s.open('');
    await page.getByTestId('new-project-name').fill('Large graph');
    await page.getByTestId('create-project').click();
    await page.getByTestId('project-title').filter({ hasText: 'Large graph' }).waitFor();
    const chooser = page.waitForEvent('filechooser');
    await page.getByTestId('import-model').click();
    await (await chooser).setFiles(file);
    await page.getByTestId('model-list').waitFor({ timeout: 60_000 });
    expect(Number(await page.getByTestId('model-list').locator('tbody tr').first().locator('td').nth(2).textContent())).toBe(NODES);

    const t0 = Date.now();
    await page.getByTestId('tab-graph').click();
    await s.flowReady('graph-canvas');
    const drawMs = Date.now() - t0;
    console.log(`graph view, ${NODES} nodes: drawn in ${drawMs} ms; ${await page.locator('.react-flow__node').count()} node elements in the DOM`);
    expect(drawMs, 'time to draw the 10k-node graph').toBeLessThan(DRAW_BUDGET_MS);
    expect(await page.getByTestId('graph-count').textContent()).toContain(`${NODES} nodes`);
    // Only what is in view is in the DOM.
    expect(await page.locator('.react-flow__node').count()).toBeLessThan(500);
    await s.shot('graph-10k-1280');

    // A node near the end of the ladder, found by name.
    const deep = '/blocks.2400/Relu';
    const t1 = Date.now();
    await page.getByTestId('graph-search').fill(deep);
    await expect.poll(() => page.getByTestId('graph-search-count').textContent()).toBe('1 of 1');
    await page.getByTestId('graph-search').press('Enter');
    await page.getByTestId('node-details').locator('h3').filter({ hasText: deep }).waitFor();
    const node = page.locator(`.qs-gnode[data-id="${deep}"]`);
    const canvas = (await page.getByTestId('graph-canvas').boundingBox())!;
    // Centred: the node's middle within 40 px of the canvas's middle once the 250 ms move has ended.
    await expect.poll(async () => {
      const b = await node.boundingBox();
      return b ? Math.hypot(b.x + b.width / 2 - (canvas.x + canvas.width / 2), b.y + b.height / 2 - (canvas.y + canvas.height / 2)) : Infinity;
    }, { timeout: FIND_BUDGET_MS }).toBeLessThan(40);
    const findMs = Date.now() - t1;
    console.log(`graph view, ${NODES} nodes: '${deep}' found and centred in ${findMs} ms`);
    expect(findMs, 'time to find and centre a node deep in the 10k-node graph').toBeLessThan(FIND_BUDGET_MS);
    expect(await node.getAttribute('class')).toContain('selected');
    await s.shot('graph-10k-found');
  }, 180_000);
});
