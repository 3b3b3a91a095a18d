// Transformer exports as users have them: given token ids only, the pipeline derives attention_mask,
// position_ids, token_type_ids and an empty KV cache, calibrates and evaluates, and says what it derived.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { validateInputs, deriveAuxiliaryInputs } from '../../../engine/pipeline/validate-inputs';
import { saveModel, loadModel } from '../../../engine/onnx/model-io';
import { bytesToWindows } from '../../../engine/data/text-windows';
import { createSession } from '../../../engine/runtime/session';
import { perplexity } from '../../../engine/eval/task-metrics';
import { sharedPath } from '../../helpers/shared';
import { decoderExport, mergedDecoderExport } from '../../fixtures/transformer-exports';
import { fixtureDir } from '../../fixtures/model-variants';

const dir = mkdtempSync(join(tmpdir(), 'qs-tx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ids = () => bytesToWindows(readFileSync(sharedPath('data', 'text', 'train.txt')), 32, 64);
let decoder: string, encoder: string;
let decoderModel: Awaited<ReturnType<typeof loadModel>>['model'];

beforeAll(async () => {
  mkdirSync(fixtureDir, { recursive: true });
  decoder = join(fixtureDir, 'optimum-decoder.onnx');
  encoder = join(fixtureDir, 'bert-encoder.onnx');
  await saveModel(decoderExport('decoder'), decoder);
  await saveModel(decoderExport('encoder'), encoder);
  decoderModel = (await loadModel(decoder)).model;
});

describe('transformer exports', () => {
  it('derives mask, positions and an empty cache from input_ids alone', async () => {
    const inputs: Record<string, ReturnType<typeof ids>> = { input_ids: ids() };
    const v = validateInputs((await loadModel(decoder)).model, inputs, decoder);
    expect(Object.keys(inputs).sort()).toEqual(['attention_mask', 'input_ids', 'past_key_values.0.key', 'past_key_values.0.value', 'position_ids']);
    expect(inputs.attention_mask!.shape).toEqual([32, 64]);
    expect(Array.from(inputs.position_ids!.data.subarray(64, 68) as BigInt64Array)).toEqual([0n, 1n, 2n, 3n]);
    expect(inputs['past_key_values.0.key']!.shape).toEqual([32, 2, 0, 16]);
    expect(v.notices[0]).toMatch(/Derived attention_mask, position_ids, past_key_values\.0\.key, past_key_values\.0\.value/);
  });

  it('windows longer than the model\'s positions are refused before calibration, saying so', async () => {
    const long = bytesToWindows(readFileSync(sharedPath('data', 'text', 'train.txt')), 4, 300);
    expect(() => validateInputs(decoderModel, { input_ids: long }, decoder)).toThrow(/reaches position 299, but model .* embeds 256 positions .*use windows of at most 256 tokens/);
  });

  it('decoder: default int8 recipe with tokens only, evaluated on the derived inputs', async () => {
    const report = await quantizeModel({ modelPath: decoder, outputPath: join(dir, 'dec.onnx'), recipe: parseRecipe({ opTypes: ['MatMul'] }), inputs: { input_ids: ids() } });
    expect(report.quantized.length).toBe(5);
    expect(report.notices.join(' ')).toMatch(/Derived attention_mask/);
    expect(report.outputAgreement!.sqnrDb).toBeGreaterThan(15);
  });

  it('perplexity of the export and its int8 model with the derived inputs', async () => {
    const out = join(dir, 'dec-ppl.onnx');
    await quantizeModel({ modelPath: decoder, outputPath: out, recipe: parseRecipe({ opTypes: ['MatMul'] }), inputs: { input_ids: ids() }, evaluate: false });
    const inputs: Record<string, ReturnType<typeof ids>> = { input_ids: ids() };
    validateInputs((await loadModel(decoder)).model, inputs, decoder);
    const ppl = async (p: string) => { const s = await createSession(p, { device: 'cpu' }); try { return await perplexity(s, inputs.input_ids!, { inputs }); } finally { await s.release(); } };
    const [a, b] = [await ppl(decoder), await ppl(out)];
    expect(Number.isFinite(a)).toBe(true);
    expect(Math.abs(b - a) / a).toBeLessThan(0.05);
  });

  it('merged decoder (use_cache_branch If): tokens only, both branches quantized, the taken one calibrated', async () => {
    const merged = join(fixtureDir, 'optimum-merged-decoder.onnx');
    await saveModel(mergedDecoderExport(), merged);
    const report = await quantizeModel({ modelPath: merged, outputPath: join(dir, 'merged.onnx'), recipe: parseRecipe({ opTypes: ['MatMul'] }), inputs: { input_ids: ids() } });
    expect(report.notices.join(' ')).toMatch(/Derived .*use_cache_branch/);
    expect(report.quantized.length).toBe(10);
    expect(report.outputAgreement!.sqnrDb).toBeGreaterThan(15);
    const int4 = await quantizeModel({ modelPath: merged, outputPath: join(dir, 'merged-int4.onnx'), recipe: parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, format: 'matmulnbits', opTypes: ['MatMul'] }), inputs: { input_ids: ids() } });
    expect(int4.quantized.length).toBe(10);
  });

  it('BERT-style encoder: token_type_ids derived', async () => {
    const report = await quantizeModel({ modelPath: encoder, outputPath: join(dir, 'enc.onnx'), recipe: parseRecipe({ opTypes: ['MatMul'] }), inputs: { input_ids: ids() } });
    expect(report.notices.join(' ')).toMatch(/Derived attention_mask, token_type_ids/);
    expect(report.outputAgreement!.sqnrDb).toBeGreaterThan(15);
  });
});

describe('auxiliary inputs of ORT GenAI-style decoders', () => {
  it('seqlens_k (T-1 per sequence) and total_sequence_length (T) come from input_ids', () => {
    const inputs: Record<string, ReturnType<typeof ids>> = { input_ids: ids() };
    const made = deriveAuxiliaryInputs([
      { name: 'input_ids', dtype: 'int64', dims: ['batch_size', 'sequence_length'] },
      { name: 'seqlens_k', dtype: 'int32', dims: ['batch_size'] },
      { name: 'total_sequence_length', dtype: 'int32', dims: [] },
      { name: 'past_key_values.0.key', dtype: 'float16', dims: ['batch_size', 4, 'past_sequence_length', 8] },
    ], inputs);
    expect(made).toEqual(['seqlens_k', 'total_sequence_length', 'past_key_values.0.key']);
    expect(Array.from(inputs.seqlens_k!.data as Int32Array)).toEqual(Array(32).fill(63));
    expect(inputs.total_sequence_length).toMatchObject({ shape: [], data: Int32Array.of(64) });
    expect(inputs['past_key_values.0.key']).toMatchObject({ dtype: 'float16', shape: [32, 4, 0, 8] });
  });
});
