// Turning user data into model inputs: a set of images (JPEG, PNG or WebP, any size, decoded by sharp)
// resized and normalised into a float32 [N,C,H,W] array, or a text file cut into int64 byte windows
// for byte-level LMs. The result is a .npy that the project stores like any other calibration array.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { StudioError, quote } from '../errors';
import type { NpyArray } from '../data/npy';
import { bytesToWindows } from '../data/text-windows';
import { decodeImage, IMAGE_EXTENSIONS, type Image } from '../data/png';

const isImageName = (f: string) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase());

export interface ImageImportOptions { width: number; height: number; channels: 'rgb' | 'gray'; mean: number; std: number }

/** Bilinear resize + (x/255 − mean)/std into `out` at [C,H,W]. */
function writeImage(img: Image, o: ImageImportOptions, out: Float32Array, offset: number): void {
  const C = o.channels === 'rgb' ? 3 : 1, { width: W, height: H } = o;
  const sx = img.width / W, sy = img.height / H;
  const px = (x: number, y: number, c: number) => {
    const i = (y * img.width + x) * img.channels;
    if (img.channels === C) return img.data[i + c]!;
    if (C === 1) return 0.299 * img.data[i]! + 0.587 * img.data[i + 1]! + 0.114 * img.data[i + 2]!;
    return img.data[i]!;
  };
  for (let y = 0; y < H; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5), y0 = Math.min(img.height - 1, Math.floor(fy)), y1 = Math.min(img.height - 1, y0 + 1), wy = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5), x0 = Math.min(img.width - 1, Math.floor(fx)), x1 = Math.min(img.width - 1, x0 + 1), wx = fx - x0;
      for (let c = 0; c < C; c++) {
        const v = (1 - wy) * ((1 - wx) * px(x0, y0, c) + wx * px(x1, y0, c)) + wy * ((1 - wx) * px(x0, y1, c) + wx * px(x1, y1, c));
        out[offset + (c * H + y) * W + x] = (v / 255 - o.mean) / o.std;
      }
    }
  }
}

/** Image files to import: a folder's JPEG/PNG/WebP files (sorted) or the given files. */
export function listImages(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try { st = statSync(p); } catch { throw new StudioError('NOT_FOUND', `Image path ${quote(p)} does not exist.`); }
    if (st.isDirectory()) out.push(...readdirSync(p).filter(isImageName).sort().map((f) => join(p, f)));
    else out.push(p);
  }
  if (!out.length) throw new StudioError('BAD_DATA', `No JPEG, PNG or WebP images found in ${paths.map((p) => quote(p)).join(', ')}.`);
  return out;
}

export async function imagesToArray(files: string[], o: ImageImportOptions, names: string[] = files.map((f) => basename(f))): Promise<NpyArray> {
  if (!(o.width >= 1 && o.height >= 1 && o.width <= 4096 && o.height <= 4096)) throw new StudioError('BAD_ARGUMENT', `Image size ${quote([o.width, o.height])} must be 1..4096 pixels.`);
  if (!(o.std > 0)) throw new StudioError('BAD_ARGUMENT', `Normalisation std ${quote(o.std)} must be positive.`);
  const C = o.channels === 'rgb' ? 3 : 1, per = C * o.height * o.width;
  const data = new Float32Array(files.length * per);
  for (let i = 0; i < files.length; i++) {
    const name = names[i] ?? basename(files[i]!);
    if (!isImageName(name)) throw new StudioError('BAD_DATA', `File ${quote(name)} is not a JPEG, PNG or WebP image (by its extension).`);
    writeImage(await decodeImage(files[i]!, name), o, data, i * per);
  }
  return { dtype: 'float32', shape: [files.length, C, o.height, o.width], data };
}

/** Text → back-to-back byte windows (as many as fit, at most `maxWindows`). */
export function textToArray(file: string, window: number, maxWindows = 1024, name = basename(file)): NpyArray {
  const bytes = readFileSync(file);
  const n = Math.min(maxWindows, Math.floor(bytes.length / window));
  if (n < 1) throw new StudioError('BAD_DATA', `Text ${quote(name)} has ${bytes.length} bytes: shorter than one window of ${window}.`);
  return bytesToWindows(bytes, n, window, name);
}
