// Text calibration through the model's own tokenizer (@huggingface/tokenizers): a byte-level BPE with
// no merges encodes exactly like the byte windows; with merges the windows hold fewer, longer tokens
// that decode back to the text; bad tokenizer files are refused naming the file.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { loadTokenizer, readTokenWindows } from '../../../engine/data/tokenizer';
import { readTextWindows } from '../../../engine/data/text-windows';
import { sharedPath } from '../../helpers/shared';
import { byteLevelBpe } from '../../fixtures/tokenizer';

const dir = mkdtempSync(join(tmpdir(), 'qs-tok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const corpus = sharedPath('data', 'text', 'val.txt');
const text = readFileSync(corpus, 'utf8');
const write = (name: string, json: unknown) => { const p = join(dir, name); writeFileSync(p, JSON.stringify(json)); return p; };

describe('tokenizer windows', () => {
  it('a byte-level BPE without merges gives exactly the byte windows', () => {
    const tok = write('bytes.json', byteLevelBpe(text, 0));
    const a = readTokenWindows(corpus, tok, 8, 128), b = readTextWindows(corpus, 8, 128);
    expect(a.shape).toEqual([8, 128]);
    expect(Array.from(a.data as BigInt64Array)).toEqual(Array.from(b.data as BigInt64Array));
  });

  it('with merges: fewer tokens per byte, ids inside the vocabulary, windows decode back to the text', () => {
    const json = byteLevelBpe(text.slice(0, 60_000), 300);
    const path = write('bpe.json', json);
    const t = loadTokenizer(path);
    expect(t.vocabSize).toBe(556);
    const w = readTokenWindows(corpus, path, 4, 256);
    const ids = Array.from(w.data as BigInt64Array, Number);
    expect(Math.max(...ids)).toBeLessThan(556);
    expect(ids.filter((i) => i >= 256).length).toBeGreaterThan(256);
    const decoded = new Tokenizer(json, {}).decode(ids);
    expect(text.startsWith(decoded)).toBe(true);
    expect(decoded.length).toBeGreaterThan(4 * 256 * 1.5);
  });

  it('refuses a file that is not a tokenizer, and text too short, naming the files', () => {
    const bad = write('not-tokenizer.json', { hello: 1 });
    expect(() => loadTokenizer(bad)).toThrow(/not-tokenizer\.json.*no "model" section/);
    expect(() => loadTokenizer(join(dir, 'missing.json'))).toThrow(/missing\.json/);
    const tok = write('bytes2.json', byteLevelBpe('abc', 0));
    const short = join(dir, 'short.txt'); writeFileSync(short, 'tiny text');
    expect(() => readTokenWindows(short, tok, 2, 64)).toThrow(/short\.txt.*too short for 2 windows of 64/);
  });
});
