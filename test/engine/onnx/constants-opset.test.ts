// PP-OCRv4 rec keeps its weights in Constant nodes and is opset 9: convert the constants to
// initializers, upgrade to opset 13 and 21, and check ORT still reads the same text from real crops.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ort, openSession } from '../../helpers/ort';
import { loadModel, saveModel, serializeModel, parseModel } from '../../../engine/onnx/model-io';
import { constantValue, constantsToInitializers, constantNodeTensor } from '../../../engine/onnx/constants';
import { opsetVersion, upgradeOpset, irVersionFor } from '../../../engine/onnx/opset';
import { walkGraphs } from '../../../engine/onnx/graph';
import { tensorToFloat32, tensorDims } from '../../../engine/onnx/tensor';
import { create, NodeProtoSchema, AttributeProtoSchema, AttributeType, type ModelProto } from '../../../engine/onnx/proto';
import { readNpy } from '../../../engine/data/npy';
import { thirdParty, ocrLines } from './fixtures';

// Rewrites (Flatten->Softmax->Reshape, attr->input) run the same float math but ORT may pick other
// kernels (opset-18 ReduceMean): allow float32 rounding noise on these softmax probabilities.
const OUTPUT_TOL = 1e-5;

const made: string[] = [];
afterAll(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
let lines: Float32Array;
let reference: { data: Float32Array; dims: readonly number[] };
async function run(model: ModelProto | string) {
  const s = await openSession(typeof model === 'string' ? model : serializeModel(model), { threads: 2 });
  const r = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', lines, [8, 3, 48, 192]) });
  const out = r[s.outputNames[0]!]!;
  await s.release();
  return { data: out.data as Float32Array, dims: out.dims };
}
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const argmaxes = (o: { data: Float32Array; dims: readonly number[] }) => {
  const C = o.dims[o.dims.length - 1]!, out: number[] = [];
  for (let i = 0; i < o.data.length; i += C) { let best = 0; for (let c = 1; c < C; c++) if (o.data[i + c]! > o.data[i + best]!) best = c; out.push(best); }
  return out;
};

beforeAll(async () => {
  lines = readNpy(ocrLines).data as Float32Array;
  reference = await run(thirdParty.ppocrRec);
});

describe('Constant-node weights (PP-OCRv4 rec)', () => {
  it('constantValue finds Conv weights held in Constant nodes, and initializers alike', async () => {
    const { model } = await loadModel(thirdParty.ppocrRec);
    const g = model.graph!;
    expect(g.initializer.length).toBe(0);
    const conv = g.node.find((n) => n.opType === 'Conv')!;
    const w = constantValue(g, conv.input[1]!)!;
    expect(w.source).toBe('constant');
    expect(tensorDims(w.tensor).length).toBe(4);
    expect(tensorToFloat32(w.tensor).some((v) => v !== 0)).toBe(true);
    expect(constantValue(g, 'no such tensor')).toBeUndefined();
    // value_ints form
    const n = create(NodeProtoSchema, { opType: 'Constant', output: ['shape'], attribute: [create(AttributeProtoSchema, { name: 'value_ints', type: AttributeType.INTS, ints: [2n, 3n] })] });
    expect(tensorDims(constantNodeTensor(n)!)).toEqual([2]);
  });

  it('constantsToInitializers moves them, and ORT output is unchanged', async () => {
    const { model } = await loadModel(thirdParty.ppocrRec);
    const before = model.graph!.node.filter((n) => n.opType === 'Constant').length;
    const res = constantsToInitializers(model);
    expect(res.converted).toBe(before - res.kept.length);
    expect(res.converted).toBeGreaterThan(300);
    const g = model.graph!;
    expect(g.node.some((n) => n.opType === 'Constant' && constantNodeTensor(n))).toBe(res.kept.length > 0);
    const conv = g.node.find((n) => n.opType === 'Conv')!;
    expect(constantValue(g, conv.input[1]!)!.source).toBe('initializer');
    const out = await run(model);
    expect(maxDiff(out.data, reference.data)).toBe(0);
  });
});

describe('opset upgrade', () => {
  it('PP-OCRv4 rec 9 -> 13 and 9 -> 21: same recognised characters, outputs within rounding', async () => {
    for (const target of [13, 21]) {
      const { model } = await loadModel(thirdParty.ppocrRec);
      constantsToInitializers(model);
      const { from, to, changes } = upgradeOpset(model, target);
      expect([from, to]).toEqual([9, target]);
      expect(opsetVersion(model)).toBe(target);
      expect(Number(model.irVersion)).toBeGreaterThanOrEqual(irVersionFor(target));
      const kinds = new Set(changes.map((c) => c.opType));
      for (const op of ['Clip', 'Slice', 'Squeeze', 'Softmax']) expect(kinds, `${op} rewritten`).toContain(op);
      if (target >= 18) expect(kinds).toContain('ReduceMean');
      // survive a save/load
      const dir = mkdtempSync(join(tmpdir(), 'qs-opset-'));
      made.push(dir);
      await saveModel(model, join(dir, 'rec.onnx'));
      const out = await run(join(dir, 'rec.onnx'));
      expect(out.dims).toEqual(reference.dims);
      expect(maxDiff(out.data, reference.data)).toBeLessThanOrEqual(OUTPUT_TOL);
      expect(argmaxes(out)).toEqual(argmaxes(reference));
    }
  });

  it('is a no-op at or above the target, and refuses what it cannot convert exactly, naming the node', async () => {
    const { model } = await loadModel(thirdParty.sileroIfless);
    const bytes = serializeModel(model);
    expect(upgradeOpset(model, 13).changes).toEqual([]);
    expect(Buffer.from(serializeModel(model)).equals(Buffer.from(bytes))).toBe(true);
    const m = parseModel(bytes);
    m.opsetImport[0]!.version = 9n;
    m.graph!.node.push(create(NodeProtoSchema, { name: 'up1', opType: 'Upsample', input: ['a', 'b'], output: ['c'] }));
    expect(() => upgradeOpset(m, 13)).toThrow(/up1.*Upsample/);
  });

  it('upgrades nodes inside If/Loop bodies too (Silero v5, opset 16 -> 18: ReduceMean axes become inputs)', async () => {
    const { model } = await loadModel(thirdParty.sileroIf);
    const inSub = [...walkGraphs(model.graph!)].flatMap((v) => v.graph.node.map((node) => ({ node, path: v.path }))).filter((x) => x.path.length > 0 && x.node.opType === 'ReduceMean');
    const { changes } = upgradeOpset(model, 18);
    expect(inSub.length).toBeGreaterThan(0);
    for (const { node } of inSub) expect(node.input.length).toBe(2);
    expect(changes.length).toBeGreaterThanOrEqual(inSub.length);
    await openSession(serializeModel(model)); // ORT accepts the upgraded model
  });
});
