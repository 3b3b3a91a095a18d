// TensorProto <-> typed arrays. Handles raw_data and the typed *_data fields, fp16/bf16, and
// 4-bit packed types. External data is read by ./external-data.
import { readSync, openSync, closeSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { create, DataType, DataLocation, TensorProtoSchema, type TensorProto } from './proto';
import { StudioError, quote } from '../errors';

export { DataType };

export type TypedArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

export function tensorDims(t: TensorProto): number[] {
  return t.dims.map((d) => Number(d));
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export const dataTypeName: Record<number, string> = {
  [DataType.FLOAT]: 'float32', [DataType.UINT8]: 'uint8', [DataType.INT8]: 'int8', [DataType.UINT16]: 'uint16',
  [DataType.INT16]: 'int16', [DataType.INT32]: 'int32', [DataType.INT64]: 'int64', [DataType.STRING]: 'string',
  [DataType.BOOL]: 'bool', [DataType.FLOAT16]: 'float16', [DataType.DOUBLE]: 'float64', [DataType.UINT32]: 'uint32',
  [DataType.UINT64]: 'uint64', [DataType.BFLOAT16]: 'bfloat16', [DataType.UINT4]: 'uint4', [DataType.INT4]: 'int4',
};

/** Raw little-endian bytes of a tensor, wherever they are stored (raw_data or external file). */
export function tensorRawBytes(t: TensorProto, baseDir?: string): Uint8Array | undefined {
  if (t.dataLocation === DataLocation.EXTERNAL) return readExternalBytes(t, baseDir);
  if (t.rawData && t.rawData.length > 0) return t.rawData;
  return undefined;
}

export function externalDataInfo(t: TensorProto): { location: string; offset: number; length?: number } {
  const kv = new Map(t.externalData.map((e) => [e.key, e.value]));
  const location = kv.get('location');
  if (!location) throw new StudioError('BAD_MODEL', `Tensor ${quote(t.name)} is marked external but names no location.`);
  return { location, offset: Number(kv.get('offset') ?? 0), length: kv.has('length') ? Number(kv.get('length')) : undefined };
}

function readExternalBytes(t: TensorProto, baseDir?: string): Uint8Array {
  const { location, offset, length } = externalDataInfo(t);
  if (isAbsolute(location) || normalize(location).startsWith('..')) {
    throw new StudioError('BAD_MODEL', `Tensor ${quote(t.name)} points its external data outside the model folder: ${quote(location)}.`);
  }
  if (!baseDir) throw new StudioError('BAD_MODEL', `Tensor ${quote(t.name)} has external data but the model's folder is unknown.`);
  const file = join(baseDir, location);
  const n = length ?? byteLengthOf(t);
  const buf = new Uint8Array(n);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new StudioError('NOT_FOUND', `External data file ${quote(file)} for tensor ${quote(t.name)} cannot be opened: ${(e as Error).message}`, { cause: e });
  }
  try {
    let got = 0;
    while (got < n) {
      const r = readSync(fd, buf, got, n - got, offset + got);
      if (r === 0) throw new StudioError('BAD_MODEL', `External data file ${quote(file)} ends before tensor ${quote(t.name)} (needs ${n} bytes at offset ${offset}).`);
      got += r;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

export function bytesPerElement(dataType: number): number {
  switch (dataType) {
    case DataType.FLOAT: case DataType.INT32: case DataType.UINT32: return 4;
    case DataType.DOUBLE: case DataType.INT64: case DataType.UINT64: return 8;
    case DataType.FLOAT16: case DataType.BFLOAT16: case DataType.INT16: case DataType.UINT16: return 2;
    case DataType.INT8: case DataType.UINT8: case DataType.BOOL: return 1;
    case DataType.INT4: case DataType.UINT4: return 0.5;
    default: throw new StudioError('BAD_MODEL', `Unsupported tensor data type ${dataType} (${dataTypeName[dataType] ?? 'unknown'}).`);
  }
}

function byteLengthOf(t: TensorProto): number {
  return Math.ceil(elementCount(tensorDims(t)) * bytesPerElement(t.dataType));
}

export function halfToFloat(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  let v: number;
  if (e === 0) v = f * 2 ** -24;
  else if (e === 0x1f) v = f ? NaN : Infinity;
  else v = (1 + f / 1024) * 2 ** (e - 15);
  return s ? -v : v;
}

// Every float16 bit pattern's float32 value, built on first use (256 KiB). A table look-up per value
// widens ~20x faster than halfToFloat per value, which dominated calibrating float16 models: a 1024²
// segmenter returns ~10^9 float16 activation values per calibration sample.
let halfTable: Float32Array | undefined;
/** float16 bits widened to float32 exactly (same values as halfToFloat). */
export function widenHalf(bits: ArrayLike<number>): Float32Array {
  if (!halfTable) { halfTable = new Float32Array(65536); for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h); }
  const t = halfTable, out = new Float32Array(bits.length);
  for (let i = 0; i < out.length; i++) out[i] = t[bits[i]! & 0xffff]!;
  return out;
}
/** bfloat16 bits widened to float32 exactly (the upper half of the float32 bits). */
export function widenBfloat16(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length), u = new Uint32Array(out.buffer);
  for (let i = 0; i < out.length; i++) u[i] = (bits[i]! & 0xffff) << 16;
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

function copyBytes(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Decode a tensor to its natural typed array (4-bit types unpack to Int8Array/Uint8Array, one value each). */
export function tensorToTypedArray(t: TensorProto, baseDir?: string): TypedArray {
  const n = elementCount(tensorDims(t));
  const raw = tensorRawBytes(t, baseDir);
  switch (t.dataType) {
    case DataType.FLOAT: return raw ? new Float32Array(copyBytes(raw)) : Float32Array.from(t.floatData);
    case DataType.DOUBLE: return raw ? new Float64Array(copyBytes(raw)) : Float64Array.from(t.doubleData);
    case DataType.INT32: return raw ? new Int32Array(copyBytes(raw)) : Int32Array.from(t.int32Data);
    case DataType.INT64: return raw ? new BigInt64Array(copyBytes(raw)) : BigInt64Array.from(t.int64Data.map((v) => BigInt(v)));
    case DataType.UINT64: return raw ? new BigUint64Array(copyBytes(raw)) : BigUint64Array.from(t.uint64Data.map((v) => BigInt(v)));
    case DataType.UINT32: return raw ? new Uint32Array(copyBytes(raw)) : Uint32Array.from(t.uint64Data.map((v) => Number(v)));
    case DataType.INT8: return raw ? new Int8Array(copyBytes(raw)) : Int8Array.from(t.int32Data);
    case DataType.UINT8: case DataType.BOOL: return raw ? new Uint8Array(copyBytes(raw)) : Uint8Array.from(t.int32Data);
    case DataType.INT16: return raw ? new Int16Array(copyBytes(raw)) : Int16Array.from(t.int32Data);
    case DataType.UINT16: case DataType.FLOAT16: case DataType.BFLOAT16:
      return raw ? new Uint16Array(copyBytes(raw)) : Uint16Array.from(t.int32Data);
    case DataType.INT4: case DataType.UINT4: {
      const signed = t.dataType === DataType.INT4;
      const packed = raw ?? Uint8Array.from(t.int32Data);
      const out = signed ? new Int8Array(n) : new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const nib = (packed[i >> 1]! >> ((i & 1) * 4)) & 0xf;
        out[i] = signed && nib >= 8 ? nib - 16 : nib;
      }
      return out;
    }
    default:
      throw new StudioError('BAD_MODEL', `Tensor ${quote(t.name)} has data type ${dataTypeName[t.dataType] ?? t.dataType}, which cannot be decoded to numbers.`);
  }
}

/** Decode any numeric tensor to float32 (fp16/bf16 widened, integers converted). */
export function tensorToFloat32(t: TensorProto, baseDir?: string): Float32Array {
  const a = tensorToTypedArray(t, baseDir);
  if (a instanceof Float32Array) return a;
  if (t.dataType === DataType.FLOAT16) return widenHalf(a as ArrayLike<number>);
  if (t.dataType === DataType.BFLOAT16) {
    return widenBfloat16(a as ArrayLike<number>);
  }
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
  return out;
}

function toRaw(a: TypedArray): Uint8Array<ArrayBuffer> {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) as ArrayBuffer);
}

export function makeTensor(name: string, dataType: number, dims: readonly number[], data: TypedArray): TensorProto {
  const n = elementCount(dims);
  let rawData: Uint8Array<ArrayBuffer>;
  if (dataType === DataType.INT4 || dataType === DataType.UINT4) {
    if (data.length !== n) throw new StudioError('INTERNAL', `Tensor ${quote(name)}: ${data.length} values for shape [${dims.join(',')}].`);
    rawData = packNibbles(data as Int8Array | Uint8Array);
  } else {
    if (data.length !== n) throw new StudioError('INTERNAL', `Tensor ${quote(name)}: ${data.length} values for shape [${dims.join(',')}].`);
    rawData = toRaw(data);
  }
  return create(TensorProtoSchema, { name, dataType, dims: dims.map((d) => BigInt(d)), rawData });
}

/** Two 4-bit values per byte, low nibble first (ONNX INT4/UINT4 layout). */
export function packNibbles(values: ArrayLike<number>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) out[i >> 1]! |= (values[i]! & 0xf) << ((i & 1) * 4);
  return out;
}

