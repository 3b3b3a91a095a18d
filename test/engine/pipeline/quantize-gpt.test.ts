// Acceptance on the byte GPT: opTypes ["MatMul"], 32 calibration windows from train.txt ->
// perplexity <= 4.027 on val.txt's first 128 windows of 256 bytes.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { readTextWindows } from '../../../engine/data/text-windows';
import { createSession } from '../../../engine/runtime/session';
import { perplexity } from '../../../engine/eval/task-metrics';
import { models, sharedPath } from '../../helpers/shared';

describe('quantizeModel on moby-gpt', () => {
  it('int8 MatMul: perplexity <= 4.027 (peer), 49 MatMuls quantized, 3.5x smaller', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qgpt-'));
    try {
      const out = join(dir, 'gpt-int8.onnx');
      const train = readTextWindows(sharedPath('data', 'text', 'train.txt'), 32, 256);
      const report = await quantizeModel({ modelPath: models.gpt, outputPath: out, recipe: parseRecipe({ opTypes: ['MatMul'] }), inputs: { input_ids: train }, evaluate: false });
      expect(report.quantized.length).toBe(49);
      expect(report.sizeBytes.quantized).toBeLessThan(report.sizeBytes.original / 3.5);
      const val = readTextWindows(sharedPath('data', 'text', 'val.txt'), 128, 256);
      const s = await createSession(out, { device: 'cpu' });
      const ppl = await perplexity(s, val, { batchSize: 16 });
      await s.release();
      expect(ppl).toBeLessThanOrEqual(4.027);
      expect(ppl).toBeGreaterThan(3.99); // FP32 is 3.998: a number this low would mean nothing was quantized
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
