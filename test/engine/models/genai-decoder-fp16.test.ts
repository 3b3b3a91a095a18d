// The onnxruntime-genai-style decoder in float16, as the GenAI builder writes models for GPUs (and
// users then bring to a CPU studio): GroupQueryAttention, RotaryEmbedding and the simplified norms
// run in float16 on onnxruntime's CPU; int8 QDQ and int4 MatMulNBits keep them so, from tokens only.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { saveModel, loadModel } from '../../../engine/onnx/model-io';
import { bytesToWindows } from '../../../engine/data/text-windows';
import { DataType } from '../../../engine/onnx/tensor';
import { sharedPath } from '../../helpers/shared';
import { fixtureDir, convertToFloat16 } from '../../fixtures/model-variants';
import { genaiDecoder, GENAI_DECODER } from '../../fixtures/genai-decoder';

const dir = mkdtempSync(join(tmpdir(), 'qs-genai-fp16-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = (f: string) => readFileSync(sharedPath('data', 'text', f));
let fp16: string;

beforeAll(async () => {
  mkdirSync(fixtureDir, { recursive: true });
  const m = genaiDecoder({ ...GENAI_DECODER, corpus: text('train.txt').subarray(0, 2_000_000) });
  convertToFloat16(m);
  fp16 = join(fixtureDir, 'genai-decoder-fp16.onnx');
  await saveModel(m, fp16);
});

describe('onnxruntime-genai-style decoder in float16', () => {
  // Bounds as for float32 (genai-decoder.test.ts); measured here: FP16 21.21 on val.txt, int8 21.41, int4 RTN 26.58.
  it.each([
    ['int8 QDQ', {}, 1.02],
    ['int4 MatMulNBits', { weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, format: 'matmulnbits' }, 1.35],
  ] as const)('%s: 15 MatMuls quantized, the cache stays float16, held-out perplexity close to the float16 model\'s', async (name, recipe, bound) => {
    const out = join(dir, `genai-fp16-${name.split(' ')[0]}.onnx`);
    const r = await quantizeModel({ modelPath: fp16, outputPath: out, recipe: parseRecipe(recipe), inputs: { input_ids: bytesToWindows(text('train.txt'), 64, 128) }, evalInputs: { input_ids: bytesToWindows(text('val.txt'), 32, 128) } });
    expect(r.quantized.length).toBe(15);
    expect(r.notices.join(' ')).toMatch(/Model computes in float16/);
    const x = r.metrics as Record<string, number>;
    expect(x.perplexityFp32).toBeLessThan(30);
    expect(x.perplexityQuantized! / x.perplexityFp32!).toBeLessThan(bound);
    const g = (await loadModel(out)).model.graph!;
    const past = g.input.find((i) => i.name === 'past_key_values.0.key')!.type!.value;
    expect(past.case === 'tensorType' && past.value.elemType).toBe(DataType.FLOAT16);
  });
});
