// Turning user data into model inputs: a set of images (PNG, any size) resized and normalised into a
// float32 [N,C,H,W] array, or a text file cut into int64 byte windows for byte-level LMs. The result is
// a .npy that the project stores like any other calibration array.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { basename, extname, join } from 'node:path';
import { StudioError, quote } from '../errors';
import type { NpyArray } from '../data/npy';
import { bytesToWindows } from '../data/text-windows';

export interface DecodedImage { width: number; height: number; channels: 1 | 3; pixels: Uint8Array }

/** Decode an 8-bit, non-interlaced PNG (gray, gray+alpha, RGB, RGBA, palette) to gray or RGB bytes. */
export function decodePng(bytes: Uint8Array, source = '<png>'): DecodedImage {
  const bad = (why: string): never => { throw new StudioError('BAD_DATA', `Image ${quote(source)} cannot be read: ${why}.`); };
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 8 || sig.some((b, i) => bytes[i] !== b)) bad('it is not a PNG file (only PNG images are supported)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 8, w = 0, h = 0, depth = 0, ct = -1, interlace = 0;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  while (off + 8 <= bytes.length) {
    const len = dv.getUint32(off), type = String.fromCharCode(...bytes.subarray(off + 4, off + 8));
    const body = bytes.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') { w = dv.getUint32(off + 8); h = dv.getUint32(off + 12); depth = body[8]!; ct = body[9]!; interlace = body[12]!; }
    else if (type === 'PLTE') palette = body;
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  if (!w || !h) bad('no IHDR header');
  if (depth !== 8) bad(`bit depth ${depth} is not supported (8-bit only)`);
  if (interlace) bad('interlaced PNGs are not supported');
  const bpp = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[ct] ?? bad(`colour type ${ct} is not supported`);
  if (ct === 3 && !palette) bad('palette image without a PLTE chunk');
  let raw: Uint8Array;
  try { raw = inflateSync(Buffer.concat(idat.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)))); } catch (e) { return bad(`corrupt image data (${(e as Error).message})`); }
  const stride = w * bpp;
  if (raw.length < h * (stride + 1)) bad('image data is truncated');
  const img = new Uint8Array(h * stride);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)]!, src = y * (stride + 1) + 1, row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? img[row + x - bpp]! : 0, up = y > 0 ? img[row - stride + x]! : 0, c = x >= bpp && y > 0 ? img[row - stride + x - bpp]! : 0;
      let p = 0;
      if (f === 1) p = a; else if (f === 2) p = up; else if (f === 3) p = (a + up) >> 1;
      else if (f === 4) { const q = a + up - c, pa = Math.abs(q - a), pb = Math.abs(q - up), pc = Math.abs(q - c); p = pa <= pb && pa <= pc ? a : pb <= pc ? up : c; }
      img[row + x] = (raw[src + x]! + p) & 255;
    }
  }
  const gray = ct === 0 || ct === 4;
  const channels = gray ? 1 : 3;
  const pixels = new Uint8Array(w * h * channels);
  for (let i = 0; i < w * h; i++) {
    if (ct === 3) { const k = img[i]! * 3; pixels[i * 3] = palette![k]!; pixels[i * 3 + 1] = palette![k + 1]!; pixels[i * 3 + 2] = palette![k + 2]!; }
    else for (let c = 0; c < channels; c++) pixels[i * channels + c] = img[i * bpp + c]!;
  }
  return { width: w, height: h, channels, pixels };
}

export interface ImageImportOptions { width: number; height: number; channels: 'rgb' | 'gray'; mean: number; std: number }

/** Bilinear resize + (x/255 − mean)/std into `out` at [C,H,W]. */
function writeImage(img: DecodedImage, o: ImageImportOptions, out: Float32Array, offset: number): void {
  const C = o.channels === 'rgb' ? 3 : 1, { width: W, height: H } = o;
  const sx = img.width / W, sy = img.height / H;
  const px = (x: number, y: number, c: number) => {
    const i = (y * img.width + x) * img.channels;
    if (img.channels === C) return img.pixels[i + c]!;
    if (C === 1) return 0.299 * img.pixels[i]! + 0.587 * img.pixels[i + 1]! + 0.114 * img.pixels[i + 2]!;
    return img.pixels[i]!;
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

/** Image files to import: a folder's PNGs (sorted) or the given files. */
export function listImages(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try { st = statSync(p); } catch { throw new StudioError('NOT_FOUND', `Image path ${quote(p)} does not exist.`); }
    if (st.isDirectory()) out.push(...readdirSync(p).filter((f) => /\.png$/i.test(f)).sort().map((f) => join(p, f)));
    else out.push(p);
  }
  if (!out.length) throw new StudioError('BAD_DATA', `No PNG images found in ${paths.map((p) => quote(p)).join(', ')}.`);
  return out;
}

export function imagesToArray(files: string[], o: ImageImportOptions, names: string[] = files.map((f) => basename(f))): NpyArray {
  if (!(o.width >= 1 && o.height >= 1 && o.width <= 4096 && o.height <= 4096)) throw new StudioError('BAD_ARGUMENT', `Image size ${quote([o.width, o.height])} must be 1..4096 pixels.`);
  if (!(o.std > 0)) throw new StudioError('BAD_ARGUMENT', `Normalisation std ${quote(o.std)} must be positive.`);
  const C = o.channels === 'rgb' ? 3 : 1, per = C * o.height * o.width;
  const data = new Float32Array(files.length * per);
  files.forEach((f, i) => {
    if (extname(f) && !/\.png$/i.test(f) && !/\.png$/i.test(names[i] ?? '')) throw new StudioError('BAD_DATA', `Image ${quote(names[i])} is not a PNG (only PNG images are supported; convert JPEGs first).`);
    writeImage(decodePng(readFileSync(f), names[i]), o, data, i * per);
  });
  return { dtype: 'float32', shape: [files.length, C, o.height, o.width], data };
}

/** Text → back-to-back byte windows (as many as fit, at most `maxWindows`). */
export function textToArray(file: string, window: number, maxWindows = 1024, name = basename(file)): NpyArray {
  const bytes = readFileSync(file);
  const n = Math.min(maxWindows, Math.floor(bytes.length / window));
  if (n < 1) throw new StudioError('BAD_DATA', `Text ${quote(name)} has ${bytes.length} bytes: shorter than one window of ${window}.`);
  return bytesToWindows(bytes, n, window, name);
}
