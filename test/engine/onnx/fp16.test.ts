// fp16 / bf16 weights: our encoders round exactly as ORT's Cast does (nearest even, subnormals,
// overflow to Inf), and decoding widens exactly.
import { describe, it, expect } from 'vitest';
import { ort, openSession } from '../../helpers/ort';
import { create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, AttributeProtoSchema, AttributeType } from '../../../engine/onnx/proto';
import { serializeModel, loadModel } from '../../../engine/onnx/model-io';
import { DataType, floatToHalf, halfToFloat, floatToBfloat16, bfloat16ToFloat, makeFloatTensor, tensorToFloat32 } from '../../../engine/onnx/tensor';
import { models } from '../../helpers/shared';
import { valueInfo } from '../../fixtures/value-info';

const cast = (i: string, o: string, to: number) => create(NodeProtoSchema, { opType: 'Cast', input: [i], output: [o], attribute: [create(AttributeProtoSchema, { name: 'to', type: AttributeType.INT, i: BigInt(to) })] });

describe('fp16 / bf16', () => {
  it('round-trips through ORT Cast bit-exactly on real weights and edge values', async () => {
    const { model } = await loadModel(models.cnn);
    const weights = model.graph!.initializer.flatMap((t) => Array.from(tensorToFloat32(t)));
    const edges = [0, -0, 1, -1, 65504, 65519, 65520, 1e6, -1e6, 6.1e-5, 5.96e-8, 2.98e-8, 1e-10, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 3.3895314e38, 1.00390625, 1.01171875];
    const x = Float32Array.from([...weights, ...edges]);
    const graph = create(GraphProtoSchema, {
      name: 'casts', input: [valueInfo('x')], output: [valueInfo('h'), valueInfo('b')],
      node: [cast('x', 'x16', DataType.FLOAT16), cast('x16', 'h', DataType.FLOAT), cast('x', 'xb', DataType.BFLOAT16), cast('xb', 'b', DataType.FLOAT)],
    });
    const s = await openSession(serializeModel(create(ModelProtoSchema, { irVersion: 8n, opsetImport: [{ domain: '', version: 17n }], graph })));
    const r = await s.run({ x: new ort.Tensor('float32', x, [x.length]) });
    const h = r.h!.data as Float32Array, b = r.b!.data as Float32Array;
    let mismatches = 0;
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(Math.fround(halfToFloat(floatToHalf(x[i]!))), h[i]!)) mismatches++;
      if (!Object.is(bfloat16ToFloat(floatToBfloat16(x[i]!)), b[i]!)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(x.length).toBeGreaterThan(100_000);
  });

  it('makeFloatTensor stores fp16/bf16 and tensorToFloat32 widens them back', () => {
    const v = [0.1, -2.5, 1000.3, 3e-6];
    const h = makeFloatTensor('w16', DataType.FLOAT16, [2, 2], v);
    const b = makeFloatTensor('wb', DataType.BFLOAT16, [4], v);
    expect(h.rawData.length).toBe(8);
    expect(Array.from(tensorToFloat32(h))).toEqual(v.map((x) => Math.fround(halfToFloat(floatToHalf(x)))));
    expect(Array.from(tensorToFloat32(b))).toEqual(v.map((x) => bfloat16ToFloat(floatToBfloat16(x))));
    expect(() => makeFloatTensor('bad', DataType.INT8, [1], [1])).toThrow(/bad.*int8/);
  });
});
