// GPTQ with fewer calibration tokens than a layer has inputs: the layer's Hessian (XᵀX over the tokens)
// is rank-deficient and GPTQ overfits the calibration rows. The run must say so — in the report's
// warnings list (which the studio shows) and in the CLI summary — naming the layers, and must not say
// so when the tokens suffice. The LLaMA-style fixture's MLP down projections are 128 wide, the others 64.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseRecipe } from '../../../../engine/pipeline/recipe';
import { quantizeModel } from '../../../../engine/pipeline/quantize';
import { formatSummary } from '../../../../engine/cli/summary';
import type { DataWarning } from '../../../../contract/report';
import { buildLlamaFixture } from './llama-fixture';
import { textWindows } from './lm-helpers';

const { bytes, seq } = buildLlamaFixture();
// Evaluation data of its own, so every calibration window reaches GPTQ (no held-out split).
const evalInputs = { input_ids: textWindows('val.txt', 2, seq) };
const recipe = (samples: number) => parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, algorithms: [{ name: 'gptq' }], opTypes: ['MatMul'], format: 'matmulnbits', prefill: 'matmulnbits', calibration: { samples, batchSize: 16 } });

describe('GPTQ calibration tokens against layer width', () => {
  it('warns when a layer has more inputs than calibration tokens, naming those layers; not when the tokens suffice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qs-gptq-tokens-'));
    try {
      const src = join(dir, 'llama.onnx');
      writeFileSync(src, bytes);
      // 3 windows of 32 tokens = 96 tokens: enough for the 64-wide layers, not for the 128-wide ones.
      const few = await quantizeModel({ modelPath: src, outputPath: join(dir, 'few.onnx'), recipe: recipe(3), inputs: { input_ids: textWindows('train.txt', 3, seq) }, evalInputs, evaluate: false });
      const w = (few.warnings ?? []).filter((x): x is DataWarning => x.metric === 'calibration-tokens');
      expect(w.length).toBe(1);
      expect(w[0]!.value).toBe(3 * seq);
      expect(w[0]!.threshold).toBe(128);
      expect(w[0]!.layers.length).toBe(2); // the two MLP down projections
      expect(w[0]!.layers.every((l) => l.width === 128 && l.tokens === 96 && /down/i.test(l.node))).toBe(true);
      expect(w[0]!.message).toMatch(/fewer calibration tokens than inputs for 2 layer\(s\).*rank-deficient.*at least 128 tokens/);
      expect(formatSummary(few)).toContain(`WARNING: ${w[0]!.message}`);

      const enough = await quantizeModel({ modelPath: src, outputPath: join(dir, 'enough.onnx'), recipe: recipe(16), inputs: { input_ids: textWindows('train.txt', 16, seq) }, evalInputs, evaluate: false });
      expect((enough.warnings ?? []).filter((x) => x.metric === 'calibration-tokens')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
