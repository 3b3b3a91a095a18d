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
  /** How batching feeds the array when it is not plain samples on axis 0 (set by validate-inputs,
   *  read by runtime/batching). Plain data, so copies and worker-thread clones keep it. */
  feed?: FeedLayout;
}

/** An input the model fixes the leading axis of (`fixedRun`: exactly that many samples per run), or
 *  one fed whole to every run (`constant`: a scalar, a mask, an RNN state whose `batchAxis` is tiled
 *  to the run's size, or sliced per run when it holds one entry per sample: `perSample`). */
export interface FeedLayout {
  fixedRun?: number;
  constant?: { batchAxis?: number; perSample?: boolean };
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

/** numpy refuses headers longer than this unless told otherwise (numpy.lib.format._MAX_HEADER_SIZE):
 *  a real header is ~120 bytes, and a huge one only costs memory and time to decode. */
export const NPY_MAX_HEADER_BYTES = 10_000;

type HeaderValue = string | boolean | number[];

/** The header is a Python dict literal (numpy reads it with ast.literal_eval). Parse exactly that
 *  grammar — string keys; string, True/False or a tuple of non-negative decimal ints as values —
 *  so that `1.6e1`, `0x10`, `-1` or `(3)` (an int, not a tuple) are refused as numpy refuses them. */
function parseHeaderDict(text: string, bad: (why: string) => never): Map<string, HeaderValue> {
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++; };
  const expect = (c: string) => { ws(); if (text[i] !== c) bad(`its header ${quote(text.trim())} is not a Python dict literal (expected ${quote(c)} at character ${i})`); i++; };
  const str = (): string => {
    ws();
    const q = text[i];
    if (q !== "'" && q !== '"') bad(`its header ${quote(text.trim())} has a non-string key or value at character ${i}`);
    const end = text.indexOf(q!, i + 1);
    if (end < 0) bad(`its header ${quote(text.trim())} has an unterminated string`);
    const s = text.slice(i + 1, end);
    if (s.includes('\\')) bad(`its header string ${quote(s)} uses escapes`);
    i = end + 1;
    return s;
  };
  const value = (): HeaderValue => {
    ws();
    if (text[i] === "'" || text[i] === '"') return str();
    if (text.startsWith('True', i)) { i += 4; return true; }
    if (text.startsWith('False', i)) { i += 5; return false; }
    if (text[i] !== '(') bad(`its header ${quote(text.trim())} has a value that is not a string, True/False or a tuple at character ${i}`);
    i++;
    const dims: number[] = [];
    let trailingComma = false;
    for (;;) {
      ws();
      if (text[i] === ')') { i++; break; }
      const m = /^(0|[1-9][0-9]*)(?![0-9A-Za-z_.])/.exec(text.slice(i, i + 32));
      if (!m) bad(`shape ${quote(text.slice(i, text.indexOf(')', i) + 1 || i + 20))} is not a tuple of non-negative integers`);
      const d = Number(m![1]);
      if (!Number.isSafeInteger(d)) bad(`shape dimension ${m![1]} is too large`);
      dims.push(d);
      i += m![1]!.length;
      ws();
      trailingComma = false;
      if (text[i] === ',') { i++; trailingComma = true; continue; }
      if (text[i] === ')') { i++; break; }
      bad(`shape ${quote(text.slice(i, i + 20))} is not a tuple of non-negative integers`);
    }
    // `(3)` is the int 3 in Python, not a 1-tuple: numpy rejects it.
    if (dims.length === 1 && !trailingComma) bad(`shape '(${dims[0]})' is not a tuple (write '(${dims[0]},)')`);
    return dims;
  };
  const out = new Map<string, HeaderValue>();
  expect('{');
  ws();
  while (text[i] !== '}') {
    const k = str();
    expect(':');
    if (out.has(k)) bad(`its header gives key ${quote(k)} twice`);
    out.set(k, value());
    ws();
    if (text[i] === ',') { i++; ws(); continue; }
    if (text[i] !== '}') bad(`its header ${quote(text.trim())} is not a Python dict literal (expected ',' or '}' at character ${i})`);
  }
  i++;
  ws();
  if (i !== text.length) bad(`its header has ${quote(text.slice(i, i + 20))} after the dict`);
  return out;
}

export function parseNpy(bytes: Uint8Array, source = '<buffer>'): NpyArray {
  const bad = (why: string): never => { throw new StudioError('BAD_DATA', `Data file ${quote(source)} is not a valid .npy array: ${why}.`); };
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') bad('missing the \\x93NUMPY magic');
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen = 0;
  let headerStart = 0;
  if (major === 1) { headerLen = dv.getUint16(8, true); headerStart = 10; }
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) bad('it ends inside its header length');
    headerLen = dv.getUint32(8, true); headerStart = 12;
  } else bad(`unknown format version ${major}`);
  if (headerLen > NPY_MAX_HEADER_BYTES) bad(`its header is ${headerLen} bytes, over numpy's limit of ${NPY_MAX_HEADER_BYTES}`);
  if (headerStart + headerLen > bytes.length) bad(`its header says ${headerLen} bytes but the file ends after ${bytes.length - headerStart}`);
  // Versions 1 and 2 store the header in latin-1, version 3 in UTF-8 (as numpy reads them).
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const dict = parseHeaderDict(header, bad);
  const keys = [...dict.keys()].sort().join(',');
  if (keys !== 'descr,fortran_order,shape') bad(`its header has keys ${quote([...dict.keys()])}; numpy writes exactly 'descr', 'fortran_order' and 'shape'`);
  const descr = dict.get('descr'), fortran = dict.get('fortran_order'), shape = dict.get('shape');
  if (typeof descr !== 'string') bad(`its 'descr' ${quote(descr)} is not a dtype string`);
  if (typeof fortran !== 'boolean') bad(`its 'fortran_order' ${quote(fortran)} is not True or False`);
  if (!Array.isArray(shape)) bad(`its 'shape' ${quote(shape)} is not a tuple`);
  const dtype = descrToDtype[descr as string];
  if (!dtype) bad(`dtype ${quote(descr)} is not supported (use float32, float64, int64, int32, int8, uint8, bool or float16, little-endian)`);
  if (fortran === true) bad('Fortran-order arrays are not supported; save with np.ascontiguousarray');
  const dims = shape as number[];
  const itemSize = Number((descr as string).slice(2));
  const offset = headerStart + headerLen;
  const available = bytes.length - offset;
  // Multiply dimension by dimension against what the file holds, so a product that overflows (or a
  // huge count) is refused before any allocation; a zero dimension makes the array empty.
  let count = 1;
  if (!dims.includes(0)) {
    for (const d of dims) {
      count *= d;
      if (count * itemSize > available) bad(`it holds ${available} data bytes but shape [${dims.join(', ')}] needs ${count * itemSize > Number.MAX_SAFE_INTEGER ? 'more' : `at least ${count * itemSize}`} (${dtype} is ${itemSize} byte(s) each)`);
    }
  } else count = 0;
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
  return { dtype: dtype!, shape: dims, data: data! };
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
