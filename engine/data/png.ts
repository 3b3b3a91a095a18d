// Image decoding for calibration data: decodeImage reads JPEG, PNG and WebP (any bit depth,
// interlaced, palette, CMYK…) through sharp (libvips), with a pixel-count cap so a decompression bomb
// is refused before it is decoded. decodePng/readPng below are the older 8-bit-PNG-only reader,
// kept synchronous for the callers that need it.
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import sharp, { type Metadata } from 'sharp';
import { StudioError, quote } from '../errors';

/** Largest image accepted, in pixels (width × height): 40 megapixels, a large phone photo. */
export const MAX_IMAGE_PIXELS = 40_000_000;
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'];

/**
 * Decode an image file to 8-bit gray (1 channel, for gray sources) or RGB (3 channels); alpha is
 * dropped. `name` is what errors call the file (the user's file name, not a temporary path).
 */
export async function decodeImage(path: string, name: string, maxPixels = MAX_IMAGE_PIXELS): Promise<Image> {
  let meta: Metadata;
  try {
    meta = await sharp(path, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new StudioError('BAD_DATA', `File ${quote(name)} is not an image sharp can read (JPEG, PNG or WebP): ${(e as Error).message}.`, { cause: e });
  }
  if (!['jpeg', 'png', 'webp'].includes(meta.format ?? '')) throw new StudioError('BAD_DATA', `Image ${quote(name)} is ${meta.format ?? 'an unknown format'}; JPEG, PNG and WebP are supported.`);
  const w = meta.width ?? 0, h = meta.height ?? 0;
  if (w * h > maxPixels) throw new StudioError('BAD_DATA', `Image ${quote(name)} is ${w}×${h} = ${(w * h / 1e6).toFixed(1)} megapixels; at most ${(maxPixels / 1e6).toFixed(0)} megapixels are accepted (downscale it first).`);
  const gray = (meta.channels ?? 3) <= 2 && meta.space !== 'srgb';
  try {
    const { data, info } = await sharp(path, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate() // EXIF orientation: photos come out the way they were taken
      .removeAlpha().toColourspace(gray ? 'b-w' : 'srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 && info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    throw new StudioError('BAD_DATA', `Image ${quote(name)} cannot be decoded: ${(e as Error).message}.`, { cause: e });
  }
}

export interface Image { width: number; height: number; channels: 1 | 3; data: Uint8Array }

const paeth = (a: number, b: number, c: number) => {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
};

export function decodePng(bytes: Uint8Array, source = '<png>'): Image {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 8 || b.readUInt32BE(0) !== 0x89504e47) throw new StudioError('BAD_DATA', `File ${quote(source)} is not a PNG image.`);
  let off = 8, width = 0, height = 0, colorType = -1;
  const idat: Buffer[] = [];
  while (off + 8 <= b.length) {
    const len = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    const body = b.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0); height = body.readUInt32BE(4); colorType = body[9]!;
      if (body[8] !== 8) throw new StudioError('BAD_DATA', `PNG ${quote(source)} has ${body[8]}-bit samples; only 8-bit is supported.`);
      if (body[12] !== 0) throw new StudioError('BAD_DATA', `PNG ${quote(source)} is interlaced; only non-interlaced PNGs are supported.`);
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const bpp = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (!bpp) throw new StudioError('BAD_DATA', `PNG ${quote(source)} has colour type ${colorType} (palette PNGs are not supported).`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const img = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const row = y * stride, src = y * (stride + 1) + 1;
    for (let x = 0; x < stride; x++) {
      const left = x >= bpp ? img[row + x - bpp]! : 0;
      const up = y > 0 ? img[row - stride + x]! : 0;
      const ul = x >= bpp && y > 0 ? img[row - stride + x - bpp]! : 0;
      const pred = filter === 1 ? left : filter === 2 ? up : filter === 3 ? (left + up) >> 1 : filter === 4 ? paeth(left, up, ul) : 0;
      img[row + x] = (raw[src + x]! + pred) & 255;
    }
  }
  const channels = colorType === 0 || colorType === 4 ? 1 : 3;
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = img[i * bpp + c]!;
  return { width, height, channels, data };
}

export function readPng(path: string): Image {
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch (e) {
    throw new StudioError('NOT_FOUND', `Cannot read image ${quote(path)}: ${(e as Error).message}`, { cause: e });
  }
  return decodePng(bytes, path);
}

/**
 * Crop [x, y, w, h] and resize bilinearly to outH x outW, as planar float CHW (3 channels; grey is
 * repeated) with `(v/255 - mean) / std`.
 */
export function cropResizeChw(img: Image, box: { x: number; y: number; w: number; h: number }, outH: number, outW: number, mean = 0.5, std = 0.5): Float32Array {
  const out = new Float32Array(3 * outH * outW);
  const px = (x: number, y: number, c: number) => {
    const xi = Math.min(img.width - 1, Math.max(0, x)), yi = Math.min(img.height - 1, Math.max(0, y));
    return img.data[(yi * img.width + xi) * img.channels + (img.channels === 1 ? 0 : c)]!;
  };
  for (let oy = 0; oy < outH; oy++) {
    const sy = box.y + ((oy + 0.5) * box.h) / outH - 0.5;
    const y0 = Math.floor(sy), fy = sy - y0;
    for (let ox = 0; ox < outW; ox++) {
      const sx = box.x + ((ox + 0.5) * box.w) / outW - 0.5;
      const x0 = Math.floor(sx), fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const v = (px(x0, y0, c) * (1 - fx) + px(x0 + 1, y0, c) * fx) * (1 - fy) + (px(x0, y0 + 1, c) * (1 - fx) + px(x0 + 1, y0 + 1, c) * fx) * fy;
        out[(c * outH + oy) * outW + ox] = (v / 255 - mean) / std;
      }
    }
  }
  return out;
}
