// NaN through QuantizeLinear: what onnxruntime stores (run here, Q then DQ so 4-bit results come back
// as floats) is what every reference in the tree gives — the engine's quantizeValues, the QAT
// weight quantizer, the native kernels' TypeScript twin and the native addon itself.
import { describe, it, expect } from 'vitest';
import { create, ModelProtoSchema, GraphProtoSchema, OperatorSetIdProtoSchema, toBinary } from '../../../../engine/onnx/proto';
import { DataType, makeTensor } from '../../../../engine/onnx/tensor';
import { makeNode } from '../../../../engine/onnx/graph';
import { valueInfo } from '../../../../engine/qat/onnx-build';
import { createSession, ort } from '../../../../engine/runtime/session';
import { quantizeValues } from '../../../../engine/quant/math/quantize';
import { DTYPES } from '../../../../engine/core/dtypes';
import { quantizeWeightInts } from '../../../../engine/qat/fake-quant';
import { quantizeRef } from '../../../../native-kernels/lib/reference/quantize';
import * as nk from '../../../../native-kernels/lib/index';

const SCALE = 0.5;
// Non-NaN values around the NaNs show the zero point and saturation still apply where they should.
const X = Float32Array.of(NaN, 1, NaN, -1000, NaN, 1000, 0, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, 2.5, NaN);

/** ORT's stored integers for X: QuantizeLinear → DequantizeLinear, read back as q = y / scale + zp. */
async function ortQuantize(dtype: 'int8' | 'uint8' | 'int4' | 'uint4', zp: number): Promise<number[]> {
  const row = DTYPES[dtype];
  const zpArr = row.signed ? Int8Array.of(zp) : Uint8Array.of(zp);
  const n = X.length;
  const graph = create(GraphProtoSchema, {
    name: 'nan',
    node: [makeNode('QuantizeLinear', ['x', 's', 'z'], ['q'], 'q'), makeNode('DequantizeLinear', ['q', 's', 'z'], ['y'], 'dq')],
    initializer: [makeTensor('s', DataType.FLOAT, [], Float32Array.of(SCALE)), makeTensor('z', row.onnxType, [], zpArr)],
    input: [valueInfo('x', DataType.FLOAT, [n])],
    output: [valueInfo('y', DataType.FLOAT, [n])],
  });
  const opset = row.bits === 4 ? 21 : 13;
  const model = create(ModelProtoSchema, { irVersion: 10n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(opset) })], graph });
  const s = await createSession(toBinary(ModelProtoSchema, model), { device: 'cpu' });
  try {
    const out = await s.run({ x: new ort.Tensor('float32', X, [n]) });
    return Array.from(out.y!.data as Float32Array, (y) => Math.round(y / SCALE) + zp);
  } finally {
    await s.release();
  }
}

describe('QuantizeLinear of NaN', () => {
  for (const [dtype, zps] of [['int8', [0, 5, -3]], ['uint8', [0, 128, 7]], ['int4', [0, 3]], ['uint4', [0, 8]]] as const) {
    for (const zp of zps) {
      it(`${dtype}, zero point ${zp}: every reference stores what onnxruntime stores (qmin for NaN)`, async () => {
        const { qmin, qmax, signed, bits } = DTYPES[dtype];
        const want = await ortQuantize(dtype, zp);
        // What ORT does, stated: NaN saturates low whatever the zero point.
        X.forEach((x, i) => { if (Number.isNaN(x)) expect(want[i]).toBe(qmin); });
        expect(want[1]).toBe(Math.min(qmax, 2 + zp));

        const params = { dtype, scheme: 'asymmetric' as const, scale: Float32Array.of(SCALE), zeroPoint: Int32Array.of(zp), qmin, qmax };
        expect(Array.from(quantizeValues(X, [X.length], params))).toEqual(want);
        expect(Array.from(quantizeWeightInts(X, { name: 'w', dims: [X.length], params, slot: new Int32Array(X.length) }))).toEqual(want);

        // The native kernels' TypeScript twin and the addon: bytes (4-bit packed, low nibble first).
        const L = { outer: 1, axisLen: 1, inner: X.length, block: 0 };
        const bytes = quantizeRef(X, L, Float32Array.of(SCALE), Int32Array.of(zp), qmin, qmax, bits === 4 ? 4 : 8);
        const unpack = (b: Uint8Array) => Array.from(X, (_x, i) => {
          const raw = bits === 4 ? (b[i >> 1]! >> ((i & 1) * 4)) & 0xf : b[i]!;
          const width = bits === 4 ? 4 : 8;
          return signed && raw >= 2 ** (width - 1) ? raw - 2 ** width : raw;
        });
        expect(unpack(bytes)).toEqual(want);
        if (nk.nativeAvailable()) {
          const q = nk.quantizeLinearSync(X, { dtype, scale: SCALE, zeroPoint: zp });
          expect(unpack(new Uint8Array(q.buffer, q.byteOffset, q.byteLength))).toEqual(want);
        }
      }, 30_000);
    }
  }
});
