import { describe, expect, it } from 'vitest';
import { mkdtempSync, copyFileSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { imagesToArray, listImages, textToArray } from '../../../engine/api/dataset-import';
import { decodeImage, MAX_IMAGE_PIXELS } from '../../../engine/data/png';

const assets = resolve(import.meta.dirname, '../../../.cache/test-assets/skimage-data');
const shared = resolve(import.meta.dirname, '../../../../shared');

describe('dataset import: real images and text', () => {
  it('decodes gray, RGB and palette PNGs, JPEG photos and WebP through sharp', async () => {
    const cam = await decodeImage(join(assets, 'camera.png'), 'camera.png');
    expect([cam.width, cam.height, cam.channels]).toEqual([512, 512, 1]);
    const ast = await decodeImage(join(assets, 'astronaut.png'), 'astronaut.png');
    expect([ast.width, ast.height, ast.channels]).toEqual([512, 512, 3]);
    const pal = await decodeImage(join(assets, 'palette_color.png'), 'palette_color.png');
    expect(pal.channels).toBe(3);
    // A real photo is not constant.
    let min = 255, max = 0;
    for (const v of ast.data) { if (v < min) min = v; if (v > max) max = v; }
    expect(max - min).toBeGreaterThan(200);
    const jpg = await decodeImage(join(assets, 'retina.jpg'), 'retina.jpg');
    expect(jpg.channels).toBe(3);
    expect(jpg.width * jpg.height).toBeGreaterThan(100_000);
    // WebP: astronaut re-encoded losslessly decodes to the same pixels.
    const dir = mkdtempSync(join(tmpdir(), 'qs-webp-'));
    try {
      const webp = join(dir, 'astronaut.webp');
      await sharp(join(assets, 'astronaut.png')).webp({ lossless: true }).toFile(webp);
      const w = await decodeImage(webp, 'astronaut.webp');
      expect([w.width, w.height, w.channels]).toEqual([512, 512, 3]);
      expect(Buffer.compare(Buffer.from(w.data), Buffer.from(ast.data))).toBe(0);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('refuses an image over the pixel cap before decoding it, naming the file', async () => {
    await expect(decodeImage(join(assets, 'astronaut.png'), 'holiday.png', 512 * 511)).rejects.toThrow(/'"holiday.png"' is 512×512 = 0\.3 megapixels; at most 0 megapixels/);
    expect(MAX_IMAGE_PIXELS).toBe(40_000_000);
  });

  it('resizes and normalises a folder of JPEG/PNG images into float32 [N,C,H,W]', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qs-img-'));
    try {
      for (const f of ['chelsea.png', 'coffee.png', 'camera.png', 'retina.jpg']) copyFileSync(join(assets, f), join(dir, f));
      writeFileSync(join(dir, 'notes.txt'), 'not an image');
      const files = listImages([dir]);
      expect(files.map((f) => f.split('/').pop())).toEqual(['camera.png', 'chelsea.png', 'coffee.png', 'retina.jpg']);
      const a = await imagesToArray(files.slice(0, 3), { width: 32, height: 24, channels: 'rgb', mean: 0.5, std: 0.5 });
      expect(a.shape).toEqual([3, 3, 24, 32]);
      const d = a.data as Float32Array;
      for (const v of d) expect(v >= -1 - 1e-6 && v <= 1 + 1e-6).toBe(true);
      // Gray camera.png replicated into 3 equal channels.
      const per = 3 * 24 * 32;
      expect(d[0]).toBeCloseTo(d[24 * 32]!, 6);
      const g = await imagesToArray(files.slice(1, 2), { width: 8, height: 8, channels: 'gray', mean: 0, std: 1 });
      expect(g.shape).toEqual([1, 1, 8, 8]);
      expect(per).toBe(2304);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('names the file when an image is not an image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qs-img-bad-'));
    try {
      writeFileSync(join(dir, 'upload-7f3a'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
      // The temporary path is not what the user sees: the name they uploaded is.
      await expect(imagesToArray([join(dir, 'upload-7f3a')], { width: 8, height: 8, channels: 'rgb', mean: 0, std: 1 }, ['cat.jpg'])).rejects.toThrow(/'"cat.jpg"' is not an image/);
      await expect(imagesToArray([join(assets, 'retina.jpg')], { width: 8, height: 8, channels: 'rgb', mean: 0, std: 1 }, ['retina.gif'])).rejects.toThrow(/'"retina.gif"' is not a JPEG, PNG or WebP image/);
      const a = await imagesToArray([join(assets, 'retina.jpg')], { width: 8, height: 8, channels: 'rgb', mean: 0, std: 1 });
      expect(a.shape).toEqual([1, 3, 8, 8]);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('cuts held-out text into int64 byte windows', () => {
    const a = textToArray(join(shared, 'data/text/val.txt'), 256, 16);
    expect(a.shape).toEqual([16, 256]);
    expect(a.dtype).toBe('int64');
    const text = readFileSync(join(shared, 'data/text/val.txt'));
    expect((a.data as BigInt64Array)[300]).toBe(BigInt(text[300]!));
  });
});
