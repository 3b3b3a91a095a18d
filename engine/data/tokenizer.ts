// Text -> token windows with the model's own tokenizer (a Hugging Face tokenizer.json, through the
// maintained @huggingface/tokenizers library, the tokenizer transformers.js uses): int64 [B,T], windows
// back to back from the start of the text, as the byte-level path cuts bytes (text-windows.ts).
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { StudioError, quote } from '../errors';
import type { NpyArray } from './npy';
import { readTextWindows } from './text-windows';

export interface TextTokenizer {
  /** Token ids of `text`, without special tokens (windows are cut from one running stream). */
  encode(text: string): number[];
  vocabSize: number;
  source: string;
}

/** tokenizer.json (and tokenizer_config.json beside it when present). */
export function loadTokenizer(path: string): TextTokenizer {
  const read = (p: string) => {
    try { return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>; } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new StudioError(code === 'ENOENT' ? 'NOT_FOUND' : 'BAD_DATA', `Cannot read tokenizer file ${quote(p)}: ${(e as Error).message}`, { cause: e });
    }
  };
  const json = read(path);
  if (!json.model || typeof json.model !== 'object') throw new StudioError('BAD_DATA', `Tokenizer file ${quote(path)} has no "model" section: it is not a Hugging Face tokenizer.json.`);
  const configPath = join(dirname(path), 'tokenizer_config.json');
  const config = existsSync(configPath) ? read(configPath) : {};
  let tok: Tokenizer;
  try { tok = new Tokenizer(json, config); } catch (e) {
    throw new StudioError('BAD_DATA', `Tokenizer ${quote(path)} cannot be built: ${(e as Error).message}`, { cause: e });
  }
  const vocab = (json.model as { vocab?: unknown }).vocab;
  const added = Array.isArray(json.added_tokens) ? json.added_tokens.length : 0;
  const vocabSize = (Array.isArray(vocab) ? vocab.length : vocab && typeof vocab === 'object' ? Object.keys(vocab).length : 0) + added;
  return { encode: (text) => tok.encode(text, { add_special_tokens: false }).ids, vocabSize, source: path };
}

/** `windows` windows of `length` tokens, back to back from the start of `text`. Encoded a paragraph at
 *  a time (blank-line separated, joined back with the separator) so a large file never goes through one
 *  giant regex run, and encoding stops as soon as enough tokens are there. */
export function textToTokenWindows(tok: TextTokenizer, text: string, windows: number, length: number, source = '<text>'): NpyArray {
  const need = windows * length;
  const ids: number[] = [];
  const parts = text.split(/(\n\s*\n)/);
  for (let i = 0; i < parts.length && ids.length < need; i++) {
    if (!parts[i]) continue;
    for (const id of tok.encode(parts[i]!)) ids.push(id);
  }
  if (ids.length < need) throw new StudioError('BAD_DATA', `Text ${quote(source)} is ${ids.length} tokens with tokenizer ${quote(tok.source)}: too short for ${windows} windows of ${length}.`);
  const data = new BigInt64Array(need);
  for (let i = 0; i < need; i++) data[i] = BigInt(ids[i]!);
  return { dtype: 'int64', shape: [windows, length], data };
}

export function readTokenWindows(textPath: string, tokenizerPath: string, windows = 128, length = 256): NpyArray {
  let text: string;
  try { text = readFileSync(textPath, 'utf8'); } catch (e) {
    throw new StudioError('NOT_FOUND', `Cannot read text file ${quote(textPath)}: ${(e as Error).message}`, { cause: e });
  }
  return textToTokenWindows(loadTokenizer(tokenizerPath), text, windows, length, textPath);
}

/** A `--data INPUT=corpus.txt` file: token windows with `tokenizerPath`, else byte windows (byte-level models). */
export function textCalibrationWindows(textPath: string, tokenizerPath?: string, windows = 128, length = 256): NpyArray {
  return tokenizerPath ? readTokenWindows(textPath, tokenizerPath, windows, length) : readTextWindows(textPath, windows, length);
}

/** The `tokenizer.json` Hugging Face exports keep beside the model, if there is one. */
export function tokenizerBeside(modelPath: string): string | undefined {
  const p = join(dirname(modelPath), 'tokenizer.json');
  return existsSync(p) ? p : undefined;
}
