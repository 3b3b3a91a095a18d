// BERT- and ViT-style encoders as the Hugging Face exporters write them (Gather embeddings,
// LayerNormalization, attention as MatMul/Softmax, GELU via Erf; a Conv patch embedding and a class
// token for ViT), quantized with the default recipe. BERT is given token ids only (the mask and the
// token types are derived); every figure is on held-out data: val.txt windows, photos not calibrated on.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { saveModel } from '../../../engine/onnx/model-io';
import { bytesToWindows } from '../../../engine/data/text-windows';
import type { NpyArray } from '../../../engine/data/npy';
import { createSession, ort } from '../../../engine/runtime/session';
import { repoRoot, sharedPath } from '../../helpers/shared';
import { fixtureDir } from '../../fixtures/model-variants';
import { bertEncoder, vitEncoder, BERT_ENCODER, VIT_ENCODER } from '../../fixtures/encoder-exports';

const dir = mkdtempSync(join(tmpdir(), 'qs-encoders-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = (f: string) => readFileSync(sharedPath('data', 'text', f));
let bert: string, vit: string;

beforeAll(async () => {
  mkdirSync(fixtureDir, { recursive: true });
  bert = join(fixtureDir, 'bert-style-encoder.onnx');
  vit = join(fixtureDir, 'vit-style-encoder.onnx');
  await saveModel(bertEncoder(), bert);
  await saveModel(vitEncoder(), vit);
});

const ones = (n: number) => new BigInt64Array(n).fill(1n);
async function runAll(path: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  const s = await createSession(path, { device: 'cpu' });
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally { await s.release(); }
}
const ids64 = (ids: NpyArray, rows: number) => new ort.Tensor('int64', (ids.data as BigInt64Array).slice(0, rows * ids.shape[1]!), [rows, ids.shape[1]!]);
const cosine = (a: Float32Array, b: Float32Array) => { let ab = 0, aa = 0, bb = 0; for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! ** 2; bb += b[i]! ** 2; } return ab / Math.sqrt(aa * bb); };
/** Mean of last_hidden_state over the positions the mask keeps (a sentence embedding, as sentence-transformers pools). */
const meanPool = (h: Float32Array, B: number, T: number, D: number) => Array.from({ length: B }, (_, b) => {
  const e = new Float32Array(D);
  for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) e[d]! += h[(b * T + t) * D + d]! / T;
  return e;
});

