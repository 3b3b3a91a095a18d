// Layers inside a model's own `If` (a seeded fixture: MatMul/Gemm in both branches, reading an
// outer-scope value and an outer initializer): int8 QDQ quantizes the branch layers into a model ORT
// loads (weights beside their DequantizeLinear, in the branch); the int4 export quantizes the same
// layers (MatMulNBits inside the branches) and its default int8 prefill wraps the model's If without
// losing the outer-scope values it reads.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { saveModel, loadModel } from '../../../engine/onnx/model-io';
import { walkGraphs } from '../../../engine/onnx/graph';
import { createSession, ort } from '../../../engine/runtime/session';
import { seededRandom } from '../../../engine/util/seeded-random';
import { ifModel } from '../../fixtures/control-flow';
import { fixtureDir } from '../../fixtures/model-variants';

const dir = mkdtempSync(join(tmpdir(), 'qs-if-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let model: string;
const ALL_LAYERS = ['else/Gemm', 'else/MatMul', 'skip/MatMul', 'stem/MatMul', 'then/Gemm', 'then/MatMul'];
const rnd = seededRandom(1);
const x = { dtype: 'float32' as const, shape: [64, 64], data: Float32Array.from({ length: 64 * 64 }, () => rnd() * 2 - 1) };
const inputs = (flag: boolean) => ({ x: { ...x }, use_relu: { dtype: 'bool' as const, shape: [], data: Uint8Array.of(flag ? 1 : 0) } });

/** Relative L2 error of `path`'s logits against the float model's, for both branches. */
async function relErrors(path: string): Promise<number[]> {
  const errs: number[] = [];
  for (const flag of [true, false]) {
    const feeds = { x: new ort.Tensor('float32', x.data, x.shape), use_relu: new ort.Tensor('bool', Uint8Array.of(flag ? 1 : 0), []) };
    const run = async (p: string) => { const s = await createSession(p, { device: 'cpu' }); try { return (await s.run(feeds)).logits!.data as Float32Array; } finally { await s.release(); } };
    const a = await run(model), b = await run(path);
    let num = 0, den = 0;
    for (let i = 0; i < a.length; i++) { num += (a[i]! - b[i]!) ** 2; den += a[i]! ** 2; }
    errs.push(Math.sqrt(num / den));
  }
  return errs;
}

beforeAll(async () => {
  mkdirSync(fixtureDir, { recursive: true });
  model = join(fixtureDir, 'if-model.onnx');
  await saveModel(ifModel(), model);
});

describe('models with If', () => {
  it('int8 QDQ quantizes the layers in both branches; the branch weights sit in their branch', async () => {
    const out = join(dir, 'int8.onnx');
    const report = await quantizeModel({ modelPath: model, outputPath: out, recipe: parseRecipe({ opTypes: ['MatMul', 'Gemm'] }), inputs: inputs(true) });
    expect(report.quantized.map((q) => q.node).sort()).toEqual(ALL_LAYERS);
    const { model: m } = await loadModel(out);
    for (const { graph } of walkGraphs(m.graph!)) {
      if (graph === m.graph) continue;
      const own = new Set(graph.initializer.map((t) => t.name));
      for (const n of graph.node) if (n.opType === 'DequantizeLinear' && n.input[0]!.endsWith('_quantized')) expect(own.has(n.input[0]!)).toBe(true);
    }
    for (const e of await relErrors(out)) expect(e).toBeLessThan(0.05);
  });

  it('int4 MatMulNBits with the default int8 prefill keeps the If valid (outer-scope reads renamed)', async () => {
    const out = join(dir, 'int4.onnx');
    const recipe = parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, format: 'matmulnbits', opTypes: ['MatMul', 'Gemm'] });
    const report = await quantizeModel({ modelPath: model, outputPath: out, recipe, inputs: inputs(true) });
    // The same layers as the int8 path: the branch Gemms/MatMuls too, as MatMulNBits inside their branch.
    expect(report.quantized.map((q) => q.node).sort()).toEqual(ALL_LAYERS);
    const { model: m } = await loadModel(out);
    let inBranches = 0;
    for (const { graph } of walkGraphs(m.graph!)) if (graph !== m.graph) inBranches += graph.node.filter((n) => n.opType === 'MatMulNBits').length;
    expect(inBranches).toBeGreaterThanOrEqual(4);
    for (const e of await relErrors(out)) expect(e).toBeLessThan(0.2);
  });

  it('GPTQ int4: main-graph layers from the data, branch layers rounded to nearest, with a notice', async () => {
    const out = join(dir, 'gptq.onnx');
    const recipe = parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, algorithms: [{ name: 'gptq' }], format: 'matmulnbits', opTypes: ['MatMul', 'Gemm'] });
    const report = await quantizeModel({ modelPath: model, outputPath: out, recipe, inputs: inputs(true) });
    expect(report.quantized.map((q) => q.node).sort()).toEqual(ALL_LAYERS);
    expect(report.notices.join(' ')).toMatch(/3 weight\(s\) inside If\/Loop bodies rounded to nearest \(calibration data/);
    for (const e of await relErrors(out)) expect(e).toBeLessThan(0.2);
  });
});
