// The pipeline editor keeps what the user typed: an edit survives a tab switch (autosave, also when
// the tab is left within the autosave delay), Ctrl+S saves from inside an inspector field and never
// reaches the browser's "Save page", connections can be selected and deleted (and undone), clicking
// from node to node keeps the selection, palette nodes never land on another node, Auto-layout tidies
// the graph, and an exclude-list typo is flagged against the model's real node names.
// Every interaction waits for the canvas to have drawn and measured its nodes (s.flowReady), never a fixed time.
import { describe, expect, it } from 'vitest';
import { studioForFile } from './harness';
import { templateById } from '../../renderer/src/features/pipeline/templates';

const s = studioForFile();
const ready = () => s.flowReady('pipeline-canvas');

type Box = { x: number; y: number; width: number; height: number };
const overlap = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
/** Click the middle of the connection between two vertically stacked nodes (a straight segment; node ids = types here). */
async function clickEdgeBetween(from: string, to: string): Promise<void> {
  await ready();
  await s.page.getByTestId(`rf__edge-${from}->${to}`).waitFor({ state: 'attached' }); // a straight vertical edge has no width: never 'visible'
  const a = (await s.page.getByTestId(`pnode-${from}`).boundingBox())!, b = (await s.page.getByTestId(`pnode-${to}`).boundingBox())!;
  await s.page.mouse.click(a.x + a.width / 2, (a.y + a.height + b.y) / 2);
}
/** Every node's box, read at one instant (boxes read one by one during a viewport animation disagree). */
async function nodeBoxes(): Promise<Box[]> {
  await ready();
  return s.page.evaluate<Box[]>(`[...document.querySelectorAll('[data-testid="pipeline-canvas"] .react-flow__node')].map((n) => {
    const r = n.getBoundingClientRect();
    return { x: r.x, y: r.y, width: r.width, height: r.height };
  })`);
}
function overlappingPairs(boxes: Box[]): number {
  let k = 0;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) if (overlap(boxes[i]!, boxes[j]!)) k++;
  return k;
}

