// A tiny validator kit for the IPC contract. Hand-written on purpose: the contract imports nothing,
// runs in the sandboxed preload, the main process, the browser host and the renderer alike.
// Each validator checks an unknown value and returns it typed, or throws ContractError whose
// message names the field path and quotes the bad value (house style).

export class ContractError extends Error {
  readonly code = 'BAD_ARGUMENT';
  constructor(message: string) {
    super(message);
    this.name = 'ContractError';
  }
}

export interface Validator<T> {
  (value: unknown, path: string): T;
  /** Set by opt(): the key may be absent in an object. */
  readonly optional?: boolean;
}
export type Infer<V> = V extends Validator<infer T> ? T : never;

export function quoteValue(value: unknown): string {
  let s: string;
  try { s = JSON.stringify(value) ?? String(value); } catch { s = String(value); }
  if (s.length > 80) s = s.slice(0, 77) + '...';
  return `'${s}'`;
}

function fail(path: string, expected: string, value: unknown): never {
  throw new ContractError(`Expected ${expected} for ${path} but received ${quoteValue(value)}.`);
}

export const str = (o: { min?: number; max?: number; pattern?: RegExp } = {}): Validator<string> => (v, p) => {
  const max = o.max ?? 4096;
  if (typeof v !== 'string') fail(p, 'a string', v);
  if (v.length < (o.min ?? 0) || v.length > max) fail(p, `a string of ${o.min ?? 0}..${max} characters`, v);
  if (o.pattern && !o.pattern.test(v)) fail(p, `a string matching ${o.pattern}`, v);
  return v;
};

export const num = (o: { min?: number; max?: number; int?: boolean } = {}): Validator<number> => (v, p) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(p, 'a finite number', v);
  if (o.int && !Number.isInteger(v)) fail(p, 'an integer', v);
  if (o.min !== undefined && v < o.min) fail(p, `a number >= ${o.min}`, v);
  if (o.max !== undefined && v > o.max) fail(p, `a number <= ${o.max}`, v);
  return v;
};

export const bool: Validator<boolean> = (v, p) => (typeof v === 'boolean' ? v : fail(p, 'a boolean', v));

export const oneOf = <const T extends readonly (string | number)[]>(...values: T): Validator<T[number]> => (v, p) =>
  values.includes(v as T[number]) ? (v as T[number]) : fail(p, `one of ${values.join(', ')}`, v);

export type OptValidator<T> = Validator<T | undefined> & { readonly optional: true };
export const opt = <T>(inner: Validator<T>): OptValidator<T> => {
  const f = (v: unknown, p: string) => (v === undefined ? undefined : inner(v, p));
  return Object.assign(f, { optional: true as const });
};

export const nullable = <T>(inner: Validator<T>): Validator<T | null> => (v, p) => (v === null ? null : inner(v, p));

export const arr = <T>(item: Validator<T>, o: { max?: number } = {}): Validator<T[]> => (v, p) => {
  if (!Array.isArray(v)) fail(p, 'an array', v);
  const max = o.max ?? 100_000;
  if (v.length > max) fail(p, `an array of at most ${max} items`, `length ${v.length}`);
  return v.map((x, i) => item(x, `${p}[${i}]`));
};

export const record = <T>(value: Validator<T>, o: { maxKeys?: number } = {}): Validator<Record<string, T>> => (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, 'an object', v);
  const keys = Object.keys(v);
  if (keys.length > (o.maxKeys ?? 10_000)) fail(p, `an object with at most ${o.maxKeys ?? 10_000} keys`, `${keys.length} keys`);
  const out: Record<string, T> = {};
  for (const k of keys) out[k] = value((v as Record<string, unknown>)[k], `${p}.${k}`);
  return out;
};

type OptKeys<S> = { [K in keyof S]: S[K] extends { readonly optional: true } ? K : never }[keyof S];
type Shape = Record<string, Validator<unknown>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type ObjOf<S extends Shape> = Simplify<
  { [K in Exclude<keyof S, OptKeys<S>>]: Infer<S[K]> } & { [K in OptKeys<S>]?: Infer<S[K]> }
>;

/** A plain object with exactly these keys (unknown keys are rejected: they are usually typos). */
export const obj = <S extends Shape>(shape: S): Validator<ObjOf<S>> => (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, 'an object', v);
  const src = v as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    if (!Object.prototype.hasOwnProperty.call(shape, k)) {
      throw new ContractError(`Unknown key ${p}.${k} (allowed: ${Object.keys(shape).join(', ') || 'none'}); received ${quoteValue(src[k])}.`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, check] of Object.entries(shape)) {
    const val = check(src[k], `${p}.${k}`);
    if (val !== undefined) out[k] = val;
  }
  return out as ObjOf<S>;
};

/** A union tagged by `key`: picks the branch by the tag's value. */
export const tagged = <K extends string, B extends Record<string, Validator<unknown>>>(key: K, branches: B): Validator<Infer<B[keyof B]>> => (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, 'an object', v);
  const tag = (v as Record<string, unknown>)[key];
  const branch = typeof tag === 'string' && Object.prototype.hasOwnProperty.call(branches, tag) ? branches[tag] : undefined;
  if (!branch) fail(`${p}.${key}`, `one of ${Object.keys(branches).join(', ')}`, tag);
  return branch(v, p) as Infer<B[keyof B]>;
};

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Any JSON value, bounded in depth and size (recipes, pipeline graphs, free-form params). */
export const json = (o: { maxDepth?: number; maxNodes?: number } = {}): Validator<Json> => (v, p) => {
  const maxDepth = o.maxDepth ?? 32;
  let budget = o.maxNodes ?? 200_000;
  const walk = (x: unknown, path: string, depth: number): Json => {
    if (--budget < 0) fail(p, `JSON with at most ${o.maxNodes ?? 200_000} values`, '(too large)');
    if (depth > maxDepth) fail(path, `JSON nested at most ${maxDepth} deep`, '(too deep)');
    if (x === null || typeof x === 'boolean' || typeof x === 'string') return x;
    if (typeof x === 'number') return Number.isFinite(x) ? x : fail(path, 'a finite number', String(x));
    if (Array.isArray(x)) return x.map((e, i) => walk(e, `${path}[${i}]`, depth + 1));
    if (typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype || (typeof x === 'object' && Object.getPrototypeOf(x) === null)) {
      const out: { [k: string]: Json } = {};
      for (const [k, e] of Object.entries(x as object)) out[k] = walk(e, `${path}.${k}`, depth + 1);
      return out;
    }
    return fail(path, 'a JSON value', typeof x);
  };
  return walk(v, p, 0);
};

export const jsonObject = (o?: { maxDepth?: number; maxNodes?: number }): Validator<{ [k: string]: Json }> => {
  const inner = json(o);
  return (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, 'an object', v);
    return inner(v, p) as { [k: string]: Json };
  };
};
