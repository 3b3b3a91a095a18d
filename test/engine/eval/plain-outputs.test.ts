// evaluateRun's plainOutputs: the output figures of the written model as it runs. The per-layer pass
// adds the compared tensors as graph outputs, which keeps onnxruntime from fusing across them on the GPT's
// MatMulNBits export (bias Adds, SkipLayerNormalization), so its perplexity is not quite the model's.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { loadModel } from '../../../engine/onnx/model-io';
import { evaluateRun } from '../../../engine/eval/evaluate-run';
import { splitEvaluation } from '../../../engine/eval/eval-data';
import type { QuantizeReport } from '../../../contract/report';
import { models } from '../../helpers/shared';
import { textWindows, perplexity } from '../quant/algorithms/lm-helpers';

describe('evaluateRun plainOutputs', () => {
  let dir = '';
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'qplain-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the written model\'s own perplexity; the per-layer errors are the same either way', async () => {
    const out = join(dir, 'gpt-int4.onnx');
    const cal = { input_ids: textWindows('train.txt', 16) }, ev = textWindows('val.txt', 8);
    const recipe = parseRecipe({ activations: null, opTypes: ['MatMul'], format: 'matmulnbits', weights: { dtype: 'int4', granularity: { group: 32 } }, prefill: 'matmulnbits' });
    await quantizeModel({ modelPath: models.gpt, outputPath: out, recipe, inputs: cal, evaluate: false });
    const original = (await loadModel(models.gpt)).model, quantized = (await loadModel(out)).model;
    const inits = new Set(original.graph!.initializer.map((t) => t.name));
    const nodes = original.graph!.node.filter((n) => n.opType === 'MatMul' && n.input.some((i) => inits.has(i))).map((n) => ({ node: n.name, opType: n.opType, tensor: n.output[0]! }));
    const evaluation = splitEvaluation({ inputs: cal, evalInputs: { input_ids: ev } }).evaluation!;
    const run = async (plainOutputs: boolean) => {
      const rep = { notices: [] } as unknown as QuantizeReport;
      await evaluateRun(rep, { original, quantized, nodes, evaluation, batchSize: 8, plainOutputs });
      return rep;
    };
    const instrumented = await run(false), plain = await run(true);
    const own = await perplexity(out, ev, { batch: 8, threads: 1 });
    expect(plain.layers.length).toBeGreaterThan(30);
    expect(plain.layers).toEqual(instrumented.layers);
    expect(plain.metrics!.perplexityQuantized).toBeCloseTo(own, 5);
    // Without plainOutputs the figure is the instrumented copy's, which differs from the model's own.
    expect(Math.abs(instrumented.metrics!.perplexityQuantized! - own)).toBeGreaterThan(1e-5);
  }, 240_000);
});
