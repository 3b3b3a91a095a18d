// JSON from users (a recipe file) is bounded before it is parsed: a size cap, so a multi-gigabyte or
// endless file (/dev/zero) is not read whole, and a nesting cap, so schema checks and error messages
// that walk the value recursively never meet 100000 nested brackets ("Maximum call stack size").
import { openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { StudioError, type StudioErrorCode } from '../errors';

export interface JsonLimits {
  /** Largest accepted text, in bytes. */
  maxBytes: number;
  /** Deepest accepted nesting of arrays and objects. */
  maxDepth: number;
}

/** A recipe is a few hundred bytes; an exclude list of thousands of node names stays far under 4 MiB,
 *  and no recipe key nests deeper than a handful of levels. */
export const RECIPE_JSON_LIMITS: JsonLimits = { maxBytes: 4 * 2 ** 20, maxDepth: 32 };

/** Deepest nesting of `[`/`{` in `text`, outside strings; stops counting once past `stopAt`. */
export function jsonNestingDepth(text: string, stopAt = Infinity): number {
  let depth = 0, deepest = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) { if (++depth > deepest) { deepest = depth; if (deepest > stopAt) return deepest; } }
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Parse `text` as JSON within `limits`; every refusal is a StudioError(`code`) naming `what`. */
export function parseJsonBounded(text: string, what: string, limits: JsonLimits, code: StudioErrorCode = 'BAD_ARGUMENT'): unknown {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxBytes) throw new StudioError(code, `${what} is ${bytes} bytes, over the ${limits.maxBytes}-byte limit for this file.`);
  const depth = jsonNestingDepth(text, limits.maxDepth);
  if (depth > limits.maxDepth) throw new StudioError(code, `${what} nests arrays/objects more than ${limits.maxDepth} levels deep; no valid file needs that.`);
  try { return JSON.parse(text); } catch (e) {
    throw new StudioError(code, `${what} is not valid JSON: ${(e as Error).message}.`);
  }
}

/** Read a text file the user named, refusing it (not reading on) once it passes `maxBytes`:
 *  the size is not trusted from stat alone, since devices and pipes report 0. */
export function readTextFileBounded(path: string, what: string, maxBytes: number, code: StudioErrorCode = 'BAD_ARGUMENT'): string {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    throw new StudioError(c === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR', `${what} ${c === 'ENOENT' ? 'does not exist' : `cannot be read: ${(e as Error).message}`}.`, { cause: e });
  }
  try {
    const info = fstatSync(fd);
    if (info.isDirectory()) throw new StudioError('IO_ERROR', `${what} is a folder, not a file.`);
    if (info.size > maxBytes) throw new StudioError(code, `${what} is ${info.size} bytes, over the ${maxBytes}-byte limit for this file.`);
    const chunks: Buffer[] = [];
    let got = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(1 << 20, maxBytes + 1 - got));
      const r = readSync(fd, chunk, 0, chunk.length, null);
      if (r === 0) break;
      chunks.push(chunk.subarray(0, r));
      got += r;
      if (got > maxBytes) throw new StudioError(code, `${what} is over the ${maxBytes}-byte limit for this file.`);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    if (e instanceof StudioError) throw e;
    throw new StudioError('IO_ERROR', `${what} cannot be read: ${(e as Error).message}.`, { cause: e });
  } finally {
    closeSync(fd);
  }
}

