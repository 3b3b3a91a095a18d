// `qstudio quantize MODEL --data input_ids=corpus.txt --tokenizer tokenizer.json` through the real bin:
// a transformer export (Optimum-shaped decoder fixture) calibrated from text with its own tokenizer,
// the tokenizer.json beside the model found without the flag, and ids past the model's embedding table
// refused before calibration.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../../../engine/onnx/model-io';
import { decoderExport } from '../../fixtures/transformer-exports';
import { byteLevelBpe } from '../../fixtures/tokenizer';
import { repoRoot, sharedPath } from '../../helpers/shared';

const bin = join(repoRoot, 'bin', 'qstudio.mjs');
const dir = mkdtempSync(join(tmpdir(), 'qs-textcli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const corpus = sharedPath('data', 'text', 'train.txt');
const text = readFileSync(corpus, 'utf8');
const run = (args: string[]) => spawnSync(process.execPath, [bin, 'quantize', ...args], { encoding: 'utf8', cwd: dir, timeout: 300_000 });
const recipe = join(dir, 'recipe.json');

beforeAll(async () => {
  await saveModel(decoderExport('decoder'), join(dir, 'model.onnx'));
  // The model embeds 256 tokens: a byte-level BPE with no merges is its tokenizer; one with merges is not.
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteLevelBpe(text.slice(0, 20_000), 0)));
  writeFileSync(join(dir, 'other-tokenizer.json'), JSON.stringify(byteLevelBpe(text.slice(0, 20_000), 200)));
  writeFileSync(recipe, JSON.stringify({ opTypes: ['MatMul'], calibration: { samples: 16, batchSize: 8 } }));
});

describe('text calibration from the CLI', () => {
  it('--tokenizer: token windows, auxiliary inputs derived, model written', () => {
    const r = run(['model.onnx', '-o', 'out.onnx', '--recipe', recipe, '--data', `input_ids=${corpus}`, '--tokenizer', 'tokenizer.json', '--no-eval', '-q']);
    expect(r.stderr + r.stdout).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'out.onnx'))).toBe(true);
    expect(r.stdout).toMatch(/Quantized 5 node/);
  });

  it('the tokenizer.json beside the model is used without the flag', async () => {
    // Beside this copy of the model sits a BPE with merges: its ids (>= 256) show it was the one used;
    // byte windows would have passed.
    const other = join(dir, 'beside');
    mkdirSync(other);
    await saveModel(decoderExport('decoder'), join(other, 'model.onnx'));
    copyFileSync(join(dir, 'other-tokenizer.json'), join(other, 'tokenizer.json'));
    const r = run([join(other, 'model.onnx'), '-o', 'out2.onnx', '--recipe', recipe, '--data', `input_ids=${corpus}`, '--no-eval', '-q']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/holds token id (2[5-9]\d|[3-9]\d\d)/);
  });

  it('a tokenizer of another vocabulary is refused before calibration, naming the embedding', () => {
    const r = run(['model.onnx', '-o', 'bad.onnx', '--recipe', recipe, '--data', `input_ids=${corpus}`, '--tokenizer', 'other-tokenizer.json', '-q']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/token id \d+, but model .* embeds 256 tokens .*embed/);
    expect(r.stderr).not.toMatch(/calibrat/i);
    expect(existsSync(join(dir, 'bad.onnx'))).toBe(false);
  });
});