describe('studio pipeline editor', () => {
  it('keeps an edit across a tab switch; Ctrl+S saves from a field and is not the browser\'s', async () => {
    const { page } = s;
    await s.openSample('fmnist-cnn', 'Fashion-MNIST CNN');
    await page.getByTestId('tab-pipeline').click();
    await page.getByTestId('template-ptq').click();
    await expect.poll(() => page.getByTestId('pipeline-select').locator('option:checked').textContent()).toBe('PTQ W8A8');
    await ready();
    // A listener added after the editor's sees whether Ctrl+S was kept from the browser.
    await page.evaluate(`window.addEventListener('keydown', (e) => { if (e.key.toLowerCase() === 's') window.savePrevented = e.defaultPrevented; })`);
    await page.getByTestId('pnode-calibrate').click();
    await page.locator('#param-method').selectOption('mse');
    await page.locator('#param-method').focus();
    await page.keyboard.press('Control+s');
    expect(await page.evaluate('window.savePrevented')).toBe(true);
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('All changes saved');
    await page.getByTestId('tab-runs').click();
    await page.getByTestId('runs-empty').waitFor();
    await page.getByTestId('tab-pipeline').click();
    // The pipeline that was open is open again, with the edit.
    await expect.poll(() => page.getByTestId('pipeline-select').locator('option:checked').textContent()).toBe('PTQ W8A8');
    await ready();
    await expect.poll(() => page.getByTestId('pnode-calibrate').textContent()).toContain('mse');
    // Leave within the autosave delay: the pending edit is sent as the editor closes.
    await page.getByTestId('pnode-quant-params').click();
    await page.locator('#param-granularity').selectOption('tensor');
    expect(await page.getByTestId('save-state').textContent()).toBe('Unsaved changes');
    await page.getByTestId('tab-overview').click();
    await page.getByTestId('tab-pipeline').click();
    await ready();
    await expect.poll(() => page.getByTestId('pnode-quant-params').textContent()).toContain('tensor');
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('All changes saved');
    // And a reload (a fresh editor from the store) shows both.
    await page.reload();
    await ready();
    expect(await page.getByTestId('pnode-calibrate').textContent()).toContain('mse');
    expect(await page.getByTestId('pnode-quant-params').textContent()).toContain('tensor');
  }, 90_000);

  it('selects a connection, deletes it with the Delete key and undoes that', async () => {
    const { page } = s;
    const edges = page.locator('.react-flow__edge');
    // Edges are drawn a frame after their nodes are measured: wait for all of the template's.
    const n0 = templateById('ptq')!.build().edges.length;
    expect(n0).toBeGreaterThan(4);
    await ready();
    await expect.poll(() => edges.count()).toBe(n0);
    // model -> data: the first column's top edge.
    await clickEdgeBetween('model', 'data');
    await page.getByTestId('edge-inspector').waitFor();
    expect(await page.getByTestId('edge-inspector').textContent()).toContain('FP32 model → Calibration data');
    await s.shot('pipeline-edge-selected');
    await page.keyboard.press('Delete');
    await expect.poll(() => edges.count()).toBe(n0 - 1);
    // Without the model upstream the data node says why.
    await expect.poll(() => page.getByTestId('pnode-data').getAttribute('data-invalid')).toBe('true');
    await page.keyboard.press('Control+z');
    await expect.poll(() => edges.count()).toBe(n0);
    // The inspector's button removes it too.
    await clickEdgeBetween('model', 'data');
    await page.getByTestId('remove-edge').click();
    await expect.poll(() => edges.count()).toBe(n0 - 1);
    await page.getByTestId('undo').click();
    await expect.poll(() => edges.count()).toBe(n0);
  }, 60_000);

  it('keeps the selection when clicking from node to node', async () => {
    const { page } = s;
    const order = ['data', 'calibrate', 'quant-params', 'quantized-model', 'evaluate', 'calibrate', 'data', 'export'];
    const titles: Record<string, string> = { data: 'Calibration data', calibrate: 'Calibrate', 'quant-params': 'Quantization params', 'quantized-model': 'Quantized model', evaluate: 'Evaluate', export: 'Export' };
    await ready();
    for (const t of order) {
      await page.getByTestId(`pnode-${t}`).click();
      await expect.poll(() => page.getByTestId('inspector').locator('h3').textContent()).toBe(titles[t]);
      expect(await page.locator('.qs-pnode.selected').count()).toBe(1);
    }
  }, 60_000);

  it('places palette nodes on free spots and lays the graph out', async () => {
    const { page } = s;
    expect(overlappingPairs(await nodeBoxes())).toBe(0);
    const n0 = await page.locator('.react-flow__node').count();
    // The palette is enabled once every node is measured: each new node is placed by the others' real sizes.
    for (const t of ['gptq', 'awq', 'bias-correction', 'smoothquant']) await page.getByTestId(`palette-${t}`).click();
    await expect.poll(() => page.locator('.react-flow__node').count()).toBe(n0 + 4);
    expect(overlappingPairs(await nodeBoxes()), 'palette nodes overlap others').toBe(0);
    await s.shot('pipeline-palette-added');
    await page.getByTestId('auto-layout').click();
    const canvas = (await page.getByTestId('pipeline-canvas').boundingBox())!;
    const inside = (b: Box) => b.x >= canvas.x - 1 && b.y >= canvas.y - 1 && b.x + b.width <= canvas.x + canvas.width + 1 && b.y + b.height <= canvas.y + canvas.height + 1;
    // fitView after the layout (animated): every node ends up inside the canvas.
    await expect.poll(async () => (await nodeBoxes()).every(inside)).toBe(true);
    const boxes = await nodeBoxes();
    expect(overlappingPairs(boxes)).toBe(0);
    // Top to bottom: the model above the data above calibration.
    const y = async (t: string) => (await page.getByTestId(`pnode-${t}`).boundingBox())!.y;
    expect(await y('model')).toBeLessThan(await y('data'));
    expect(await y('data')).toBeLessThan(await y('calibrate'));
    await s.shot('pipeline-auto-layout');
    // Layout is one undo step; four more take the added nodes away again.
    for (let i = 0; i < 5; i++) await page.getByTestId('undo').click();
    await expect.poll(() => page.locator('.react-flow__node').count()).toBe(n0);
  }, 60_000);

  it('flags an exclude-list name the model does not have, with the closest real name', async () => {
    const { page } = s;
    await page.getByTestId('pnode-quant-params').click();
    await page.locator('#param-exclude').fill('/9/Gemm, /6/6.0/Convv');
    const problem = page.getByTestId('pnode-quant-params').getByTestId('node-problem');
    await problem.waitFor();
    expect(await problem.getAttribute('title')).toContain("'/6/6.0/Convv' (did you mean '/6/6.0/Conv'?)");
    expect(await problem.getAttribute('title')).not.toContain("'/9/Gemm'");
    expect(await page.getByTestId('run-pipeline').isDisabled()).toBe(true);
    await s.shot('pipeline-exclude-typo');
    await page.locator('#param-exclude').fill('/9/Gemm, /6/6.0/Conv');
    await expect.poll(() => problem.count()).toBe(0);
    expect(await page.getByTestId('run-pipeline').isDisabled()).toBe(false);
    const wide = (await page.getByTestId('pipeline-canvas').boundingBox())!.width;
    await page.setViewportSize({ width: 900, height: 800 });
    await expect.poll(async () => (await page.getByTestId('pipeline-canvas').boundingBox())!.width).toBeLessThan(wide);
    await ready();
    await s.shot('pipeline-900');
    await page.setViewportSize({ width: 1280, height: 800 });
  }, 60_000);

  it('leaves a node in float by picking it on the graph; the editor shows it in the exclude list', async () => {
    const { page } = s;
    await page.getByTestId('tab-graph').click();
    await s.flowReady('graph-canvas');
    await page.locator('[data-op="Conv"]').nth(2).click();
    await page.getByTestId('toggle-exclude').click();
    await page.getByTestId('excluded-note').waitFor();
    await expect.poll(() => page.getByTestId('node-state').textContent()).toBe('excluded');
    const name = (await page.getByTestId('node-details').locator('h3 span').textContent())!.trim();
    await s.shot('graph-exclude-picked');
    await page.getByTestId('tab-pipeline').click();
    await ready();
    await page.getByTestId('pnode-quant-params').click();
    expect(await page.locator('#param-exclude').inputValue()).toContain(name);
    expect(await page.getByTestId('pnode-quant-params').getAttribute('data-invalid')).toBe('false');
  }, 60_000);
});
