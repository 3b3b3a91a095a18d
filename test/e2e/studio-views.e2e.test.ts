// Every view at 1280×800 and at 900 px wide (screenshots in test-results/screenshots/view-*.png),
// and the habits of a desktop app: at 900 px the sidebar starts folded and the pipeline canvas keeps
// its width, "?" lists the shortcuts (not while typing), dark mode follows the system, a node's
// error text stays inside its node.
import { describe, expect, it } from 'vitest';
import { studioForFile } from './harness';

const s = studioForFile();
let projectId = '';
const TABS = ['overview', 'pipeline', 'graph', 'ranges', 'runs'];

async function settle(): Promise<void> {
  await s.page.waitForTimeout(600);
}

describe('studio: every view, two widths, dark mode, shortcuts', () => {
  it('shows every view at 1280×800', async () => {
    const { page } = s;
    await s.open('');
    await s.shot('view-home-1280');
    await s.open('#/g/samples');
    await page.getByTestId('open-sample-fmnist-cnn').waitFor();
    await s.shot('view-samples-1280');
    await page.getByTestId('open-sample-fmnist-cnn').click();
    await page.getByTestId('project-title').filter({ hasText: 'Fashion-MNIST CNN' }).waitFor({ timeout: 30_000 });
    projectId = /#\/p\/([^/]+)/.exec(page.url())![1]!;
    for (const t of TABS) {
      await page.getByTestId(`tab-${t}`).click();
      await settle();
      await s.shot(`view-${t}-1280`);
    }
    await s.open('#/g/hardware');
    await page.getByTestId('hardware').waitFor();
    await s.shot('view-hardware-1280');
  }, 90_000);

  it('at 900 px: the sidebar starts folded, unfolds on demand, and the canvas keeps its width', async () => {
    const { page } = s;
    await page.setViewportSize({ width: 900, height: 800 });
    await s.open(`#/p/${projectId}/pipeline`);
    // A fresh start at this width (a hash change alone keeps the running page).
    await page.reload();
    await page.getByTestId('pnode-calibrate').waitFor();
    expect(await page.getByTestId('sidebar').isHidden()).toBe(true);
    const canvas = (await page.getByTestId('pipeline-canvas').boundingBox())!;
    expect(canvas.width).toBeGreaterThan(600);
    expect(canvas.height).toBeGreaterThan(400);
    await s.shot('view-pipeline-900');
    for (const t of TABS.filter((x) => x !== 'pipeline')) {
      await page.getByTestId(`tab-${t}`).click();
      await settle();
      await s.shot(`view-${t}-900`);
    }
    await page.getByTestId('toggle-sidebar').click();
    await page.getByTestId('sidebar').waitFor();
    await s.shot('view-runs-900-sidebar');
    await page.getByTestId('toggle-sidebar').click();
    expect(await page.getByTestId('sidebar').isHidden()).toBe(true);
    for (const g of ['samples', 'hardware']) {
      await s.open(`#/g/${g}`);
      await settle();
      await s.shot(`view-${g}-900`);
    }
    await s.open('');
    await s.shot('view-home-900');
    await page.setViewportSize({ width: 1280, height: 800 });
  }, 90_000);

  it('"?" lists the shortcuts, Escape closes it, typing "?" in a field does not', async () => {
    const { page } = s;
    await s.open(`#/p/${projectId}/overview`);
    await page.getByTestId('rename-input').waitFor();
    await page.keyboard.press('Shift+?');
    await page.getByTestId('shortcuts').waitFor();
    expect(await page.getByTestId('shortcuts').textContent()).toContain('Ctrl/⌘ + S');
    await s.shot('view-shortcuts');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('shortcuts').count()).toBe(0);
    await page.getByTestId('rename-input').focus();
    await page.keyboard.type('?');
    expect(await page.getByTestId('shortcuts').count()).toBe(0);
    expect(await page.getByTestId('rename-input').inputValue()).toBe('Fashion-MNIST CNN?');
  }, 30_000);

  it('follows the system dark mode', async () => {
    const { page } = s;
    const bg = () => page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(await bg()).toBe('rgb(245, 246, 248)');
    await page.emulateMedia({ colorScheme: 'dark' });
    await expect.poll(bg).toBe('rgb(15, 20, 27)');
    for (const t of ['overview', 'pipeline', 'runs']) {
      await page.getByTestId(`tab-${t}`).click();
      await settle();
      await s.shot(`view-${t}-dark`);
    }
    // Plots too: a dark paper, not a white box.
    await page.getByTestId('tab-ranges').click();
    const svg = page.getByTestId('histogram-plot').locator('.main-svg').first();
    await svg.waitFor({ timeout: 60_000 });
    // (The test is typechecked without the DOM library: the browser's getComputedStyle is reached through globalThis.)
    expect(await svg.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor)).toBe('rgb(22, 29, 39)');
    await s.shot('view-ranges-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  }, 30_000);

  it('finds nodes in the GPT\'s graph by op and by name, with a minimap and shapes on the edges', async () => {
    const { page } = s;
    await s.openSample('moby-gpt', 'Byte-level GPT');
    await page.getByTestId('tab-graph').click();
    await page.locator('[data-op="MatMul"]').first().waitFor({ timeout: 60_000 });
    // The count adds up to the model table's (the GPT has Constant nodes the graph draws as weights).
    const countText = (await page.getByTestId('graph-count').textContent())!;
    const [, drawn, folded, inModel] = /· (\d+) nodes \+ (\d+) Constant folded into weights = (\d+) in the model/.exec(countText)!.map(Number);
    expect(drawn! + folded!).toBe(inModel);
    const nodeCount = inModel!;
    await page.getByTestId('tab-overview').click();
    const tableCount = Number(await page.getByTestId('model-list').locator('tbody tr').first().locator('td').nth(2).textContent());
    expect(nodeCount).toBe(tableCount);
    await page.getByTestId('tab-graph').click();
    await page.locator('[data-op="MatMul"]').first().waitFor({ timeout: 60_000 });
    // Shape arithmetic is folded into expandable nodes, and the counts still add up: drawn operator
    // boxes + the nodes inside the folded groups = the graph's node count.
    await s.flowReady('graph-canvas');
    const foldedNote = page.getByTestId('graph-folded');
    const opBoxes = async () => (await page.getByTestId('graph-node').count()) - (await page.locator('.qs-gnode.io').count()) - (await page.locator('.qs-gnode.group').count());
    const groups0 = Number(await foldedNote.getAttribute('data-groups')), inGroups0 = Number(await foldedNote.getAttribute('data-nodes'));
    expect(groups0).toBeGreaterThanOrEqual(6);
    expect(await page.locator('.qs-gnode.group').count()).toBe(groups0);
    expect(await opBoxes() + inGroups0).toBe(drawn);
    // The legend counts operators too (float + int8 + ... = the same total, Input/Output boxes not among them).
    const legend = (await page.getByTestId('graph-legend').textContent())!;
    expect([...legend.matchAll(/\((\d+)\)/g)].reduce((k, m) => k + Number(m[1]), 0)).toBe(drawn);
    await s.shot('graph-gpt-folded');
    await page.locator('.qs-gnode.group').first().click();
    await page.getByTestId('group-details').waitFor();
    expect(await page.getByTestId('group-details').textContent()).toMatch(/Shape ×\d/);
    await page.getByTestId('expand-group').click();
    await expect.poll(async () => Number(await foldedNote.getAttribute('data-groups'))).toBe(groups0 - 1);
    await s.flowReady('graph-canvas');
    const inGroups1 = Number(await foldedNote.getAttribute('data-nodes'));
    expect(inGroups1).toBeLessThan(inGroups0);
    expect(await opBoxes() + inGroups1).toBe(drawn);
    // Unfolded entirely, every operator is a box of its own.
    await page.getByTestId('collapse-shapes').uncheck();
    await expect.poll(() => page.locator('.qs-gnode.group').count()).toBe(0);
    await s.flowReady('graph-canvas');
    expect(await opBoxes()).toBe(drawn);
    await page.getByTestId('collapse-shapes').check();
    await expect.poll(() => page.locator('.qs-gnode.group').count()).toBe(groups0);
    await page.getByTestId('graph-search').fill('MatMul');
    const count = page.getByTestId('graph-search-count');
    await expect.poll(() => count.textContent()).toMatch(/^1 of \d+$/);
    const total = Number(/of (\d+)/.exec((await count.textContent())!)![1]);
    expect(total).toBeGreaterThan(10);
    await page.getByTestId('graph-search').press('Enter');
    await page.getByTestId('node-details').waitFor();
    const first = await page.getByTestId('node-details').locator('h3').first().textContent();
    await page.getByTestId('graph-search-next').click();
    await expect.poll(() => count.textContent()).toBe(`2 of ${total}`);
    await expect.poll(() => page.getByTestId('node-details').locator('h3').first().textContent()).not.toBe(first);
    // The found node is on screen, highlighted.
    const canvas = (await page.getByTestId('graph-canvas').boundingBox())!;
    const sel = (await page.locator('.qs-gnode.selected').boundingBox())!;
    expect(sel.x > canvas.x && sel.x + sel.width < canvas.x + canvas.width && sel.y > canvas.y && sel.y + sel.height < canvas.y + canvas.height).toBe(true);
    expect(await page.locator('.qs-gnode.match').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('graph-canvas').locator('.react-flow__minimap').count()).toBe(1);
    expect(await page.getByTestId('graph-canvas').locator('.react-flow__edge-text').count()).toBeGreaterThan(0);
    await s.shot('graph-gpt-search');
    await page.getByTestId('graph-search').fill('no such node anywhere');
    await expect.poll(() => count.textContent()).toBe('no match');
  }, 120_000);

  it('keeps a long node error inside its node', async () => {
    const { page } = s;
    await s.open(`#/p/${projectId}/pipeline`);
    await page.getByTestId('pnode-quant-params').click();
    await page.locator('#param-exclude').fill('no_such_node_a, no_such_node_b, no_such_node_c, no_such_node_d, no_such_node_e');
    const node = page.getByTestId('pnode-quant-params');
    const problem = node.getByTestId('node-problem');
    await problem.waitFor();
    const nb = (await node.boundingBox())!, pb = (await problem.boundingBox())!;
    expect(pb.y + pb.height).toBeLessThanOrEqual(nb.y + nb.height + 1);
    // Three lines at most on the canvas; the whole message is in the inspector.
    expect(pb.height).toBeLessThan(3 * 16 + 14);
    expect(await page.getByTestId('inspector-problem').textContent()).toContain('no_such_node_e');
    await s.shot('view-pipeline-node-error');
    await page.locator('#param-exclude').fill('');
  }, 30_000);
});
