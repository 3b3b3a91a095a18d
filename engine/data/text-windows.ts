// Text -> byte windows for the byte-level LM: int64 [B,T], UTF-8 bytes, windows back to back from the
// start of the file (../shared/README.md: "first 128 windows of 256 bytes, back to back").
import { readFileSync } from 'node:fs';
import { StudioError, quote } from '../errors';
import type { NpyArray } from './npy';

export function bytesToWindows(bytes: Uint8Array, windows: number, length: number, source = '<text>'): NpyArray {
  const have = Math.floor(bytes.length / length);
  if (have < windows) throw new StudioError('BAD_DATA', `Text ${quote(source)} has ${bytes.length} bytes: too short for ${windows} windows of ${length}.`);
  const data = new BigInt64Array(windows * length);
  for (let i = 0; i < data.length; i++) data[i] = BigInt(bytes[i]!);
  return { dtype: 'int64', shape: [windows, length], data };
}

export function readTextWindows(path: string, windows = 128, length = 256): NpyArray {
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch (e) {
    throw new StudioError('NOT_FOUND', `Cannot read text file ${quote(path)}: ${(e as Error).message}`, { cause: e });
  }
  return bytesToWindows(bytes, windows, length, path);
}
