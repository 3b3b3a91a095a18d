// Fashion-MNIST as the shared CNN expects it: f32 [N,1,28,28] = (pixel/255 - 0.2860)/0.3530, labels int64 [N].
import { join } from 'node:path';
import { readIdx } from './idx';
import type { NpyArray } from './npy';

export const FMNIST_MEAN = 0.286;
export const FMNIST_STD = 0.353;

export interface LabelledImages { images: NpyArray; labels: NpyArray }

export function loadFashionMnist(dir: string, split: 'train' | 'test', count?: number): LabelledImages {
  const prefix = split === 'train' ? 'train' : 't10k';
  const img = readIdx(join(dir, `${prefix}-images-idx3-ubyte.gz`));
  const lab = readIdx(join(dir, `${prefix}-labels-idx1-ubyte.gz`));
  const n = Math.min(count ?? img.shape[0]!, img.shape[0]!);
  const [h, w] = [img.shape[1]!, img.shape[2]!];
  const px = new Float32Array(n * h * w);
  for (let i = 0; i < px.length; i++) px[i] = (img.data[i]! / 255 - FMNIST_MEAN) / FMNIST_STD;
  const labels = new BigInt64Array(n);
  for (let i = 0; i < n; i++) labels[i] = BigInt(lab.data[i]!);
  return {
    images: { dtype: 'float32', shape: [n, 1, h, w], data: px },
    labels: { dtype: 'int64', shape: [n], data: labels },
  };
}
