// Our reference against onnxruntime's own QuantizeLinear/DequantizeLinear kernels, on inputs full
// of exact ties (x = (k + 0.5)·scale) and out-of-range values: per tensor, per axis and opset-21 blocks.
import { describe, it, expect } from 'vitest';
import { ort, openSession } from '../../../helpers/ort';
import { create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, AttributeProtoSchema, AttributeType, type TensorProto } from '../../../../engine/onnx/proto';
import { serializeModel } from '../../../../engine/onnx/model-io';
import { DataType } from '../../../../engine/onnx/tensor';
import { quantizeValues, dequantizeValues } from '../../../../engine/quant/math/quantize';
import { computeQParams, type QuantParams, type QDType } from '../../../../engine/quant/math/qparams';
import { paramTensors, onnxDataTypeOf } from '../../../../engine/quant/math/storage';
import { minMaxPerParam } from '../../../../engine/quant/math/layout';
import { valueInfo } from '../../../fixtures/value-info';


function qdqModel(params: QuantParams, dims: number[], opset: number): Uint8Array {
  const { scale, zeroPoint } = paramTensors('x', params, dims);
  const attrs = [];
  if (params.axis !== undefined) attrs.push(create(AttributeProtoSchema, { name: 'axis', type: AttributeType.INT, i: BigInt(params.axis) }));
  if (params.blockSize !== undefined) attrs.push(create(AttributeProtoSchema, { name: 'block_size', type: AttributeType.INT, i: BigInt(params.blockSize) }));
  const inits: TensorProto[] = [scale, zeroPoint];
  const graph = create(GraphProtoSchema, {
    name: 'qdq',
    node: [
      create(NodeProtoSchema, { opType: 'QuantizeLinear', input: ['x', scale.name, zeroPoint.name], output: ['q'], attribute: attrs }),
      create(NodeProtoSchema, { opType: 'DequantizeLinear', input: ['q', scale.name, zeroPoint.name], output: ['y'], attribute: attrs }),
      create(NodeProtoSchema, { opType: 'Cast', input: ['q'], output: ['q32'], attribute: [create(AttributeProtoSchema, { name: 'to', type: AttributeType.INT, i: BigInt(DataType.INT32) })] }),
    ],
    initializer: inits,
    input: [valueInfo('x', DataType.FLOAT)],
    output: [valueInfo('q32', DataType.INT32), valueInfo('y', DataType.FLOAT)],
  });
  return serializeModel(create(ModelProtoSchema, { irVersion: 10n, opsetImport: [{ domain: '', version: BigInt(opset) }], graph }));
}

/** Values on exact half-steps of their own scale plus saturating outliers. */
function tieHeavy(dims: number[], seed: number): Float32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = ((s >>> 8) % 400 - 200) / 16 + (i % 7 === 0 ? 0.03125 : 0); // multiples of 1/16: many ties
  }
  out[0] = 1e6; out[1] = -1e6;
  return out;
}

const CASES: { label: string; dtype: QDType; scheme: 'symmetric' | 'asymmetric'; dims: number[]; axis?: number; blockSize?: number; opset: number }[] = [
  { label: 'uint8 per tensor', dtype: 'uint8', scheme: 'asymmetric', dims: [4, 33], opset: 13 },
  { label: 'int8 per axis 1', dtype: 'int8', scheme: 'symmetric', dims: [3, 8, 5], axis: 1, opset: 13 },
  { label: 'uint8 per axis 0 asym', dtype: 'uint8', scheme: 'asymmetric', dims: [6, 10], axis: 0, opset: 13 },
  { label: 'int4 blocked axis 1 (ragged)', dtype: 'int4', scheme: 'symmetric', dims: [5, 37], axis: 1, blockSize: 16, opset: 21 },
  { label: 'uint4 blocked axis 0', dtype: 'uint4', scheme: 'asymmetric', dims: [40, 6], axis: 0, blockSize: 32, opset: 21 },
  { label: 'int8 blocked axis 0', dtype: 'int8', scheme: 'asymmetric', dims: [9, 4], axis: 0, blockSize: 4, opset: 21 },
];

describe('reference QDQ vs onnxruntime', () => {
  for (const c of CASES) {
    it(`${c.label}: bit-exact integers and dequantized floats`, async () => {
      const x = tieHeavy(c.dims, c.dims[0]! * 31 + (c.blockSize ?? 1));
      // Ranges from the values without the two outliers, so saturation is exercised.
      const inRange = x.slice(); inRange[0] = 0; inRange[1] = 0;
      const { min, max } = minMaxPerParam(inRange, c.dims, c.axis, c.blockSize);
      const params = c.axis === undefined
        ? computeQParams(min[0]!, max[0]!, { dtype: c.dtype, scheme: c.scheme })
        : computeQParams(min, max, { dtype: c.dtype, scheme: c.scheme, axis: c.axis, blockSize: c.blockSize });
      // Power-of-two scales put many x/scale exactly on k + 0.5: the ties-to-even path is exercised.
      for (let i = 0; i < params.scale.length; i++) params.scale[i] = 2 ** Math.round(Math.log2(params.scale[i]!));
      if (c.axis === undefined) {
        const ties = Array.from(x).filter((v) => { const r = v / params.scale[0]!; return r - Math.floor(r) === 0.5; }).length;
        expect(ties).toBeGreaterThan(20);
      }
      expect(onnxDataTypeOf(c.dtype)).toBeGreaterThan(0);
      const session = await openSession(qdqModel(params, c.dims, c.opset));
      const r = await session.run({ x: new ort.Tensor('float32', x, c.dims) });
      const ours = quantizeValues(x, c.dims, params);
      expect(Array.from(r.q32!.data as Int32Array)).toEqual(Array.from(ours));
      expect(Array.from(r.y!.data as Float32Array)).toEqual(Array.from(dequantizeValues(ours, c.dims, params)));
      expect(ours.some((v) => v === params.qmax) && ours.some((v) => v === params.qmin)).toBe(true);
    });
  }
});
