// One error type for the whole engine. `code` is stable (tests, IPC and the CLI key on it);
// `message` names the file, node, tensor or key and quotes the bad value.
export type StudioErrorCode =
  | 'BAD_ARGUMENT'
  | 'BAD_RECIPE'
  | 'BAD_MODEL'
  | 'BAD_DATA'
  | 'UNSUPPORTED_OP'
  | 'NOT_FOUND'
  | 'IO_ERROR'
  | 'DB_ERROR'
  | 'DB_CORRUPT'
  | 'DB_LOCKED'
  | 'CANCELLED'
  | 'JOB_FAILED'
  | 'NATIVE_UNAVAILABLE'
  | 'RUNTIME_ERROR'
  | 'INTERNAL';

export class StudioError extends Error {
  readonly code: StudioErrorCode;
  readonly details?: Record<string, unknown>;
  constructor(code: StudioErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'StudioError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isStudioError(e: unknown): e is StudioError {
  return e instanceof StudioError || (typeof e === 'object' && e !== null && (e as { name?: string }).name === 'StudioError' && typeof (e as { code?: unknown }).code === 'string');
}

/** Plain `{ code, message }` for IPC, the job runner and the CLI. */
export function toErrorPayload(e: unknown): { code: string; message: string } {
  if (isStudioError(e)) return { code: e.code, message: e.message };
  if (e instanceof Error) return { code: 'INTERNAL', message: e.message };
  return { code: 'INTERNAL', message: String(e) };
}

/** Quote a value the way error messages do: `'${JSON.stringify(value)}'`, shortened. */
export function quote(value: unknown): string {
  let s = jsonPreview(value, QUOTE_MAX + 1);
  if (s.length > QUOTE_MAX) s = s.slice(0, QUOTE_MAX - 3) + '...';
  return `'${s}'`;
}

const QUOTE_MAX = 120;

/** A literal piece of output on jsonPreview's work stack (as opposed to a value still to render). */
class Piece { constructor(readonly text: string) {} }

/** JSON.stringify's text for plain data, but iterative and stopping once `limit` characters are out:
 *  an error message about a 100000-deep array or a 10^8-element one must not overflow the stack or
 *  walk it all (JSON.stringify and String() both recurse through nested arrays). */
function jsonPreview(value: unknown, limit: number): string {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return String(value);
  let out = '';
  const stack: unknown[] = [value];
  while (stack.length && out.length < limit) {
    let v = stack.pop();
    if (v instanceof Piece) { out += v.text; continue; }
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      try { v = (v as { toJSON: () => unknown }).toJSON(); } catch { v = String(v); }
    }
    if (v === null || v === undefined || typeof v === 'function' || typeof v === 'symbol') { out += 'null'; continue; }
    if (typeof v === 'string') { out += JSON.stringify(v.length > limit ? v.slice(0, limit) : v); continue; }
    if (typeof v === 'number') { out += Number.isFinite(v) ? String(v) : 'null'; continue; }
    if (typeof v === 'boolean' || typeof v === 'bigint') { out += String(v); continue; }
    // Only as many members as could still show: each one adds at least one character.
    const room = limit - out.length;
    if (Array.isArray(v)) {
      const items = v.slice(0, room);
      stack.push(new Piece(v.length > room ? ',...]' : ']'));
      for (let i = items.length - 1; i >= 0; i--) { stack.push(items[i]); if (i > 0) stack.push(new Piece(',')); }
      out += '[';
      continue;
    }
    const obj = v as Record<string, unknown>;
    const keys: string[] = [];
    for (const k in obj) {
      if (!Object.prototype.hasOwnProperty.call(obj, k)) continue;
      const x = obj[k];
      if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
      keys.push(k);
      if (keys.length > room) break;
    }
    stack.push(new Piece('}'));
    for (let i = Math.min(keys.length, room) - 1; i >= 0; i--) {
      stack.push(obj[keys[i]!]);
      stack.push(new Piece(`${i > 0 ? ',' : ''}${JSON.stringify(keys[i]!.slice(0, limit))}:`));
    }
    out += '{';
  }
  return out;
}
