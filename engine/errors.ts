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
  let s: string;
  try { s = JSON.stringify(value) ?? String(value); } catch { s = String(value); }
  if (s.length > 120) s = s.slice(0, 117) + '...';
  return `'${s}'`;
}
