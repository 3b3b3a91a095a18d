// Bit-exact against the ONNX conformance cases that Debian's libonnx-testdata ships: the inputs and
// expected outputs are real TensorProtos, read with our own schema.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseModel } from '../../../../engine/onnx/model-io';
import { fromBinary, TensorProtoSchema, type NodeProto } from '../../../../engine/onnx/proto';
import { tensorToTypedArray, tensorDims, DataType } from '../../../../engine/onnx/tensor';
import { quantizeValues, dequantizeValues } from '../../../../engine/quant/math/quantize';
import { computeQParams, type QuantParams, type QDType } from '../../../../engine/quant/math/qparams';
import { matMulInteger, convInteger, requantize, requantMultiplier } from '../../../../engine/quant/math/integer-ops';

const ROOT = '/usr/share/libonnx-testdata/data/node';
const have = existsSync(ROOT);

interface Case { name: string; node: NodeProto; inputs: { dtype: number; dims: number[]; data: number[] }[]; outputs: { dtype: number; dims: number[]; data: number[] }[] }

function loadCase(name: string): Case[] {
  const dir = join(ROOT, name);
  const model = parseModel(readFileSync(join(dir, 'model.onnx')), name);
  const node = model.graph!.node.find((n) => !['Constant', 'Identity'].includes(n.opType))!;
  return readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).map((set) => {
    const read = (prefix: string) => readdirSync(join(dir, set)).filter((f) => f.startsWith(prefix)).sort().map((f) => {
      const t = fromBinary(TensorProtoSchema, readFileSync(join(dir, set, f)));
      return { dtype: t.dataType, dims: tensorDims(t), data: Array.from(tensorToTypedArray(t) as ArrayLike<number>, Number) };
    });
    return { name: `${name}/${set}`, node, inputs: read('input_'), outputs: read('output_') };
  });
}

const dtypeOf = (onnxType: number): QDType | undefined =>
  onnxType === DataType.UINT8 ? 'uint8' : onnxType === DataType.INT8 ? 'int8' : onnxType === DataType.INT4 ? 'int4' : onnxType === DataType.UINT4 ? 'uint4' : undefined;

function attr(node: NodeProto, name: string): number | undefined {
  const a = node.attribute.find((x) => x.name === name);
  return a ? Number(a.i) : undefined;
}
const attrInts = (node: NodeProto, name: string) => node.attribute.find((x) => x.name === name)?.ints.map(Number);

function paramsFrom(dtype: QDType, dataDims: number[], scale: number[], zp: number[], node: NodeProto): QuantParams {
  const info = computeQParams(0, 1, { dtype, scheme: 'asymmetric' }); // qmin/qmax of the dtype
  const p: QuantParams = { dtype, scheme: 'asymmetric', scale: Float32Array.from(scale), zeroPoint: Int32Array.from(zp), qmin: info.qmin, qmax: info.qmax };
  if (scale.length > 1) p.axis = attr(node, 'axis') ?? 1;
  const bs = attr(node, 'block_size');
  if (bs) { p.axis = attr(node, 'axis') ?? 1; p.blockSize = bs; }
  void dataDims;
  return p;
}

const cases = have ? readdirSync(ROOT).filter((n) => /^test_(quantizelinear|dequantizelinear|dynamicquantizelinear|qlinearmatmul|qlinearconv|matmulinteger|convinteger|basic_convinteger)/.test(n) && !n.endsWith('_expanded')) : [];

describe.skipIf(!have)('ONNX conformance (libonnx-testdata)', () => {
  it('finds the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(13);
  });

  for (const name of cases) {
    for (const c of have ? loadCase(name) : []) {
      const unsupported = [...c.inputs, ...c.outputs].find((t) => ![DataType.FLOAT, DataType.INT32, DataType.UINT8, DataType.INT8, DataType.INT4, DataType.UINT4].includes(t.dtype));
      // Float8/float16 variants (newer ONNX releases ship them) are outside what we quantize to.
      it.skipIf(unsupported !== undefined)(`${c.name} (${c.node.opType})${unsupported ? ` skipped: dtype ${unsupported.dtype} not supported` : ''}`, () => {
        runCase(c);
      });
    }
  }
});

