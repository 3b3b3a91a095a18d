// IDX files (MNIST / Fashion-MNIST format), optionally gzip-compressed.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { StudioError, quote } from '../errors';

export interface IdxArray { shape: number[]; data: Uint8Array }

export function parseIdx(bytes: Uint8Array, source = '<buffer>'): IdxArray {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new StudioError('BAD_DATA', `File ${quote(source)} is not an IDX file (bad magic).`);
  if (bytes[2] !== 0x08) throw new StudioError('BAD_DATA', `IDX file ${quote(source)} holds type 0x${bytes[2]!.toString(16)}; only unsigned bytes (0x08) are supported.`);
  const rank = bytes[3]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(dv.getUint32(4 + 4 * i, false));
  const n = shape.reduce((a, b) => a * b, 1);
  const off = 4 + 4 * rank;
  if (bytes.length - off < n) throw new StudioError('BAD_DATA', `IDX file ${quote(source)} is truncated: shape [${shape.join(', ')}] needs ${n} bytes, has ${bytes.length - off}.`);
  return { shape, data: bytes.slice(off, off + n) };
}

export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch (e) {
    throw new StudioError('NOT_FOUND', `Cannot read IDX file ${quote(path)}: ${(e as Error).message}`, { cause: e });
  }
  return parseIdx(bytes, path);
}
