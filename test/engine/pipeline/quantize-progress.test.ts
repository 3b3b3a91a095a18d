// Progress across stages only moves forward for weight-only runs: the algorithm reports inside
// 5-90 % (subProgress), and the pipeline's later steps start from there instead of going back to 5 %.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import type { ProgressEvent } from '../../../engine/util/work-context';
import { buildLlamaFixture } from '../quant/algorithms/llama-fixture';

describe('quantizeModel progress', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qprog-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('weight-only RTN to MatMulNBits: fractions never go down, and the algorithm reports inside 5-90 %', async () => {
    const src = join(dir, 'llama.onnx');
    writeFileSync(src, buildLlamaFixture().bytes);
    const events: ProgressEvent[] = [];
    const recipe = parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, algorithms: [{ name: 'rtn' }], opTypes: ['MatMul'], format: 'matmulnbits' });
    await quantizeModel({ modelPath: src, outputPath: join(dir, 'out.onnx'), recipe, inputs: {}, ctx: { onProgress: (e) => events.push(e) } });
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.fraction, `${events[i - 1]!.stage} ${events[i - 1]!.fraction} -> ${events[i]!.stage} ${events[i]!.fraction}`).toBeGreaterThanOrEqual(events[i - 1]!.fraction);
    }
    // RTN's own last report (its 100 %) lands at the top of its 5-90 % range, not at 1.
    const own = events.filter((e) => /weights quantized/.test(e.message ?? ''));
    expect(own.length).toBeGreaterThan(0);
    for (const e of own) { expect(e.fraction).toBeGreaterThanOrEqual(0.05); expect(e.fraction).toBeLessThanOrEqual(0.9); }
    expect(events.some((e) => e.stage === 'plan')).toBe(false);
    expect(events.at(-1)!.fraction).toBe(1);
  });
});