export const floatTensor = (name: string, dims: readonly number[], data: Float32Array) => makeTensor(name, DataType.FLOAT, dims, data);
export const int8Tensor = (name: string, dims: readonly number[], data: Int8Array) => makeTensor(name, DataType.INT8, dims, data);
export const uint8Tensor = (name: string, dims: readonly number[], data: Uint8Array) => makeTensor(name, DataType.UINT8, dims, data);
export const int32Tensor = (name: string, dims: readonly number[], data: Int32Array) => makeTensor(name, DataType.INT32, dims, data);
export const int64Tensor = (name: string, dims: readonly number[], data: BigInt64Array) => makeTensor(name, DataType.INT64, dims, data);

/** float32 -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN). */
export function floatToBfloat16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return ((b >>> 16) | 0x40) & 0xffff;
  const lsb = (b >>> 16) & 1;
  return ((b + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function bfloat16ToFloat(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** A float tensor stored as float32, float16, bfloat16 or float64 (fp16/bf16 rounded to nearest even). */
export function makeFloatTensor(name: string, dataType: number, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  switch (dataType) {
    case DataType.FLOAT: return makeTensor(name, dataType, dims, Float32Array.from(values));
    case DataType.DOUBLE: return makeTensor(name, dataType, dims, Float64Array.from(values));
    case DataType.FLOAT16: return makeTensor(name, dataType, dims, Uint16Array.from(values, floatToHalf));
    case DataType.BFLOAT16: return makeTensor(name, dataType, dims, Uint16Array.from(values, floatToBfloat16));
    default: throw new StudioError('BAD_ARGUMENT', `Tensor ${quote(name)}: data type ${dataTypeName[dataType] ?? dataType} is not a float type.`);
  }
}

/** Whether a tensor holds floating-point values (the kinds of weights we quantize). */
export function isFloatType(dataType: number): boolean {
  return dataType === DataType.FLOAT || dataType === DataType.FLOAT16 || dataType === DataType.BFLOAT16 || dataType === DataType.DOUBLE;
}
