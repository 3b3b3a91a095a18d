// The one opset upgrader (engine/onnx/opset.ts), on small hand-built graphs: every attribute->input
// conversion run through ORT at the old and the new opset with the same outputs, node objects kept
// (the QDQ writer holds references to them), and the refusals (DFT, GroupNormalization, Resize,
// Upsample, untyped scalar constants) decided before anything is edited.
import { describe, it, expect } from 'vitest';
import { ort, openSession } from '../../helpers/ort';
import {
  create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, AttributeProtoSchema, AttributeType, ValueInfoProtoSchema, OperatorSetIdProtoSchema, DataType, type ModelProto, type NodeProto,
} from '../../../engine/onnx/proto';
import { serializeModel, parseModel } from '../../../engine/onnx/model-io';
import { floatTensor, int64Tensor } from '../../../engine/onnx/tensor';
import { opsetVersion, upgradeOpset, canUpgradeOpset, irVersionFor } from '../../../engine/onnx/opset';
import { valueInfo } from '../../fixtures/value-info';

const ints = (name: string, v: number[]) => create(AttributeProtoSchema, { name, type: AttributeType.INTS, ints: v.map(BigInt) });
const int = (name: string, v: number) => create(AttributeProtoSchema, { name, type: AttributeType.INT, i: BigInt(v) });
const flt = (name: string, v: number) => create(AttributeProtoSchema, { name, type: AttributeType.FLOAT, f: v });
const str = (name: string, v: string) => create(AttributeProtoSchema, { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) });
const node = (opType: string, input: string[], output: string[], attribute: ReturnType<typeof int>[] = [], domain = '') =>
  create(NodeProtoSchema, { name: `${opType}_${output[0]}`, opType, input, output, attribute, domain });
function model(opset: number, nodes: NodeProto[], inputs: ReturnType<typeof valueInfo>[], outputs: ReturnType<typeof valueInfo>[], initializer: ModelProto['graph'] extends infer G ? G extends { initializer: infer I } ? I : never : never = []): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: BigInt(irVersionFor(opset)), opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(opset) })],
    graph: create(GraphProtoSchema, { name: 'g', node: nodes, input: inputs, output: outputs, initializer }),
  });
}
async function run(m: ModelProto, feeds: Record<string, ort.Tensor>) {
  const s = await openSession(serializeModel(m), { threads: 1 });
  try {
    const r = await s.run(feeds);
    return Object.fromEntries(s.outputNames.map((n) => [n, Array.from(r[n]!.data as Float32Array, Number)]));
  } finally { await s.release(); }
}

// x [2,3,4] -> Clip -> Slice -> Softmax(axis 1: 2-D coercion) ; Pad, Unsqueeze/Squeeze, ReduceMean, Split, TopK, Scatter, Dropout.
function opset9Model(): ModelProto {
  const nodes = [
    node('Clip', ['x'], ['c'], [flt('min', -0.6), flt('max', 0.7)]),
    node('Slice', ['c'], ['s'], [ints('starts', [0, 1]), ints('ends', [2, 4]), ints('axes', [0, 2])]),
    node('Softmax', ['s'], ['soft'], [int('axis', 1)]),
    node('Softmax', ['x'], ['softLast'], [int('axis', 2)]),
    node('Pad', ['x'], ['pad'], [ints('pads', [0, 1, 0, 0, 0, 2]), flt('value', 0.25)]),
    node('Unsqueeze', ['x'], ['u'], [ints('axes', [0])]),
    node('Squeeze', ['u'], ['sq'], [ints('axes', [0])]),
    node('ReduceMean', ['x'], ['mean'], [ints('axes', [2])]),
    node('ReduceSum', ['x'], ['sum'], [ints('axes', [1])]),
    node('Split', ['x'], ['p0', 'p1'], [int('axis', 2), ints('split', [1, 3])]),
    node('Split', ['x'], ['h0', 'h1'], [int('axis', 2)]),
    node('TopK', ['x'], ['topv', 'topi'], [int('k', 2)]),
    node('Scatter', ['x', 'idx', 'upd'], ['sc'], [int('axis', 2)]),
    node('Dropout', ['x'], ['drop'], [flt('ratio', 0.3)]),
  ];
  const outs = ['c', 's', 'soft', 'softLast', 'pad', 'sq', 'mean', 'sum', 'p0', 'p1', 'h0', 'h1', 'topv', 'sc', 'drop'];
  return model(9, nodes, [valueInfo('x', [2, 3, 4])], outs.map((o) => create(ValueInfoProtoSchema, { name: o })), [
    int64Tensor('idx', [2, 3, 1], BigInt64Array.from([3, 0, 1, 2, 3, 0], BigInt)), floatTensor('upd', [2, 3, 1], Float32Array.from([9, 8, 7, 6, 5, 4])),
  ]);
}

