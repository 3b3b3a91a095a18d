// External data: tensors whose bytes live in a side file (required above protobuf's 2 GiB limit).
// Reading is per tensor (./tensor reads just that byte range), so a model is never loaded whole.
// Writing moves every initializer at or above a size threshold into one data file, at aligned
// offsets, copying already-external tensors in chunks from their source file; the data file and
// the model file are written to temp names and renamed into place, the data file's previous
// version kept aside until the model rename succeeds.
import { open, rename, unlink, link, stat, type FileHandle } from 'node:fs/promises';
import { openSync, readSync, closeSync } from 'node:fs';
import { basename, dirname, join, isAbsolute, normalize, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StudioError, quote } from '../errors';
import { removeDeadTempFiles } from '../util/stale-temp-files';
import { create, ModelProtoSchema, TensorProtoSchema, toBinary, isFieldSet, clearField, DataLocation, StringStringEntryProtoSchema, type ModelProto, type TensorProto } from './proto';
import { externalDataInfo, tensorDims, elementCount, bytesPerElement } from './tensor';
import { walkGraphs } from './graph';

export const DEFAULT_EXTERNAL_THRESHOLD = 1024;
export const DEFAULT_EXTERNAL_ALIGN = 4096;
const COPY_CHUNK = 16 * 2 ** 20;

export interface ExternalDataOptions {
  /** Data file name, relative to the model's folder (no folders, no '..'). */
  location: string;
  /** Tensors with at least this many bytes go to the data file (default 1024). */
  thresholdBytes?: number;
  /** Offset alignment in the data file (default 4096, page size, so runtimes can mmap). */
  align?: number;
}

export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === DataLocation.EXTERNAL;
}

/** Every initializer of the model, subgraphs included. */
export function allInitializers(model: ModelProto): TensorProto[] {
  const out: TensorProto[] = [];
  if (model.graph) for (const { graph } of walkGraphs(model.graph)) out.push(...graph.initializer);
  return out;
}

export function hasExternalData(model: ModelProto): boolean {
  return allInitializers(model).some(isExternal);
}

function checkLocation(location: string): void {
  if (!location || isAbsolute(location) || normalize(location) !== location || location.includes('/') || location.includes('\\') || location.startsWith('.')) {
    throw new StudioError('BAD_ARGUMENT', `External data location ${quote(location)} must be a plain file name beside the model.`);
  }
}

function tmpName(path: string): string {
  removeDeadTempFiles(dirname(path), basename(path)); // a killed earlier writer's temp file
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

// Fields we swap while serializing. ONNX is proto2: a field's presence is part of the bytes, so the
// restore puts back presence as well as value (assigning a default would make it present).
const SWAPPED = [TensorProtoSchema.field.rawData, TensorProtoSchema.field.dataLocation, TensorProtoSchema.field.externalData];
interface Saved { t: TensorProto; rawData: TensorProto['rawData']; dataLocation: number; externalData: TensorProto['externalData']; set: boolean[] }

function restore(s: Saved): void {
  s.t.rawData = s.rawData; s.t.dataLocation = s.dataLocation; s.t.externalData = s.externalData;
  SWAPPED.forEach((f, i) => { if (!s.set[i]) clearField(s.t, f); });
}

async function writeAt(fh: FileHandle, bytes: Uint8Array, pos: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, pos + done);
    done += bytesWritten;
  }
}

async function copyExternal(t: TensorProto, baseDir: string | undefined, fh: FileHandle, pos: number): Promise<number> {
  const { location, offset, length } = externalDataInfo(t);
  if (!baseDir) throw new StudioError('BAD_MODEL', `Tensor ${quote(t.name)} keeps its data in ${quote(location)} but the model's folder is unknown: pass baseDir (LoadedModel.baseDir) to saveModel.`);
  if (isAbsolute(location) || normalize(location).startsWith('..')) throw new StudioError('BAD_MODEL', `Tensor ${quote(t.name)} points its external data outside the model folder: ${quote(location)}.`);
  const n = length ?? Math.ceil(elementCount(tensorDims(t)) * bytesPerElement(t.dataType));
  const src = join(baseDir, location);
  let fd: number;
  try { fd = openSync(src, 'r'); } catch (e) {
    throw new StudioError('NOT_FOUND', `External data file ${quote(src)} for tensor ${quote(t.name)} cannot be opened: ${(e as Error).message}`, { cause: e });
  }
  try {
    const buf = new Uint8Array(Math.min(COPY_CHUNK, Math.max(1, n)));
    let done = 0;
    while (done < n) {
      const want = Math.min(buf.length, n - done);
      const r = readSync(fd, buf, 0, want, offset + done);
      if (r === 0) throw new StudioError('BAD_MODEL', `External data file ${quote(src)} ends before tensor ${quote(t.name)} (needs ${n} bytes at offset ${offset}).`);
      await writeAt(fh, buf.subarray(0, r), pos + done);
      done += r;
    }
  } finally { closeSync(fd); }
  return n;
}

