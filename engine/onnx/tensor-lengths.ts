// Every tensor a model stores (initializers and Constant/attribute tensors, subgraphs included) must
// hold exactly the data its dims and data type declare. Checked when a model is parsed, so that no
// later code — statistics, histograms, per-channel walks, calibration — ever trusts a declared size
// the bytes do not back: a 688-byte file declaring a [1e6, 1e6] float weight with 64 floats would
// otherwise send a loop through 10^12 elements. onnxruntime refuses such tensors too, but only when
// a session is created, and the studio reads weights without one.
import { statSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { DataType, DataLocation, type ModelProto, type TensorProto, type GraphProto } from './proto';
import { dataTypeName } from './tensor';
import { StudioError, quote } from '../errors';

/** Bytes per element in raw_data (and external data); 4- and 2-bit types are packed. Types not listed
 *  (new ones) are left to onnxruntime. */
const RAW_BYTES: Partial<Record<number, number>> = {
  [DataType.FLOAT]: 4, [DataType.UINT8]: 1, [DataType.INT8]: 1, [DataType.UINT16]: 2, [DataType.INT16]: 2,
  [DataType.INT32]: 4, [DataType.INT64]: 8, [DataType.BOOL]: 1, [DataType.FLOAT16]: 2, [DataType.DOUBLE]: 8,
  [DataType.UINT32]: 4, [DataType.UINT64]: 8, [DataType.COMPLEX64]: 8, [DataType.COMPLEX128]: 16,
  [DataType.BFLOAT16]: 2, [DataType.FLOAT8E4M3FN]: 1, [DataType.FLOAT8E4M3FNUZ]: 1, [DataType.FLOAT8E5M2]: 1,
  [DataType.FLOAT8E5M2FNUZ]: 1, [DataType.FLOAT8E8M0]: 1, [DataType.UINT4]: 0.5, [DataType.INT4]: 0.5,
  [DataType.FLOAT4E2M1]: 0.5, [DataType.UINT2]: 0.25, [DataType.INT2]: 0.25,
};

type TypedField = 'floatData' | 'int32Data' | 'stringData' | 'int64Data' | 'doubleData' | 'uint64Data';

/** Which typed field holds a type's values, and how many entries n elements take (ONNX's TensorProto
 *  comments: complex numbers take two entries, 4-bit types are packed two per int32_data entry). */
function typedField(dataType: number, n: number): { field: TypedField; count: number } | undefined {
  switch (dataType) {
    case DataType.FLOAT: return { field: 'floatData', count: n };
    case DataType.COMPLEX64: return { field: 'floatData', count: 2 * n };
    case DataType.DOUBLE: return { field: 'doubleData', count: n };
    case DataType.COMPLEX128: return { field: 'doubleData', count: 2 * n };
    case DataType.INT64: return { field: 'int64Data', count: n };
    case DataType.UINT32: case DataType.UINT64: return { field: 'uint64Data', count: n };
    case DataType.STRING: return { field: 'stringData', count: n };
    case DataType.UINT4: case DataType.INT4: case DataType.FLOAT4E2M1: return { field: 'int32Data', count: Math.ceil(n / 2) };
    case DataType.UINT2: case DataType.INT2: return { field: 'int32Data', count: Math.ceil(n / 4) };
    case DataType.INT32: case DataType.INT16: case DataType.INT8: case DataType.UINT16: case DataType.UINT8: case DataType.BOOL:
    case DataType.FLOAT16: case DataType.BFLOAT16: case DataType.FLOAT8E4M3FN: case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2: case DataType.FLOAT8E5M2FNUZ: case DataType.FLOAT8E8M0:
      return { field: 'int32Data', count: n };
    default: return undefined;
  }
}

const FIELD_NAMES: Record<TypedField, string> = {
  floatData: 'float_data', int32Data: 'int32_data', stringData: 'string_data', int64Data: 'int64_data', doubleData: 'double_data', uint64Data: 'uint64_data',
};

/** A tensor found in a model, and how messages name it. */
interface Found { t: TensorProto; where: string }

/** Initializers and attribute tensors of every graph, subgraphs included — walked with an explicit
 *  stack, since a hostile file can nest subgraphs deeper than the JS stack. */
function modelTensors(model: ModelProto): Found[] {
  const out: Found[] = [];
  const graphs: GraphProto[] = model.graph ? [model.graph] : [];
  while (graphs.length) {
    const g = graphs.pop()!;
    for (const t of g.initializer) out.push({ t, where: `initializer ${quote(t.name)}` });
    for (const n of g.node) {
      for (const a of n.attribute) {
        const node = `${n.opType} node ${quote(n.name || n.output[0] || '')}`;
        if (a.t) out.push({ t: a.t, where: `tensor of ${node} (attribute ${quote(a.name)})` });
        for (const t of a.tensors) out.push({ t, where: `tensor of ${node} (attribute ${quote(a.name)})` });
        if (a.g) graphs.push(a.g);
        for (const sub of a.graphs) graphs.push(sub);
      }
    }
  }
  return out;
}

/** Element count of `dims`, refusing negative, non-integer or overflowing sizes. */
function checkedCount(f: Found, source: string): number {
  let n = 1;
  for (const d of f.t.dims) {
    const v = Number(d);
    if (!Number.isSafeInteger(v) || v < 0) throw bad(source, f, `has dimension ${String(d)}, which is not a size`);
    n *= v;
    if (!Number.isSafeInteger(n)) throw bad(source, f, `declares dims [${f.t.dims.join(', ')}]: ${'more than 2^53'} elements`);
  }
  return n;
}

function bad(source: string, f: Found, why: string): StudioError {
  return new StudioError('BAD_MODEL', `Model ${quote(source)}: ${f.where} ${why}; the file is corrupt or was cut short.`);
}

const typeName = (t: TensorProto) => dataTypeName[t.dataType] ?? `data type ${t.dataType}`;

/** Check that every tensor in `model` holds the bytes (or typed values) its dims and data type
 *  declare; for external tensors, that the declared length matches and — when `baseDir` is given and
 *  the data file is there — that the file is long enough. Throws BAD_MODEL naming the tensor. */
export function checkTensorLengths(model: ModelProto, source: string, baseDir?: string): void {
  const sizes = new Map<string, number | undefined>();
  for (const f of modelTensors(model)) {
    const t = f.t;
    const n = checkedCount(f, source);
    const per = RAW_BYTES[t.dataType];
    const shape = `${typeName(t)} [${t.dims.join(', ')}]`;
    if (t.dataLocation === DataLocation.EXTERNAL) {
      if (per === undefined) continue;
      const expected = Math.ceil(n * per);
      const kv = new Map(t.externalData.map((e) => [e.key, e.value]));
      const offset = Number(kv.get('offset') ?? 0);
      if (!Number.isSafeInteger(offset) || offset < 0) throw bad(source, f, `has external data offset ${quote(kv.get('offset'))}, which is not a byte offset`);
      if (kv.has('length')) {
        const length = Number(kv.get('length'));
        if (!Number.isSafeInteger(length) || length < 0) throw bad(source, f, `has external data length ${quote(kv.get('length'))}, which is not a byte count`);
        if (length !== expected) throw bad(source, f, `is ${shape} (${expected} bytes) but its external data length is ${length}`);
      }
      const location = kv.get('location');
      if (!baseDir || !location || isAbsolute(location) || normalize(location).startsWith('..')) continue;
      const file = join(baseDir, location);
      if (!sizes.has(file)) { try { sizes.set(file, statSync(file).size); } catch { sizes.set(file, undefined); } }
      const size = sizes.get(file);
      if (size !== undefined && offset + expected > size) {
        throw bad(source, f, `is ${shape} (${expected} bytes at offset ${offset}) but its external data file ${quote(location)} is ${size} bytes`);
      }
      continue;
    }
    if (t.rawData.length > 0) {
      if (per === undefined || t.dataType === DataType.STRING) {
        if (t.dataType === DataType.STRING) throw bad(source, f, 'is a string tensor with raw_data (strings are stored in string_data)');
        continue;
      }
      const expected = Math.ceil(n * per);
      if (t.rawData.length !== expected) throw bad(source, f, `is ${shape}, which takes ${expected} bytes, but its raw_data holds ${t.rawData.length}`);
      continue;
    }
    const typed = typedField(t.dataType, n);
    if (!typed) continue;
    const have = t[typed.field].length;
    if (have !== typed.count) {
      throw bad(source, f, n > 0 && have === 0 && totalTyped(t) === 0
        ? `is ${shape} (${n} element(s)) but holds no data`
        : `is ${shape}, which takes ${typed.count} ${FIELD_NAMES[typed.field]} value(s), but holds ${have}`);
    }
  }
}

function totalTyped(t: TensorProto): number {
  return t.floatData.length + t.int32Data.length + t.stringData.length + t.int64Data.length + t.doubleData.length + t.uint64Data.length;
}