describe('BERT-style encoder', () => {
  it('is a real encoder in onnxruntime: masked padding leaves the real positions as the unpadded sequence computes them', async () => {
    const ids = bytesToWindows(text('val.txt'), 1, 24);
    const D = BERT_ENCODER.dim;
    const short = await runAll(bert, { input_ids: ids64(bytesToWindows(text('val.txt'), 1, 16), 1), attention_mask: new ort.Tensor('int64', ones(16), [1, 16]), token_type_ids: new ort.Tensor('int64', new BigInt64Array(16), [1, 16]) });
    const mask = BigInt64Array.from({ length: 24 }, (_, t) => (t < 16 ? 1n : 0n));
    const padded = await runAll(bert, { input_ids: ids64(ids, 1), attention_mask: new ort.Tensor('int64', mask, [1, 24]), token_type_ids: new ort.Tensor('int64', new BigInt64Array(24), [1, 24]) });
    const a = short.last_hidden_state!, b = padded.last_hidden_state!.subarray(0, 16 * D);
    expect(a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0)).toBeLessThan(1e-4);
    // ...and the mask is read: unmasked, the padding changes them.
    const open = await runAll(bert, { input_ids: ids64(ids, 1), attention_mask: new ort.Tensor('int64', ones(24), [1, 24]), token_type_ids: new ort.Tensor('int64', new BigInt64Array(24), [1, 24]) });
    expect(open.last_hidden_state!.subarray(0, 16 * D).reduce((m, x, i) => Math.max(m, Math.abs(x - a[i]!)), 0)).toBeGreaterThan(1e-2);
  });

  it('default recipe from input_ids only: mask and token types derived, held-out SQNR >= 25 dB on both outputs, sentence embeddings kept', async () => {
    const out = join(dir, 'bert-int8.onnx');
    const val = bytesToWindows(text('val.txt'), 32, 64);
    const report = await quantizeModel({ modelPath: bert, outputPath: out, recipe: parseRecipe({}), inputs: { input_ids: bytesToWindows(text('train.txt'), 64, 64) }, evalInputs: { input_ids: val } });
    expect(report.notices.join(' ')).toMatch(/Derived attention_mask, token_type_ids from the token ids/);
    // 2 layers x (q, k, v, output, 2 FFN MatMuls + the 2 activation MatMuls of attention) + the pooler's Gemm.
    expect(report.quantized.length).toBe(17);
    expect(report.quantized.filter((q) => q.opType === 'Gemm').length).toBe(1);
    expect(report.evaluation!.source).toBe('eval-data');
    // Worst of last_hidden_state and pooler_output on the 32 held-out windows (measured 34.4 dB, the pooler).
    expect(report.outputAgreement!.sqnrDb).toBeGreaterThanOrEqual(25);
    // The task a BERT encoder serves most: sentence embeddings. Each held-out window's mean-pooled
    // embedding stays within cosine 0.999 of FP32's (measured worst 0.99994): a retrieval index built on FP32
    // embeddings still finds them.
    const B = 32, T = 64, D = BERT_ENCODER.dim;
    const feeds = { input_ids: ids64(val, B), attention_mask: new ort.Tensor('int64', ones(B * T), [B, T]), token_type_ids: new ort.Tensor('int64', new BigInt64Array(B * T), [B, T]) };
    const [f, q] = [await runAll(bert, feeds), await runAll(out, feeds)];
    const [ef, eq] = [meanPool(f.last_hidden_state!, B, T, D), meanPool(q.last_hidden_state!, B, T, D)];
    const worst = Math.min(...ef.map((e, i) => cosine(e, eq[i]!)));
    expect(worst).toBeGreaterThan(0.999);
  });

  it('DistilBERT-style (input_ids and attention_mask only): the data looks like an LM\'s windows, but no perplexity is made up from hidden states', async () => {
    const path = join(dir, 'distilbert-style.onnx');
    await saveModel(bertEncoder({ ...BERT_ENCODER, tokenTypes: false }), path);
    const report = await quantizeModel({ modelPath: path, outputPath: join(dir, 'distilbert-int8.onnx'), recipe: parseRecipe({}), inputs: { input_ids: bytesToWindows(text('train.txt'), 48, 64) } });
    expect(report.notices.join(' ')).toMatch(/Derived attention_mask from the token ids/);
    // last_hidden_state [B,T,64] against byte ids up to 255: 64 is a hidden size, not a vocabulary.
    expect(report.metrics).not.toHaveProperty('perplexityFp32');
    expect(report.outputAgreement!.sqnrDb).toBeGreaterThanOrEqual(25);
  });

  it('a padded batch: input_ids and attention_mask given, token_type_ids alone derived', async () => {
    const ids = bytesToWindows(text('train.txt'), 48, 32);
    const mask = BigInt64Array.from({ length: 48 * 32 }, (_, i) => (i % 32 < 32 - (Math.floor(i / 32) % 8) ? 1n : 0n));
    const report = await quantizeModel({ modelPath: bert, outputPath: join(dir, 'bert-padded.onnx'), recipe: parseRecipe({}), inputs: { input_ids: ids, attention_mask: { dtype: 'int64', shape: [48, 32], data: mask } } });
    expect(report.notices.join(' ')).toMatch(/Derived token_type_ids from the token ids/);
    expect(report.notices.join(' ')).not.toMatch(/Derived attention_mask/);
    expect(report.outputAgreement!.sqnrDb).toBeGreaterThanOrEqual(25);
  });
});

/** 32x32 RGB crops (normalised as ViT's processor does: (x/255 - 0.5) / 0.5) from photos scaled to 64x64. */
async function photoCrops(names: string[]): Promise<NpyArray> {
  const S = VIT_ENCODER.image, offsets = [0, 8, 16, 24, 32];
  const crops: number[][] = [];
  for (const name of names) {
    const rgb = await sharp(join(repoRoot, '.cache', 'test-assets', 'skimage-data', name)).resize(64, 64, { fit: 'cover' }).removeAlpha().toColourspace('srgb').raw().toBuffer();
    for (const oy of offsets) for (const ox of offsets) {
      const c: number[] = [];
      for (let ch = 0; ch < 3; ch++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) c.push((rgb[((oy + y) * 64 + ox + x) * 3 + ch]! / 255 - 0.5) / 0.5);
      crops.push(c);
    }
  }
  return { dtype: 'float32', shape: [crops.length, 3, S, S], data: Float32Array.from(crops.flat()) };
}

describe('ViT-style encoder', () => {
  it('default recipe on photo crops: Conv patch embedding, attention and classifier quantized; held-out photos keep their class and >= 25 dB', async () => {
    const calibration = await photoCrops(['astronaut.png', 'coffee.png', 'chelsea.png', 'rocket.jpg']);
    const held = await photoCrops(['motorcycle_left.png', 'retina.jpg']);
    const report = await quantizeModel({ modelPath: vit, outputPath: join(dir, 'vit-int8.onnx'), recipe: parseRecipe({}), inputs: { pixel_values: calibration }, evalInputs: { pixel_values: held } });
    expect(report.quantized.map((q) => q.opType).sort().filter((t, i, a) => a.indexOf(t) === i)).toEqual(['Conv', 'Gemm', 'MatMul']);
    expect(report.quantized.length).toBe(18);
    expect(report.evaluation!.samples).toBe(50);
    // 50 held-out crops, 10-way logits: measured 98 % top-1 agreement (49/50) and 36.7 dB; the bounds allow
    // 3 flips and sit ~12 dB under the measured SQNR.
    expect(report.outputAgreement!.top1Agreement).toBeGreaterThanOrEqual(0.94);
    expect(report.outputAgreement!.sqnrDb).toBeGreaterThanOrEqual(25);
  });
});
