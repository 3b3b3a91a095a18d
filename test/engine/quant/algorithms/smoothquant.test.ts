// SmoothQuant on the outlier GPT: plain per-tensor W8A8 falls apart, smoothing brings it back. Full
// figures (128 val windows, both activation types) are in bench/llm-bench.ts; this is the quick check.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { models, hasShared } from '../../../helpers/shared';
import { loadModel, serializeModel } from '../../../../engine/onnx/model-io';
import { parseRecipe } from '../../../../engine/pipeline/recipe';
import { quantizeModel } from '../../../../engine/pipeline/quantize';
import { runSmoothQuant, smoothingScales } from '../../../../engine/quant/algorithms/smoothquant';
import { textWindows, perplexity } from './lm-helpers';

describe('smoothingScales', () => {
  it('is max|X|^α / max|W|^(1−α), 1 for dead channels', () => {
    const s = smoothingScales(Float32Array.from([4, 0, 9]), Float32Array.from([1, 2, 0.25]), 0.5);
    expect(s[0]).toBeCloseTo(2, 6);
    expect(s[1]).toBe(1);
    expect(s[2]).toBeCloseTo(3 / 0.5, 5);
  });
});

describe.skipIf(!hasShared)('SmoothQuant W8A8 on moby-gpt-outliers', () => {
  it('brings int8 per-tensor W8A8 back from > 5 to near FP32; smoothing alone is float-exact', async () => {
    const cal = textWindows('train.txt', 16);
    const val = textWindows('val.txt', 16);
    const recipe = (algorithms: unknown[]) => parseRecipe({
      weights: { dtype: 'int8', scheme: 'symmetric', granularity: 'channel' },
      activations: { dtype: 'int8', scheme: 'symmetric', calibration: { method: 'minmax' } },
      algorithms, opTypes: ['MatMul'], calibration: { samples: 16, batchSize: 16 },
    });
    const { model, baseDir } = await loadModel(models.gptOutliers);
    const fp32 = await perplexity(serializeModel(model), val);
    const sq = await runSmoothQuant(model, baseDir, { alpha: 0.5 }, recipe([]), { input_ids: cal });
    // The ×40 LayerNorm channels are what it flattens.
    const ln = sq.groups.filter((g) => g.absorber.startsWith('LayerNormalization'));
    expect(ln.length).toBe(13); // ln1, ln2 of 6 blocks + ln_f
    expect(ln.every((g) => g.maxAfter < g.maxBefore / 4)).toBe(true);
    const FLOAT_EQUIV = 1e-3;
    expect(Math.abs(await perplexity(serializeModel(model), val) - fp32)).toBeLessThan(FLOAT_EQUIV);

    const dir = mkdtempSync(join(tmpdir(), 'qs-sq-'));
    try {
      const ppl: Record<string, number> = {};
      for (const algorithms of [[{ name: 'rtn' }], [{ name: 'smoothquant', alpha: 0.5 }]]) {
        const out = join(dir, `${algorithms[0]!.name}.onnx`);
        const rep = await quantizeModel({ modelPath: models.gptOutliers, outputPath: out, recipe: recipe(algorithms), inputs: { input_ids: cal }, evaluate: false });
        expect(rep.quantized.length).toBeGreaterThan(0);
        if (algorithms[0]!.name === 'smoothquant') {
          // Per-layer report: the q/k/v and fc layers behind the ×40 channels gain the most.
          const q = rep.quantized.find((x) => x.node === '/blocks.0/q/MatMul')!.algorithmErrors!.find((e) => e.algorithm === 'smoothquant')!;
          expect(q.outputErrorAfter!).toBeLessThan(q.outputErrorBefore! / 4);
        }
        ppl[algorithms[0]!.name] = await perplexity(readFileSync(out), val);
      }
      const FALLS_APART = 5, BACK_NEAR_FP32 = 0.08;
      expect(ppl.rtn!).toBeGreaterThan(FALLS_APART);
      expect(ppl.smoothquant! - fp32).toBeLessThan(BACK_NEAR_FP32);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
