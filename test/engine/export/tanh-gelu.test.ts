// One tanh-GELU matcher for both exports: spellings of 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) that
// exporters write (Pow(x, 3) or x·x·x, constants on either side, the 0.5 grouped with x or with the
// 1 + tanh) all become the QDQ export's Gelu and the weight-only export's FastGelu, and compute the same.
import { describe, it, expect } from 'vitest';
import { create, ModelProtoSchema, GraphProtoSchema, clone, type ModelProto, type NodeProto } from '../../../engine/onnx/proto';
import { DataType, makeTensor } from '../../../engine/onnx/tensor';
import { serializeModel } from '../../../engine/onnx/model-io';
import { makeNode } from '../../../engine/onnx/graph';
import { fuseTanhGelu as fuseToGelu } from '../../../engine/export/qdq-gelu';
import { fuseTanhGelu as fuseToFastGelu } from '../../../engine/onnx/fusions/fast-gelu';
import { createSession, ort } from '../../../engine/runtime/session';
import { valueInfo } from '../../fixtures/value-info';

const scalar = (name: string, v: number) => makeTensor(name, DataType.FLOAT, [], Float32Array.of(v));

/** x -> tanh-GELU (as `body` spells it) -> y, with an extra consumer of x so x is not private. */
function model(body: NodeProto[]): ModelProto {
  const graph = create(GraphProtoSchema, {
    name: 'gelu', input: [valueInfo('x', [1, 16])], output: [valueInfo('y', [1, 16]), valueInfo('x2out', [1, 16])],
    initializer: [scalar('c3', 3), scalar('k', 0.044715), scalar('s', Math.sqrt(2 / Math.PI)), scalar('one', 1), scalar('half', 0.5)],
    node: [...body, makeNode('Add', ['x', 'x'], ['x2out'], 'other')],
  });
  return create(ModelProtoSchema, { irVersion: 8n, producerName: 'qstudio-test', opsetImport: [{ domain: '', version: 17n }, { domain: 'com.microsoft', version: 1n }], graph });
}

const SPELLINGS: Record<string, NodeProto[]> = {
  // Pow for the cube, 0.5 grouped with (1 + tanh): Mul(x, Mul(a, 0.5))
  'Pow(x, 3), x·(a·0.5)': [
    makeNode('Pow', ['x', 'c3'], ['x3'], 'pow'), makeNode('Mul', ['k', 'x3'], ['kx3'], 'm1'), makeNode('Add', ['x', 'kx3'], ['in'], 'a1'),
    makeNode('Mul', ['in', 's'], ['arg'], 'm2'), makeNode('Tanh', ['arg'], ['t'], 'tanh'), makeNode('Add', ['one', 't'], ['a'], 'a2'),
    makeNode('Mul', ['a', 'half'], ['ah'], 'm3'), makeNode('Mul', ['x', 'ah'], ['y'], 'm4'),
  ],
  // GPT-2's: x·x·x, constants on the left, (x·a)·0.5
  'x·(x·x), (x·a)·0.5': [
    makeNode('Mul', ['x', 'x'], ['xx'], 'sq'), makeNode('Mul', ['x', 'xx'], ['x3'], 'cube'), makeNode('Mul', ['x3', 'k'], ['kx3'], 'm1'),
    makeNode('Add', ['kx3', 'x'], ['in'], 'a1'), makeNode('Mul', ['s', 'in'], ['arg'], 'm2'), makeNode('Tanh', ['arg'], ['t'], 'tanh'),
    makeNode('Add', ['t', 'one'], ['a'], 'a2'), makeNode('Mul', ['x', 'a'], ['xa'], 'm3'), makeNode('Mul', ['xa', 'half'], ['y'], 'm4'),
  ],
};

async function run(m: ModelProto, x: Float32Array): Promise<Float32Array> {
  const s = await createSession(serializeModel(m), { device: 'cpu', threads: 1 });
  try { return (await s.run({ x: new ort.Tensor('float32', x, [1, 16]) })).y!.data as Float32Array; } finally { await s.release(); }
}

describe('tanh-GELU: one matcher, a Gelu and a FastGelu emitter', () => {
  const x = Float32Array.from({ length: 16 }, (_, i) => (i - 8) / 2.5);
  for (const [name, body] of Object.entries(SPELLINGS)) {
    it(`${name}: both exports fuse it and compute the same`, async () => {
      const ref = await run(model(body), x);
      const g = clone(ModelProtoSchema, model(body));
      expect(fuseToGelu(g, new Set())).toBe(1);
      expect(g.graph!.node.map((n) => n.opType)).toEqual(['Gelu', 'Add']);
      const f = clone(ModelProtoSchema, model(body));
      expect(fuseToFastGelu(f.graph!)).toBe(1);
      expect(f.graph!.node.filter((n) => n.opType === 'FastGelu' && n.domain === 'com.microsoft').map((n) => [n.input, n.output])).toEqual([[['x'], ['y']]]);
      for (const out of [await run(g, x), await run(f, x)]) for (let i = 0; i < 16; i++) expect(Math.abs(out[i]! - ref[i]!)).toBeLessThan(1e-5);
    });
  }

  it('leaves the pattern alone when a value inside it is read elsewhere or a constant is off', () => {
    const shared = model([...SPELLINGS['Pow(x, 3), x·(a·0.5)']!]);
    shared.graph!.output.push(valueInfo('t', [1, 16]));
    expect(fuseToGelu(clone(ModelProtoSchema, shared), new Set())).toBe(0);
    expect(fuseToFastGelu(clone(ModelProtoSchema, shared).graph!)).toBe(0);
    const off = model(SPELLINGS['x·(x·x), (x·a)·0.5']!);
    off.graph!.initializer.find((t) => t.name === 'k')!.rawData = new Uint8Array(Float32Array.of(0.05).buffer);
    off.graph!.initializer.find((t) => t.name === 'k')!.floatData = [];
    expect(fuseToGelu(clone(ModelProtoSchema, off), new Set())).toBe(0);
    expect(fuseToFastGelu(clone(ModelProtoSchema, off).graph!)).toBe(0);
  });
});
