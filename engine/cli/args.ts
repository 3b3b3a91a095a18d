// Command-line parsing for qstudio: flags with values, repeatable flags, positionals. Errors name the flag.
import { StudioError, quote } from '../errors';

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string[]>;
}

export interface FlagSpec { name: string; alias?: string; takesValue: boolean; repeatable?: boolean }

export function parseArgs(argv: string[], specs: FlagSpec[], command: string): ParsedArgs {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) { byName.set(`--${s.name}`, s); if (s.alias) byName.set(s.alias, s); }
  const positionals: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('-') && a.length > 1) {
      const [key, inline] = a.includes('=') && a.startsWith('--') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      const spec = byName.get(key);
      if (!spec) throw new StudioError('BAD_ARGUMENT', `Unknown option ${quote(key)} for "qstudio ${command}" (options: ${specs.map((s) => `--${s.name}`).join(', ')}).`);
      let value = 'true';
      if (spec.takesValue) {
        value = inline ?? argv[++i] ?? '';
        if (inline === undefined && (value === '' || (value.startsWith('-') && value.length > 1))) throw new StudioError('BAD_ARGUMENT', `Option ${quote(key)} needs a value.`);
      }
      const list = flags.get(spec.name) ?? [];
      if (list.length && !spec.repeatable) throw new StudioError('BAD_ARGUMENT', `Option --${spec.name} is given twice.`);
      list.push(value);
      flags.set(spec.name, list);
    } else positionals.push(a);
  }
  return { positionals, flags };
}

/** Upper bounds for counts users type: beyond them a value is a typo, and taking it literally would
 *  start that many threads or workers (100000 onnxruntime threads hang the process). */
export const MAX_THREADS = 256;
export const MAX_WORKERS = 64;

/** An integer flag in [min, max] (undefined when absent); refused with BAD_ARGUMENT naming the flag. */
export function intFlag(p: ParsedArgs, name: string, max: number, min = 1): number | undefined {
  const v = p.flags.get(name)?.[0];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) throw new StudioError('BAD_ARGUMENT', `--${name} ${quote(v)} must be an integer from ${min} to ${max}.`);
  return n;
}

export const one = (p: ParsedArgs, name: string): string | undefined => p.flags.get(name)?.[0];
export const has = (p: ParsedArgs, name: string): boolean => p.flags.has(name);
