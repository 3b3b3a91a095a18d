// A model we did not train: PaddleOCR's PP-OCRv4 recognizer (opset 9, weights in Constant nodes,
// BatchNorm, attention). Quantized with the default recipe, calibrated on other crops, it must still
// read the same text as FP32 on real lines of scikit-image's page.png.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { readPng, cropResizeChw } from '../../../engine/data/png';
import { readNpy, type NpyArray } from '../../../engine/data/npy';
import { createSession } from '../../../engine/runtime/session';
import { feedsFor } from '../../../engine/runtime/batching';
import { loadModel } from '../../../engine/onnx/model-io';
import { repoRoot } from '../../helpers/shared';

const assets = join(repoRoot, 'node_modules', '@gutenye', 'ocr-models', 'assets');
const modelPath = join(assets, 'ch_PP-OCRv4_rec_infer.onnx');

function pageLines(): NpyArray {
  const img = readPng(join(repoRoot, '.cache', 'test-assets', 'skimage-data', 'page.png'));
  const boxes = [{ x: 0, y: 8, w: 384, h: 30 }, ...[45, 63, 81, 99].map((y) => ({ x: 0, y, w: 384, h: 20 }))];
  const H = 48, W = 928;
  const data = new Float32Array(boxes.length * 3 * H * W);
  boxes.forEach((b, i) => data.set(cropResizeChw(img, b, H, W), i * 3 * H * W));
  return { dtype: 'float32', shape: [boxes.length, 3, H, W], data };
}

async function read(model: string, x: NpyArray): Promise<string[]> {
  const keys = readFileSync(join(assets, 'ppocr_keys_v1.txt'), 'utf8').split('\n');
  if (keys[keys.length - 1] === '') keys.pop();
  keys.push(' ');
  const s = await createSession(model, { device: 'cpu' });
  const y = Object.values(await s.run(feedsFor({ x }, 0, x.shape[0]!)))[0]!;
  await s.release();
  const [B, T, C] = y.dims.map(Number) as [number, number, number];
  const d = y.data as Float32Array;
  const texts: string[] = [];
  for (let b = 0; b < B; b++) {
    let prev = -1, t = '';
    for (let i = 0; i < T; i++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (d[(b * T + i) * C + c]! > d[(b * T + i) * C + best]!) best = c;
      if (best !== prev && best !== 0) t += keys[best - 1];
      prev = best;
    }
    texts.push(t);
  }
  return texts;
}

describe('PP-OCRv4 recognizer', () => {
  it('reads the same text after default int8 quantization', async () => {
    const lines = pageLines();
    const fp32 = await read(modelPath, lines);
    // The FP32 model itself reads the page (spaces are its weak point, so compare without them).
    const squeeze = (s: string) => s.replace(/\s+/g, '');
    expect(squeeze(fp32[1]!)).toBe('Letusfirstdeterminemarkersofthecoinsandthe');
    const dir = mkdtempSync(join(tmpdir(), 'qocr-'));
    try {
      const out = join(dir, 'rec-int8.onnx');
      // Calibrate on other crops of the page (the studio's sample set), not on the lines we read.
      const cal = readNpy(join(repoRoot, 'projects-sample', 'ppocr-rec', 'lines.npy'));
      const report = await quantizeModel({ modelPath, outputPath: out, recipe: parseRecipe({}), inputs: { x: cal }, evaluate: false });
      expect(report.quantized.filter((q) => q.opType === 'Conv').length).toBe(38);
      expect(report.quantized.filter((q) => q.opType === 'MatMul').length).toBe(13);
      const q = await loadModel(out);
      expect(q.model.graph!.node.filter((n) => n.opType === 'QuantizeLinear').length).toBeGreaterThan(40);
      const int8 = await read(out, lines);
      expect(int8.map(squeeze)).toEqual(fp32.map(squeeze));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