describe('upgradeOpset', () => {
  const x = new ort.Tensor('float32', Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * 1.3), [2, 3, 4]);

  it('opset 9 -> 13 and -> 21: every converted op gives ORT the outputs of the opset-9 graph', async () => {
    const reference = await run(opset9Model(), { x });
    for (const target of [13, 21]) {
      const m = opset9Model();
      const { from, to, changes } = upgradeOpset(m, target);
      expect([from, to, opsetVersion(m), Number(m.irVersion)]).toEqual([9, target, target, irVersionFor(target)]);
      const kinds = new Map(changes.map((c) => [c.node, c.change]));
      expect(kinds.get('Scatter_sc')).toBe('Scatter -> ScatterElements');
      expect(kinds.get('TopK_topv')).toBe('k attribute -> input');
      expect(kinds.get('Softmax_softLast')).toBe('axis is the last axis: unchanged');
      expect(kinds.get('Softmax_soft')).toMatch(/Flatten\(axis=1\)/);
      expect(kinds.get('Split_h0')).toBe(target >= 18 ? 'num_outputs added' : undefined);
      expect(kinds.has('ReduceMean_mean')).toBe(target >= 18);
      const out = await run(m, { x });
      for (const [name, ref] of Object.entries(reference)) {
        expect(out[name]!.length, name).toBe(ref.length);
        out[name]!.forEach((v, i) => expect(v, `${name}[${i}] at opset ${target}`).toBeCloseTo(ref[i]!, 6));
      }
    }
  });

  it('keeps every node object (the QDQ plan points at them), the rewritten Softmax included', () => {
    const m = opset9Model();
    const before = [...m.graph!.node];
    upgradeOpset(m, 13);
    for (const n of before) expect(m.graph!.node.includes(n), n.name).toBe(true);
    const soft = before.find((n) => n.name === 'Softmax_soft')!;
    const i = m.graph!.node.indexOf(soft);
    expect(m.graph!.node.slice(i - 2, i + 2).map((n) => n.opType)).toEqual(['Shape', 'Flatten', 'Softmax', 'Reshape']);
    expect(m.graph!.node[i + 1]!.output[0]).toBe('soft');
  });

  it('converts only default-domain ops, and GridSample modes at opset 20', () => {
    const m = model(16, [
      node('Softmax', ['x'], ['a'], [int('axis', 0)], 'com.example'),
      node('DFT', ['x'], ['b'], [], 'com.example'),
      node('GridSample', ['x', 'grid'], ['g'], [str('mode', 'bicubic')]),
    ], [valueInfo('x', [1, 1, 4, 4]), valueInfo('grid', [1, 2, 2, 2])], [create(ValueInfoProtoSchema, { name: 'g' })]);
    expect(canUpgradeOpset(m, 21)).toBe(true);
    const { changes } = upgradeOpset(m, 21);
    expect(changes.map((c) => c.change)).toEqual(['mode bicubic -> cubic']);
    expect(m.graph!.node[0]!.attribute.map((a) => [a.name, Number(a.i)])).toEqual([['axis', 0]]);
    expect(m.graph!.node.length).toBe(3);
  });

  it('types the Clip constants like the input (double), and refuses what it cannot type (float16)', () => {
    const clip = (elemType: number) => model(9, [node('Clip', ['x'], ['y'], [flt('min', 0), flt('max', 6)])], [valueInfo('x', elemType, [4])], [valueInfo('y', elemType, [4])]);
    const d = clip(DataType.DOUBLE);
    upgradeOpset(d, 13);
    expect(d.graph!.initializer.map((t) => t.dataType)).toEqual([DataType.DOUBLE, DataType.DOUBLE]);
    const h = clip(DataType.FLOAT16);
    expect(canUpgradeOpset(h, 13)).toBe(false);
    expect(() => upgradeOpset(h, 13)).toThrow(/Clip_y.*float16|Clip_y.*FLOAT16/i);
  });

  it('refuses DFT across 20, GroupNormalization across 21, Resize across 11, Upsample from 10 on: canUpgradeOpset says so, and the model is left untouched', () => {
    const cases: { opset: number; op: string; ok: number; refused: number; pattern: RegExp }[] = [
      { opset: 17, op: 'DFT', ok: 19, refused: 20, pattern: /DFT_y.*axis.*opset 20.*from opset 17 to 20/ },
      { opset: 18, op: 'GroupNormalization', ok: 20, refused: 21, pattern: /GroupNormalization_y.*opset 21/ },
      { opset: 10, op: 'Resize', ok: 10, refused: 11, pattern: /Resize_y.*opset 11/ },
      { opset: 9, op: 'Upsample', ok: 9, refused: 10, pattern: /Upsample_y.*Upsample/ },
    ];
    for (const c of cases) {
      // A ReduceMean with an axes attribute first: it would be converted (at 18) if the refusal came late.
      const m = model(c.opset, [node('ReduceMean', ['x'], ['r'], [ints('axes', [1])]), node(c.op, ['x'], ['y'])], [valueInfo('x', [1, 2, 8])], [create(ValueInfoProtoSchema, { name: 'y' })]);
      const bytes = serializeModel(m);
      expect(canUpgradeOpset(m, c.ok), `${c.op} -> ${c.ok}`).toBe(true);
      expect(canUpgradeOpset(m, c.refused), `${c.op} -> ${c.refused}`).toBe(false);
      expect(canUpgradeOpset(m, 21), `${c.op} -> 21`).toBe(false);
      expect(() => upgradeOpset(m, c.refused)).toThrow(c.pattern);
      expect(() => upgradeOpset(m, 21)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_OP' }));
      expect(Buffer.from(serializeModel(m)).equals(Buffer.from(bytes)), `${c.op}: model untouched`).toBe(true);
      const ok = parseModel(bytes);
      expect(upgradeOpset(ok, c.ok).to).toBe(Math.max(c.opset, c.ok));
    }
  });

  it('canUpgradeOpset: true at or above the target, false below opset 7 or past the known opsets', () => {
    const m = model(13, [node('Relu', ['x'], ['y'])], [valueInfo('x', [2])], [valueInfo('y', [2])]);
    expect(canUpgradeOpset(m, 13)).toBe(true);
    expect(canUpgradeOpset(m, 12)).toBe(true);
    expect(canUpgradeOpset(m, 99)).toBe(false);
    expect(canUpgradeOpset(model(6, [node('Relu', ['x'], ['y'])], [valueInfo('x', [2])], [valueInfo('y', [2])]), 13)).toBe(false);
  });
});
