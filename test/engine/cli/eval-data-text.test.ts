// --eval-data takes text as --data does: INPUT=TEXT.txt becomes token windows through --tokenizer (or
// the tokenizer.json beside the model), byte windows without one — so a transformer export's held-out
// perplexity can be measured on a text file, its other inputs derived from the tokens.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../../engine/cli/args';
import { readEvalFlags } from '../../../engine/cli/data-flags';
import { textCalibrationWindows } from '../../../engine/data/tokenizer';
import { saveModel } from '../../../engine/onnx/model-io';
import { sharedPath } from '../../helpers/shared';
import { byteLevelBpe } from '../../fixtures/tokenizer';
import { genaiDecoder } from '../../fixtures/genai-decoder';

const dir = mkdtempSync(join(tmpdir(), 'qs-eval-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FLAGS = [{ name: 'eval-data', takesValue: true, repeatable: true }, { name: 'eval-labels', takesValue: true }, { name: 'tokenizer', takesValue: true }];
const val = sharedPath('data', 'text', 'val.txt');

describe('--eval-data INPUT=TEXT.txt', () => {
  it('byte windows without a tokenizer, token windows with --tokenizer or a tokenizer.json beside the model', async () => {
    const model = join(dir, 'model.onnx');
    await saveModel(genaiDecoder(), model);
    const bytes = await readEvalFlags(parseArgs(['--eval-data', `input_ids=${val}`], FLAGS, 'quantize'), model);
    expect(bytes.evalInputs!.input_ids).toEqual(textCalibrationWindows(val));
    expect(bytes.evalInputs!.input_ids!.shape).toEqual([128, 256]);

    const tok = join(dir, 'bpe.json');
    writeFileSync(tok, JSON.stringify(byteLevelBpe(readFileSync(sharedPath('data', 'text', 'train.txt'), 'utf8').slice(0, 200_000), 40)));
    const viaFlag = await readEvalFlags(parseArgs(['--eval-data', `input_ids=${val}`, '--tokenizer', tok], FLAGS, 'quantize'), model);
    const expected = textCalibrationWindows(val, tok);
    expect(viaFlag.evalInputs!.input_ids).toEqual(expected);
    // Merged tokens: not the byte windows.
    expect(Math.max(...Array.from(expected.data as BigInt64Array, Number))).toBeGreaterThanOrEqual(256);

    copyFileSync(tok, join(dir, 'tokenizer.json'));
    const beside = await readEvalFlags(parseArgs(['--eval-data', `input_ids=${val}`], FLAGS, 'quantize'), model);
    expect(beside.evalInputs!.input_ids).toEqual(expected);
  });
});
