// Joins and pools in a float16 graph (float32 I/O, float16 inside, as IMG.LY's ISNet ships): ORT fuses
// Q/DQ around Concat/Add/AveragePool into QLinearConcat/QLinearAdd/QLinearAveragePool, whose scales
// must be float32, so float16 values there keep no shared or own scale. Before, the output did not
// load ("Type 'tensor(float16)' of input parameter (…_scale) of operator (QLinearConcat) … is invalid").
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttributeProtoSchema, create, ModelProtoSchema, GraphProtoSchema, ValueInfoProtoSchema, TypeProtoSchema, TypeProto_TensorSchema, TensorShapeProtoSchema, TensorShapeProto_DimensionSchema, OperatorSetIdProtoSchema, DataType, type ModelProto } from '../../../engine/onnx/proto';
import { saveModel } from '../../../engine/onnx/model-io';
import { floatTensor } from '../../../engine/onnx/tensor';
import { makeNode } from '../../../engine/onnx/graph';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { planQdq } from '../../../engine/export/qdq-plan';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { convertToFloat16 } from '../../fixtures/model-variants';

const dir = mkdtempSync(join(tmpdir(), 'qs-joins-fp16-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function rng(seed: number) { return () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32 - 0.5; }; }
const vi = (name: string, dims: (number | string)[]) => create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: DataType.FLOAT, shape: create(TensorShapeProtoSchema, { dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d } })) }) }) } }) });

/** Two Conv+Relu branches joined by Concat and by Add, each read by a Conv; an AveragePool read by a Conv. */
function joins(): ModelProto {
  const r = rng(7);
  const w = (name: string, o: number, i: number) => floatTensor(name, [o, i, 3, 3], Float32Array.from({ length: o * i * 9 }, () => r() * 0.4));
  const b = (name: string, o: number) => floatTensor(name, [o], Float32Array.from({ length: o }, () => r() * 0.1));
  const conv = (name: string, x: string, wn: string, bn: string, y: string) => makeNode('Conv', [x, wn, bn], [y], name, [create(AttributeProtoSchema, { name: 'pads', type: 7, ints: [1n, 1n, 1n, 1n] })]);
  return create(ModelProtoSchema, {
    irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph: create(GraphProtoSchema, {
      name: 'joins', input: [vi('x', ['N', 4, 8, 8])], output: [vi('y', ['N', 8, 8, 8]), vi('z', ['N', 8, 8, 8]), vi('p', ['N', 8, 8, 8])],
      initializer: [w('wa', 8, 4), b('ba', 8), w('wb', 8, 4), b('bb', 8), w('wc', 8, 16), b('bc', 8), w('wd', 8, 8), b('bd', 8), w('we', 8, 8), b('be', 8)],
      node: [
        conv('convA', 'x', 'wa', 'ba', 'a'), makeNode('Relu', ['a'], ['ar'], 'reluA'),
        conv('convB', 'x', 'wb', 'bb', 'b'), makeNode('Relu', ['b'], ['br'], 'reluB'),
        makeNode('Concat', ['ar', 'br'], ['cat'], 'cat', [create(AttributeProtoSchema, { name: 'axis', type: 2, i: 1n })]),
        conv('convC', 'cat', 'wc', 'bc', 'y'),
        makeNode('Add', ['ar', 'br'], ['sum'], 'add'),
        conv('convD', 'sum', 'wd', 'bd', 'z'),
        makeNode('AveragePool', ['ar'], ['pool'], 'pool', [create(AttributeProtoSchema, { name: 'kernel_shape', type: 7, ints: [3n, 3n] }), create(AttributeProtoSchema, { name: 'pads', type: 7, ints: [1n, 1n, 1n, 1n] })]),
        conv('convE', 'pool', 'we', 'be', 'p'),
      ],
    }),
  });
}

describe('QDQ joins in float16 graphs', () => {
  it('float32 graph: Concat shares, Add and AveragePool get their own scale (ORT integer kernels)', () => {
    const plan = planQdq(joins(), parseRecipe({}));
    expect(plan.activations.get('ar')).toBe('cat');
    expect(plan.activations.get('sum')).toBe('sum');
    expect(plan.activations.get('pool')).toBe('pool');
  });

  it('float16 inside float32 I/O: Q/DQ only where a Conv reads, and the quantized model loads and agrees', async () => {
    const m = joins();
    convertToFloat16(m, { keepFloat32Io: true });
    const plan = planQdq(m, parseRecipe({}));
    // The branch outputs only feed the joins and the pool: no Q/DQ (DQ -> Concat -> Q would fuse).
    expect(plan.activations.has('ar')).toBe(false);
    expect(plan.activations.has('br')).toBe(false);
    expect(plan.activations.get('cat')).toBe('cat');
    const src = join(dir, 'joins-fp16.onnx'), out = join(dir, 'joins-fp16-int8.onnx');
    await saveModel(m, src);
    const r = rng(3);
    const x = { dtype: 'float32' as const, shape: [32, 4, 8, 8], data: Float32Array.from({ length: 32 * 256 }, () => r() * 2) };
    const report = await quantizeModel({ modelPath: src, outputPath: out, recipe: parseRecipe({}), inputs: { x } });
    expect(report.quantized.length).toBe(5);
    expect(report.outputAgreement!.sqnrDb).toBeGreaterThan(20);
  });
});
