// Data checked when it is attached, not when a run fails: the file must be a readable .npy, and its
// shape and dtype must fit the project's model input it feeds (or, for labels, be class indices the
// model's output can produce). Errors name the file as the user named it (an upload's own name),
// never the temporary or data-dir path it sits at. `datasets.inspect` gives the dataset table the same
// facts (shape, dtype, samples) and any mismatch with the model for what is already attached.
import { closeSync, openSync, readSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import type { DatasetInfo, ModelInfo } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import { parseNpy, type NpyArray } from '../data/npy';
import { copyIntoFolder } from './model-import';
import type { Handlers, ServiceDeps } from './types';

export interface ArrayFacts { dtype: string; shape: number[] }

const FLOAT_NAMES = new Set(['FLOAT', 'float32', 'float', 'tensor(float)']);
const INT64_NAMES = new Set(['INT64', 'int64', 'tensor(int64)']);
const dimsText = (dims: (number | string | null)[]) => `[${dims.map((d) => (typeof d === 'number' && d > 0 ? d : typeof d === 'string' && d ? d : '?')).join(', ')}]`;

/** Why `a` cannot feed the model input it names (or the model's first input), or null when it fits. */
export function inputMismatch(a: ArrayFacts, fileName: string, model: ModelInfo, inputName?: string): string | null {
  const input = model.inputs.find((i) => i.name === (inputName ?? model.inputs[0]?.name));
  if (!input) return `Model ${quote(model.name)} has no input ${quote(inputName)} (inputs: ${model.inputs.map((i) => i.name).join(', ')}).`;
  const want = input.shape;
  const head = `File ${quote(fileName)} has shape ${dimsText(a.shape)} (${a.dtype})`;
  const target = `input ${quote(input.name)} of model ${quote(model.name)} takes ${dimsText(want)}`;
  if (a.shape.length === 0 || a.shape[0] === 0) return `${head}: no samples along axis 0.`;
  if (want.length && a.shape.length !== want.length) return `${head}, rank ${a.shape.length}; ${target} (rank ${want.length}, axis 0 = samples).`;
  const fixed = (d: unknown): d is number => typeof d === 'number' && d > 0;
  const bad = want.map((d, i) => (i > 0 && fixed(d) && a.shape[i] !== d ? i : -1)).filter((i) => i >= 0);
  if (bad.length) {
    // Channels-last data for a channels-first model is the usual slip: say so, with the fix.
    const nhwc = a.shape.length === 4 && want.length === 4 && a.shape[3] === want[1] && (!fixed(want[2]) || a.shape[1] === want[2]) && (!fixed(want[3]) || a.shape[2] === want[3]);
    if (nhwc) return `${head}: channels last (NHWC), but ${target} (channels first, NCHW). Transpose it: np.transpose(a, (0, 3, 1, 2)).`;
    return `${head}; ${target}: axis ${bad.join(', ')} differs.`;
  }
  if (FLOAT_NAMES.has(input.elemType) && a.dtype !== 'float32') return `${head}; ${target} as float32: save it with a.astype(np.float32).`;
  if (INT64_NAMES.has(input.elemType) && a.dtype !== 'int64') return `${head}; ${target} as int64 (token ids): save it with a.astype(np.int64).`;
  return null;
}

/** Why `a` cannot be the labels of this model's classifier output, or null. */
export function labelsMismatch(a: NpyArray | ArrayFacts, fileName: string, model: ModelInfo, samplesOfInputs?: number): string | null {
  const head = `Labels ${quote(fileName)} have shape ${dimsText(a.shape)} (${a.dtype})`;
  if (!['int64', 'int32', 'int8', 'uint8'].includes(a.dtype)) return `${head}: class indices must be integers (int64).`;
  if (!(a.shape.length === 1 || (a.shape.length === 2 && a.shape[1] === 1))) return `${head}: one class index per sample, shape [N].`;
  if (samplesOfInputs !== undefined && a.shape[0] !== samplesOfInputs) return `${head}: ${a.shape[0]} labels for ${samplesOfInputs} input samples.`;
  const out = model.outputs[0];
  const classes = out?.shape[out.shape.length - 1];
  if ('data' in a && typeof classes === 'number' && classes > 0) {
    let lo = Infinity, hi = -Infinity;
    const data = a.data as ArrayLike<number | bigint>;
    for (let i = 0; i < data.length; i++) { const n = Number(data[i]); if (n < lo) lo = n; if (n > hi) hi = n; }
    if (lo < 0 || hi >= classes) return `${head}: values span ${lo}..${hi}, but output ${quote(out!.name)} of model ${quote(model.name)} has ${classes} classes (0..${classes - 1}).`;
  }
  return null;
}

/** Parse a whole .npy (for attaching: every byte is checked), naming it `fileName` in errors. */
export function readNpyAs(path: string, fileName: string): NpyArray {
  let bytes: Buffer;
  try { bytes = readFileSync(path); } catch (e) { throw new StudioError('IO_ERROR', `Cannot read ${quote(fileName)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`, { cause: e }); }
  return parseNpy(bytes, fileName);
}

/** Shape and dtype from an .npy header only (the dataset table; the file was checked at attach). */
export function npyHeaderFacts(path: string): ArrayFacts {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(16_384, statSync(path).size));
    readSync(fd, buf, 0, buf.length, 0);
    const text = buf.toString('latin1');
    const descr = /'descr':\s*'([^']+)'/.exec(text)?.[1];
    const shape = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
    if (!descr || shape === undefined) throw new StudioError('BAD_DATA', `File ${quote(basename(path))} has no readable .npy header.`);
    const dtype = ({ '<f4': 'float32', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '|i1': 'int8', '|u1': 'uint8', '|b1': 'bool', '<f2': 'float16' } as Record<string, string>)[descr] ?? descr;
    return { dtype, shape: shape.split(',').map((x) => x.trim()).filter(Boolean).map(Number) };
  } finally { closeSync(fd); }
}

