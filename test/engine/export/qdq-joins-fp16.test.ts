// Joins and pools in a float16 graph (float32 I/O, float16 inside, as IMG.LY's ISNet ships): ORT fuses
// Q/DQ around Concat/Add/AveragePool into QLinearConcat/QLinearAdd/QLinearAveragePool, whose scales
// must be float32, so float16 values there keep no shared or own scale. Before, the output did not
// load ("Type 'tensor(float16)' of input parameter (…_scale) of operator (QLinearConcat) … is invalid").
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../../../engine/onnx/model-io';
import { joinsModel, rng } from '../../fixtures/joins-model';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { planQdq } from '../../../engine/export/qdq-plan';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { convertToFloat16 } from '../../fixtures/model-variants';

const dir = mkdtempSync(join(tmpdir(), 'qs-joins-fp16-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('QDQ joins in float16 graphs', () => {
  it('float32 graph: Concat shares, Add and AveragePool get their own scale (ORT integer kernels)', () => {
    const plan = planQdq(joinsModel({ pool: true }), parseRecipe({}));
    expect(plan.activations.get('ar')).toBe('cat');
    expect(plan.activations.get('sum')).toBe('sum');
    expect(plan.activations.get('pool')).toBe('pool');
  });

  it('float16 inside float32 I/O: Q/DQ only where a Conv reads, and the quantized model loads and agrees', async () => {
    const m = joinsModel({ pool: true });
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