/** Save `model` to `path` with large initializers in `opts.location`. The model object is left as it was. */
export async function saveWithExternalData(model: ModelProto, path: string, opts: ExternalDataOptions, baseDir?: string, maxProtoBytes = 2 ** 31 - 1): Promise<{ dataBytes: number; externalTensors: number }> {
  checkLocation(opts.location);
  if (opts.location === basename(path)) throw new StudioError('BAD_ARGUMENT', `External data location ${quote(opts.location)} is the model file itself.`);
  const threshold = opts.thresholdBytes ?? DEFAULT_EXTERNAL_THRESHOLD;
  const align = opts.align ?? DEFAULT_EXTERNAL_ALIGN;
  const dataPath = join(dirname(path), opts.location);
  const dataTmp = tmpName(dataPath), modelTmp = tmpName(path);
  const saved: Saved[] = [];
  let dataBytes = 0;
  let backup: string | undefined;
  try {
    const fh = await open(dataTmp, 'w');
    try {
      let pos = 0;
      for (const t of allInitializers(model)) {
        const ext = isExternal(t);
        const inline = !ext && t.rawData.length >= threshold && t.rawData.length > 0;
        if (!ext && !inline) continue;
        pos = Math.ceil(pos / align) * align;
        const n = ext ? await copyExternal(t, baseDir, fh, pos) : (await writeAt(fh, t.rawData, pos), t.rawData.length);
        saved.push({ t, rawData: t.rawData, dataLocation: t.dataLocation, externalData: t.externalData, set: SWAPPED.map((f) => isFieldSet(t, f)) });
        t.rawData = new Uint8Array(0);
        t.dataLocation = DataLocation.EXTERNAL;
        t.externalData = [
          create(StringStringEntryProtoSchema, { key: 'location', value: opts.location }),
          create(StringStringEntryProtoSchema, { key: 'offset', value: String(pos) }),
          create(StringStringEntryProtoSchema, { key: 'length', value: String(n) }),
        ];
        pos += n;
      }
      dataBytes = pos;
      await fh.sync();
    } finally { await fh.close(); }
    const bytes = toBinary(ModelProtoSchema, model);
    if (bytes.length > maxProtoBytes) {
      throw new StudioError('BAD_MODEL', `Model ${quote(path)} still serializes to ${bytes.length} bytes with external data (limit ${maxProtoBytes}); lower thresholdBytes.`);
    }
    const mh = await open(modelTmp, 'w');
    try { await mh.writeFile(bytes); await mh.sync(); } finally { await mh.close(); }
    // Keep the previous data file until the new model is in place, so a failure leaves the old pair intact.
    if (await exists(dataPath)) { backup = tmpName(dataPath) + '.bak'; await link(dataPath, backup); }
    await rename(dataTmp, dataPath);
    try {
      await rename(modelTmp, path);
    } catch (e) {
      if (backup) await rename(backup, dataPath).catch(() => undefined); else await unlink(dataPath).catch(() => undefined);
      backup = undefined;
      throw e;
    }
  } catch (e) {
    await unlink(dataTmp).catch(() => undefined);
    await unlink(modelTmp).catch(() => undefined);
    if (e instanceof StudioError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOSPC' ? 'the disk is full' : (e as Error).message;
    throw new StudioError('IO_ERROR', `Cannot write ${quote(path)} with external data ${quote(opts.location)}: ${why}. Nothing was written there.`, { cause: e });
  } finally {
    for (const s of saved) restore(s);
    if (backup) await unlink(backup).catch(() => undefined);
  }
  return { dataBytes, externalTensors: saved.length };
}

async function exists(p: string): Promise<boolean> {
  try { await stat(p); return true; } catch { return false; }
}

/** Bytes of the external data files `model` reads (each distinct file once, as it is on disk). */
export async function externalDataBytes(model: ModelProto, baseDir: string): Promise<number> {
  const files = new Set(allInitializers(model).filter(isExternal).map((t) => externalDataInfo(t).location));
  let total = 0;
  for (const f of files) total += await stat(join(baseDir, f)).then((s) => s.size, () => 0);
  return total;
}

/** Same folder? (external references stay valid when a model is re-saved beside its data). */
export function sameDir(a: string, b: string): boolean {
  return resolve(a) === resolve(b);
}