function displayName(ref: { kind: 'path'; path: string } | { kind: 'upload'; name: string }): string {
  return ref.kind === 'upload' ? ref.name : basename(ref.path);
}

/** The project's model the data is for (the first, as the pipeline's Run uses), if any. */
function projectModel(d: ServiceDeps, projectId: string): ModelInfo | undefined {
  return d.store.listModels(projectId)[0];
}

function samplesOfCalibration(d: ServiceDeps, projectId: string): number | undefined {
  const dir = d.store.projectDir(projectId);
  const cal = d.store.listDatasets(projectId).find((x) => x.kind === 'npy' && x.options.role !== 'labels');
  if (!cal) return undefined;
  try { return npyHeaderFacts(isAbsolute(cal.file) ? cal.file : join(dir, cal.file)).shape[0]; } catch { return undefined; }
}

/** Throws BAD_DATA when `arr` (from file `fileName`) does not fit the project's model. */
export function assertFitsModel(d: ServiceDeps, projectId: string, arr: NpyArray, fileName: string, options: { role?: unknown; input?: unknown }): void {
  const model = projectModel(d, projectId);
  if (!model) return;
  const problem = options.role === 'labels'
    ? labelsMismatch(arr, fileName, model, samplesOfCalibration(d, projectId))
    : inputMismatch(arr, fileName, model, typeof options.input === 'string' ? options.input : undefined);
  if (problem) throw new StudioError('BAD_DATA', `${problem} Nothing was attached.`);
}

export const datasetCheckHandlers: Handlers = {
  'datasets.attach': async (r, d) => {
    d.store.getProject(r.projectId);
    const name = displayName(r.file);
    if (r.kind !== 'npy') throw new StudioError('BAD_ARGUMENT', `datasets.attach takes .npy arrays; ${quote(name)} is ${quote(r.kind)} (images and text go through datasets.prepare).`);
    const src = d.resolveFile(r.file);
    const arr = readNpyAs(src, name);
    assertFitsModel(d, r.projectId, arr, name, r.options ?? {});
    // Stored as datasets.add stores it; datasets.ts imports this module's checks, so it is not imported back (no cycle).
    const project = d.store.getProject(r.projectId);
    const dest = await copyIntoFolder(src, join(project.dir, 'datasets'), name);
    return d.store.addDataset({ projectId: project.id, name: r.name, kind: 'npy', file: `datasets/${basename(dest)}`, options: r.options ?? {} });
  },
  'datasets.inspect': (r, d) => {
    const dir = d.store.projectDir(r.projectId);
    const model = projectModel(d, r.projectId);
    const calSamples = samplesOfCalibration(d, r.projectId);
    return d.store.listDatasets(r.projectId).map((ds: DatasetInfo) => {
      const path = isAbsolute(ds.file) ? ds.file : join(dir, ds.file);
      if (ds.kind !== 'npy') return { datasetId: ds.id, dtype: null, shape: null, samples: null, problem: null };
      try {
        const f = npyHeaderFacts(path);
        let problem: string | null = null;
        if (model) {
          const isLabels = ds.options.role === 'labels';
          // Label values are only read for small files; the shape and count are checked always.
          const full = isLabels && statSync(path).size < 64 * 2 ** 20 ? readNpyAs(path, ds.name) : f;
          problem = isLabels ? labelsMismatch(full, ds.name, model, calSamples) : inputMismatch(f, ds.name, model, typeof ds.options.input === 'string' ? ds.options.input : undefined);
        }
        return { datasetId: ds.id, dtype: f.dtype, shape: f.shape, samples: f.shape[0] ?? 0, problem };
      } catch (e) {
        return { datasetId: ds.id, dtype: null, shape: null, samples: null, problem: `${quote(ds.name)} cannot be read: ${(e as Error).message}` };
      }
    });
  },
};
