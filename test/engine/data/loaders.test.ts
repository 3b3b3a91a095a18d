import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { loadFashionMnist, FMNIST_MEAN, FMNIST_STD } from '../../../engine/data/fashion-mnist';
import { parseIdx, readIdx } from '../../../engine/data/idx';
import { readTextWindows } from '../../../engine/data/text-windows';
import { sharedPath } from '../../helpers/shared';

describe('data loaders', () => {
  it('reads Fashion-MNIST IDX (gz) with the CNN normalisation', () => {
    const raw = readIdx(sharedPath('data', 'fmnist', 't10k-images-idx3-ubyte.gz'));
    expect(raw.shape).toEqual([10000, 28, 28]);
    const { images, labels } = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 100);
    expect(images.shape).toEqual([100, 1, 28, 28]);
    expect(labels.shape).toEqual([100]);
    const px = images.data as Float32Array;
    expect(px[400]).toBeCloseTo((raw.data[400]! / 255 - FMNIST_MEAN) / FMNIST_STD, 6);
    const l = labels.data as BigInt64Array;
    expect(new Set([...l].map(Number)).size).toBe(10);
  });

  it('rejects a truncated or foreign IDX file', () => {
    expect(() => parseIdx(gzipSync(Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 5, 1, 2)), 'short.gz')).toThrow(/truncated/);
    expect(() => parseIdx(Uint8Array.of(1, 2, 3, 4), 'x.idx')).toThrow(/not an IDX/);
  });

  it('cuts text into back-to-back byte windows', () => {
    const path = sharedPath('data', 'text', 'val.txt');
    const w = readTextWindows(path, 128, 256);
    expect(w.shape).toEqual([128, 256]);
    const bytes = readFileSync(path);
    const d = w.data as BigInt64Array;
    expect(Number(d[0])).toBe(bytes[0]);
    expect(Number(d[256 * 127 + 255])).toBe(bytes[256 * 128 - 1]);
    expect(() => readTextWindows(path, 100000, 256)).toThrow(/too short/);
  });
});
