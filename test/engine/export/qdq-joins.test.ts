// Residual joins in the QDQ plan: Add of two quantized branches gets its own Q (ORT: QLinearAdd), a
// Concat of quantized branches shares one scale with its output, and the result still matches FP32.
import { describe, it, expect } from 'vitest';
import { AttributeProtoSchema, create, ModelProtoSchema, GraphProtoSchema, ValueInfoProtoSchema, TypeProtoSchema, TypeProto_TensorSchema, TensorShapeProtoSchema, TensorShapeProto_DimensionSchema, OperatorSetIdProtoSchema, DataType, type ModelProto } from '../../../engine/onnx/proto';
import { serializeModel } from '../../../engine/onnx/model-io';
import { floatTensor, tensorToFloat32 } from '../../../engine/onnx/tensor';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { planQdq } from '../../../engine/export/qdq-plan';
import { rewriteQdq } from '../../../engine/export/qdq-rewrite';
import { makeNode } from '../../../engine/onnx/graph';
import { runCalibration } from '../../../engine/quant/calibration/run-calibration';
import { createSession } from '../../../engine/runtime/session';
import { feedsFor } from '../../../engine/runtime/batching';
import { compareTensors } from '../../../engine/eval/agreement';

function rng(seed: number) { return () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32 - 0.5; }; }
const vi = (name: string, dims: (number | string)[]) => create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: DataType.FLOAT, shape: create(TensorShapeProtoSchema, { dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d } })) }) }) } }) });

function model(): ModelProto {
  const r = rng(7);
  const w = (name: string, o: number, i: number) => floatTensor(name, [o, i, 3, 3], Float32Array.from({ length: o * i * 9 }, () => r() * 0.4));
  const b = (name: string, o: number) => floatTensor(name, [o], Float32Array.from({ length: o }, () => r() * 0.1));
  const conv = (name: string, x: string, wn: string, bn: string, y: string) => makeNode('Conv', [x, wn, bn], [y], name, [create(AttributeProtoSchema, { name: 'pads', type: 7, ints: [1n, 1n, 1n, 1n] })]);
  return create(ModelProtoSchema, {
    irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph: create(GraphProtoSchema, {
      name: 'joins', input: [vi('x', ['N', 4, 8, 8])], output: [vi('y', ['N', 8, 8, 8]), vi('z', ['N', 8, 8, 8])],
      initializer: [w('wa', 8, 4), b('ba', 8), w('wb', 8, 4), b('bb', 8), w('wc', 8, 16), b('bc', 8), w('wd', 8, 8), b('bd', 8)],
      node: [
        conv('convA', 'x', 'wa', 'ba', 'a'), makeNode('Relu', ['a'], ['ar'], 'reluA'),
        conv('convB', 'x', 'wb', 'bb', 'b'), makeNode('Relu', ['b'], ['br'], 'reluB'),
        makeNode('Concat', ['ar', 'br'], ['cat'], 'cat', [create(AttributeProtoSchema, { name: 'axis', type: 2, i: 1n })]),
        conv('convC', 'cat', 'wc', 'bc', 'y'),
        makeNode('Add', ['ar', 'br'], ['sum'], 'add'),
        conv('convD', 'sum', 'wd', 'bd', 'z'),
      ],
    }),
  });
}

describe('QDQ residual joins', () => {
  it('shares one scale across a Concat, quantizes an Add of quantized branches, stays close to FP32', async () => {
    const m = model();
    const r = rng(3);
    const x = { dtype: 'float32' as const, shape: [16, 4, 8, 8], data: Float32Array.from({ length: 16 * 256 }, () => r() * 2) };
    const s0 = await createSession(serializeModel(m), { device: 'cpu' });
    const ref = await s0.run(feedsFor({ x }, 0, 16));
    const recipe = parseRecipe({});
    const plan = planQdq(m, recipe);
    expect(plan.activations.get('ar')).toBe('cat');
    expect(plan.activations.get('br')).toBe('cat');
    expect(plan.activations.get('sum')).toBe('sum');
    const cal = await runCalibration(m, plan.calibrate, { x }, { samples: 16, batchSize: 8 });
    const ranges = new Map([...cal.stats].map(([t, s]) => [t, { min: s.rangeMin, max: s.rangeMax }]));
    const { dequantized } = rewriteQdq(m, plan, ranges, recipe);
    const scaleOf = (t: string) => { const dq = m.graph!.node.find((n) => n.output[0] === dequantized.get(t))!; return tensorToFloat32(m.graph!.initializer.find((i) => i.name === dq.input[1])!)[0]; };
    expect(scaleOf('ar')).toBe(scaleOf('cat'));
    expect(scaleOf('br')).toBe(scaleOf('cat'));
    expect(m.graph!.node.filter((n) => n.opType === 'Relu').length).toBe(0); // both folded: all Concat inputs are Relu outputs
    const s1 = await createSession(serializeModel(m), { device: 'cpu' });
    const q = await s1.run(feedsFor({ x }, 0, 16));
    expect(compareTensors(ref.y!.data as Float32Array, q.y!.data as Float32Array).sqnrDb).toBeGreaterThan(25);
    expect(compareTensors(ref.z!.data as Float32Array, q.z!.data as Float32Array).sqnrDb).toBeGreaterThan(25);
    await s0.release(); await s1.release();
  });
});