function runCase(c: Case): void {
  const [x, s, z, ...rest] = c.inputs;
  const out = c.outputs[0]!;
  switch (c.node.opType) {
    case 'QuantizeLinear': {
      const dtype = dtypeOf(z?.dtype ?? DataType.UINT8)!;
      const p = paramsFrom(dtype, x!.dims, s!.data, z?.data ?? [0], c.node);
      expect(Array.from(quantizeValues(x!.data, x!.dims, p))).toEqual(out.data);
      return;
    }
    case 'DequantizeLinear': {
      const dtype = dtypeOf(x!.dtype)!;
      const p = paramsFrom(dtype, x!.dims, s!.data, z?.data ?? [0], c.node);
      expect(Array.from(dequantizeValues(x!.data, x!.dims, p))).toEqual(out.data);
      return;
    }
    case 'DynamicQuantizeLinear': {
      // uint8 asymmetric over [min(x,0), max(x,0)]: exactly our asymmetric computeQParams.
      let mn = Infinity, mx = -Infinity;
      for (const v of x!.data) { mn = Math.min(mn, v); mx = Math.max(mx, v); }
      const p = computeQParams(mn, mx, { dtype: 'uint8', scheme: 'asymmetric' });
      expect(p.scale[0]).toBe(Math.fround(c.outputs[1]!.data[0]!));
      expect(p.zeroPoint[0]).toBe(c.outputs[2]!.data[0]);
      expect(Array.from(quantizeValues(x!.data, x!.dims, p))).toEqual(out.data);
      return;
    }
    case 'MatMulInteger': {
      const [a, b, az, bz] = c.inputs;
      const r = matMulInteger(a!, b!, az?.data, bz?.data);
      expect(r.dims).toEqual(out.dims);
      expect(Array.from(r.data)).toEqual(out.data);
      return;
    }
    case 'ConvInteger': {
      const [xx, w, xz, wz] = c.inputs;
      const r = convInteger(xx!, w!, xz?.data, wz?.data, { pads: attrInts(c.node, 'pads'), strides: attrInts(c.node, 'strides'), dilations: attrInts(c.node, 'dilations'), group: attr(c.node, 'group') });
      expect(r.dims).toEqual(out.dims);
      expect(Array.from(r.data)).toEqual(out.data);
      return;
    }
    case 'QLinearMatMul': {
      const [a, as, az, b, bs, bz, ys, yz] = c.inputs;
      const acc = matMulInteger(a!, b!, az!.data, bz!.data);
      const dtype = dtypeOf(yz!.dtype)!;
      const { qmin, qmax } = computeQParams(0, 1, { dtype, scheme: 'asymmetric' });
      const q = requantize(acc, requantMultiplier(as!.data[0]!, bs!.data, ys!.data[0]!), yz!.data[0]!, qmin, qmax, acc.dims.length - 1);
      expect(Array.from(q)).toEqual(out.data);
      return;
    }
    case 'QLinearConv': {
      const [xx, xs, xz, w, ws, wz, ys, yz, bias] = c.inputs;
      void rest;
      const acc = convInteger(xx!, w!, xz!.data, wz!.data, { pads: attrInts(c.node, 'pads'), strides: attrInts(c.node, 'strides'), dilations: attrInts(c.node, 'dilations'), group: attr(c.node, 'group') });
      const dtype = dtypeOf(yz!.dtype)!;
      const { qmin, qmax } = computeQParams(0, 1, { dtype, scheme: 'asymmetric' });
      const q = requantize(acc, requantMultiplier(xs!.data[0]!, ws!.data, ys!.data[0]!), yz!.data[0]!, qmin, qmax, 1, bias?.data);
      expect(Array.from(q)).toEqual(out.data);
      return;
    }
    default:
      throw new Error(`no runner for ${c.node.opType}`);
  }
}
