// NumPy .npy files (format 1.0/2.0/3.0): the CLI's `--data INPUT=FILE.npy` and `--labels FILE.npy`.
import { readFileSync, statSync } from 'node:fs';
import { StudioError, quote } from '../errors';
import { writeFileAtomic } from '../onnx/model-io';

export type NpyDType = 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool' | 'float16';
export type NpyData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;

export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  data: NpyData;
}

const descrToDtype: Record<string, NpyDType> = {
  '<f4': 'float32', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '|i1': 'int8', '<i1': 'int8',
  '|u1': 'uint8', '<u1': 'uint8', '|b1': 'bool', '<f2': 'float16',
};
const dtypeToDescr: Record<NpyDType, string> = {
  float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', int8: '|i1', uint8: '|u1', bool: '|b1', float16: '<f2',
};

export function readNpy(path: string): NpyArray {
  let bytes: Buffer;
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StudioError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR', `Cannot read data file ${quote(path)}: ${code === 'ENOENT' ? 'it does not exist' : (e as Error).message}.`, { cause: e });
  }
  return parseNpy(bytes, path);
}

export function parseNpy(bytes: Uint8Array, source = '<buffer>'): NpyArray {
  const bad = (why: string): never => { throw new StudioError('BAD_DATA', `Data file ${quote(source)} is not a valid .npy array: ${why}.`); };
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') bad('missing the \\x93NUMPY magic');
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) { headerLen = dv.getUint16(8, true); headerStart = 10; }
  else if (major === 2 || major === 3) { headerLen = dv.getUint32(8, true); headerStart = 12; }
  else bad(`unknown format version ${major}`);
  const header = new TextDecoder().decode(bytes.subarray(headerStart!, headerStart! + headerLen!));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) bad(`cannot read its header ${quote(header.trim())}`);
  const dtype = descrToDtype[descr!];
  if (!dtype) bad(`dtype ${quote(descr)} is not supported (use float32, float64, int64, int32, int8, uint8, bool or float16, little-endian)`);
  if (fortran === 'True') bad('Fortran-order arrays are not supported; save with np.ascontiguousarray');
  const shape = shapeText!.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) bad(`shape ${quote(shapeText)} is not a list of sizes`);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = headerStart! + headerLen!;
  const itemSize = Number(descr!.slice(2));
  if (bytes.length - offset < count * itemSize) bad(`it holds ${bytes.length - offset} data bytes but shape [${shape.join(', ')}] needs ${count * itemSize}`);
  const buf = bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + count * itemSize) as ArrayBuffer;
  let data: NpyData;
  switch (dtype!) {
    case 'float32': data = new Float32Array(buf); break;
    case 'float64': data = new Float64Array(buf); break;
    case 'int64': data = new BigInt64Array(buf); break;
    case 'int32': data = new Int32Array(buf); break;
    case 'int8': data = new Int8Array(buf); break;
    case 'uint8': case 'bool': data = new Uint8Array(buf); break;
    case 'float16': data = new Uint16Array(buf); break;
  }
  return { dtype: dtype!, shape, data: data! };
}

export function encodeNpy(arr: NpyArray): Uint8Array {
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${dtypeToDescr[arr.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + arr.data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength), 10 + header.length);
  return out;
}

export async function writeNpy(path: string, arr: NpyArray): Promise<void> {
  await writeFileAtomic(path, encodeNpy(arr));
}
