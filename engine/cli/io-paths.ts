// Before a command does any work, every file it will write is compared with every file it reads and
// with each other: by real path (symlinks resolved, the output's folder too) and by device + inode
// (hard links), so `--report MODEL.onnx`, `-o` onto the calibration data, a recipe, the labels or the
// model's external data file, or `--report` equal to `-o`, are refused instead of destroying an input.
import { realpathSync, statSync, accessSync, constants as fsConstants } from 'node:fs';
import { basename, dirname, join, resolve, isAbsolute, normalize } from 'node:path';
import { StudioError, quote } from '../errors';
import type { ModelProto } from '../onnx/proto';
import { allInitializers, isExternal } from '../onnx/external-data';
import { externalDataInfo } from '../onnx/tensor';
import type { ParsedArgs } from './args';
import { existsSync } from 'node:fs';
import { loadModel } from '../onnx/model-io';

/** A file a command reads or writes, and how the message names it (e.g. "--data 'image'"). */
export interface RolePath { role: string; path: string }

/** Flags whose values are files the commands read: plain paths, or INPUT=FILE specs. Flags a command
 *  does not define are simply absent from its parsed arguments. */
const FILE_FLAGS: Record<string, 'file' | 'spec'> = {
  recipe: 'file', labels: 'file', 'eval-labels': 'file', tokenizer: 'file', ref: 'file',
  data: 'spec', 'eval-data': 'spec',
};

/** The files named by the input flags of `p` (the model positional is added by the caller). */
export function inputFilesOf(p: ParsedArgs): RolePath[] {
  const out: RolePath[] = [];
  for (const [flag, kind] of Object.entries(FILE_FLAGS)) {
    for (const v of p.flags.get(flag) ?? []) {
      const eq = kind === 'spec' ? v.indexOf('=') : -1;
      out.push(eq > 0 ? { role: `--${flag} ${quote(v.slice(0, eq))}`, path: v.slice(eq + 1) } : { role: `--${flag}`, path: v });
    }
  }
  return out;
}

/** The external data files a model reads, beside it (the only files read that the user did not name). */
export function externalDataFiles(model: ModelProto, modelPath: string): RolePath[] {
  const seen = new Set<string>();
  const out: RolePath[] = [];
  for (const t of allInitializers(model)) {
    if (!isExternal(t)) continue;
    let location: string;
    try { location = externalDataInfo(t).location; } catch { continue; }
    if (isAbsolute(location) || normalize(location).startsWith('..') || seen.has(location)) continue;
    seen.add(location);
    out.push({ role: `external data of model ${quote(modelPath)}`, path: join(dirname(modelPath), location) });
  }
  return out;
}

interface Identity { real: string[]; inode?: string }

/** Every name the file at `path` has, or would have once written: the real path of the folder plus
 *  the base name (what a rename replaces), the real path of the target when it exists (what a write
 *  through a symlink replaces), and device + inode when it exists (hard links share them). */
function identity(path: string): Identity {
  const abs = resolve(path);
  const real = new Set<string>([abs]);
  try { real.add(join(realpathSync(dirname(abs)), basename(abs))); } catch { /* folder missing: reported by the caller */ }
  let inode: string | undefined;
  try {
    real.add(realpathSync(abs));
    const st = statSync(abs);
    inode = `${st.dev}:${st.ino}`;
  } catch { /* does not exist (yet) */ }
  return { real: [...real], inode };
}

function same(a: Identity, b: Identity): boolean {
  if (a.inode !== undefined && a.inode === b.inode) return true;
  return a.real.some((r) => b.real.includes(r));
}

/** Refuse (BAD_ARGUMENT) when an output is an input or another output, naming both flags. */
export function checkOutputsApart(inputs: RolePath[], outputs: RolePath[]): void {
  const ins = inputs.map((i) => ({ ...i, id: identity(i.path) }));
  const outs = outputs.map((o) => ({ ...o, id: identity(o.path) }));
  for (const [k, o] of outs.entries()) {
    for (const i of ins) {
      if (same(o.id, i.id)) {
        throw new StudioError('BAD_ARGUMENT', `Output ${o.role} ${quote(o.path)} is the same file as input ${i.role} ${quote(i.path)}; writing it would destroy that input. Choose another output file.`);
      }
    }
    for (const other of outs.slice(0, k)) {
      if (same(o.id, other.id)) {
        throw new StudioError('BAD_ARGUMENT', `Outputs ${other.role} ${quote(other.path)} and ${o.role} ${quote(o.path)} are the same file; give each its own file.`);
      }
    }
  }
}

/** An output can be written: its folder exists and is writable, and it is not a folder itself.
 *  Checked before the run, so a bad `--report` path does not surface only after the work is done. */
export function checkWritable(o: RolePath): void {
  const abs = resolve(o.path);
  let st: ReturnType<typeof statSync> | undefined;
  try { st = statSync(abs); } catch { st = undefined; }
  if (st?.isDirectory()) throw new StudioError('BAD_ARGUMENT', `Output ${o.role} ${quote(o.path)} is a folder; give a file name inside it.`);
  const dir = dirname(abs);
  let dst: ReturnType<typeof statSync>;
  try { dst = statSync(dir); } catch {
    throw new StudioError('NOT_FOUND', `Output folder ${quote(dirname(o.path))} for ${o.role} does not exist.`);
  }
  if (!dst.isDirectory()) throw new StudioError('BAD_ARGUMENT', `Output ${o.role} ${quote(o.path)}: ${quote(dirname(o.path))} is not a folder.`);
  try { accessSync(dir, fsConstants.W_OK | fsConstants.X_OK); } catch {
    throw new StudioError('IO_ERROR', `Output ${o.role} ${quote(o.path)} cannot be written: folder ${quote(dirname(o.path))} is not writable.`);
  }
}

/** Before any work: every output of a command (`outputs`, in flag order) apart from the model, its
 *  external data files, every file named by an input flag of `p`, and each other; and writable. */
export async function checkCommandOutputs(p: ParsedArgs, modelPath: string, outputs: RolePath[]): Promise<void> {
  const inputs: RolePath[] = [{ role: 'model', path: modelPath }, ...inputFilesOf(p)];
  if (existsSync(modelPath)) {
    // The model's external data files are inputs too; a model that does not load is reported later.
    try { inputs.push(...externalDataFiles((await loadModel(modelPath)).model, modelPath)); } catch { /* reported by the run */ }
  }
  checkOutputsApart(inputs, outputs);
  for (const o of outputs) checkWritable(o);
}
