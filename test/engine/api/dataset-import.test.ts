import { describe, expect, it } from 'vitest';
import { mkdtempSync, copyFileSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodePng, imagesToArray, listImages, textToArray } from '../../../engine/api/dataset-import';

const assets = resolve(import.meta.dirname, '../../../.cache/test-assets/skimage-data');
const shared = resolve(import.meta.dirname, '../../../../shared');

describe('dataset import: real images and text', () => {
  it('decodes gray, RGB and palette PNGs from scikit-image', () => {
    const cam = decodePng(readFileSync(join(assets, 'camera.png')), 'camera.png');
    expect([cam.width, cam.height, cam.channels]).toEqual([512, 512, 1]);
    const ast = decodePng(readFileSync(join(assets, 'astronaut.png')), 'astronaut.png');
    expect([ast.width, ast.height, ast.channels]).toEqual([512, 512, 3]);
    const pal = decodePng(readFileSync(join(assets, 'palette_color.png')), 'palette_color.png');
    expect(pal.channels).toBe(3);
    // A real photo is not constant.
    let min = 255, max = 0;
    for (const v of ast.pixels) { if (v < min) min = v; if (v > max) max = v; }
    expect(max - min).toBeGreaterThan(200);
  });

  it('resizes and normalises a folder of PNGs into float32 [N,C,H,W]', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qs-img-'));
    try {
      for (const f of ['chelsea.png', 'coffee.png', 'camera.png']) copyFileSync(join(assets, f), join(dir, f));
      writeFileSync(join(dir, 'notes.txt'), 'not an image');
      const files = listImages([dir]);
      expect(files.map((f) => f.split('/').pop())).toEqual(['camera.png', 'chelsea.png', 'coffee.png']);
      const a = imagesToArray(files, { width: 32, height: 24, channels: 'rgb', mean: 0.5, std: 0.5 });
      expect(a.shape).toEqual([3, 3, 24, 32]);
      const d = a.data as Float32Array;
      for (const v of d) expect(v >= -1 - 1e-6 && v <= 1 + 1e-6).toBe(true);
      // Gray camera.png replicated into 3 equal channels.
      const per = 3 * 24 * 32;
      expect(d[0]).toBeCloseTo(d[24 * 32]!, 6);
      const g = imagesToArray(files.slice(1, 2), { width: 8, height: 8, channels: 'gray', mean: 0, std: 1 });
      expect(g.shape).toEqual([1, 1, 8, 8]);
      expect(per).toBe(2304);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('names the file when an image is not a PNG', () => {
    expect(() => imagesToArray([join(assets, 'retina.jpg')], { width: 8, height: 8, channels: 'rgb', mean: 0, std: 1 })).toThrow(/retina\.jpg.*PNG/);
    expect(() => decodePng(new Uint8Array([1, 2, 3]), 'x.png')).toThrow(/'"x.png"'.*not a PNG/);
  });

  it('cuts held-out text into int64 byte windows', () => {
    const a = textToArray(join(shared, 'data/text/val.txt'), 256, 16);
    expect(a.shape).toEqual([16, 256]);
    expect(a.dtype).toBe('int64');
    const text = readFileSync(join(shared, 'data/text/val.txt'));
    expect((a.data as BigInt64Array)[300]).toBe(BigInt(text[300]!));
  });
});
