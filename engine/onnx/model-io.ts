// Read and write ONNX model files. Writes are atomic (temp file + rename), so a failed or killed
// export never leaves a half-written model at the destination.
import { readFile, rename, unlink, open, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ModelProtoSchema, fromBinary, toBinary, type ModelProto } from './proto';
import { saveWithExternalData, hasExternalData, allInitializers, sameDir, type ExternalDataOptions } from './external-data';
import { StudioError, quote } from '../errors';
import { checkTensorLengths } from './tensor-lengths';
import { removeDeadTempFiles } from '../util/stale-temp-files';
import { formatGiB } from '../util/format-bytes';

/** Protobuf's hard limit: a single serialized message must stay under 2 GiB; above it, use external data. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface LoadedModel {
  model: ModelProto;
  /** Folder of the model file: external data locations are relative to it. */
  baseDir: string;
  path: string;
}

export async function loadModel(path: string): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new StudioError('BAD_MODEL', `Model path ${quote(path)} is not a file.`);
    if (info.size > PROTOBUF_LIMIT) {
      throw new StudioError('BAD_MODEL', `Model file ${quote(path)} is ${formatGiB(info.size)}: an ONNX protobuf cannot exceed 2 GiB; store the weights as external data.`);
    }
    bytes = await readFile(path);
  } catch (e) {
    if (e instanceof StudioError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StudioError('NOT_FOUND', `Model file ${quote(path)} does not exist.`, { cause: e });
    throw new StudioError('IO_ERROR', `Cannot read model file ${quote(path)}: ${(e as Error).message}`, { cause: e });
  }
  const model = parseModel(bytes, path, dirname(path));
  modelFolders.set(model, dirname(path));
  return { model, baseDir: dirname(path), path };
}

/** Decode an ONNX model and check it is one: a graph, an opset, and tensors that hold the data their
 *  dims declare (external data checked against the files in `baseDir` when given). */
export function parseModel(bytes: Uint8Array, sourceName = '<buffer>', baseDir?: string): ModelProto {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (e) {
    throw new StudioError('BAD_MODEL', `File ${quote(sourceName)} is not a valid ONNX model (protobuf decode failed: ${(e as Error).message}).`, { cause: e });
  }
  if (!model.graph || (model.graph.node.length === 0 && model.graph.output.length === 0)) {
    throw new StudioError('BAD_MODEL', `File ${quote(sourceName)} decodes as protobuf but holds no ONNX graph (no nodes and no outputs).`);
  }
  if (model.opsetImport.length === 0) {
    throw new StudioError('BAD_MODEL', `Model ${quote(sourceName)} declares no opset_import; it is not a usable ONNX model.`);
  }
  checkTensorLengths(model, sourceName, baseDir);
  return model;
}

export function serializeModel(model: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, model);
}

/** Write bytes to `path` atomically: a temp file beside it, fsync, then rename. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  removeDeadTempFiles(dirname(path), basename(path)); // a killed earlier writer's temp file
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOSPC' ? 'the disk is full' : (e as Error).message;
    throw new StudioError('IO_ERROR', `Cannot write ${quote(path)}: ${why}. Nothing was written there.`, { cause: e });
  }
}

/** Folder each loaded model came from, so saveModel can find its external data without being told. */
const modelFolders = new WeakMap<ModelProto, string>();

/** The folder a model was loaded from (undefined for models built in memory or cloned). */
export function modelBaseDir(model: ModelProto): string | undefined {
  return modelFolders.get(model);
}

export interface SaveModelOptions {
  /** Initializers of at least `thresholdBytes` go to the side file `location`. Default 'auto': only when
   *  the model already has external tensors or would pass the protobuf limit, to `<file>.data`.
   *  'never': refuse (BAD_MODEL) instead. */
  externalData?: ExternalDataOptions | 'auto' | 'never';
  /** Folder the model's existing external tensors are read from (default: where loadModel found it). */
  baseDir?: string;
  /** Largest protobuf written (default: protobuf's 2 GiB limit; tests lower it). */
  maxProtoBytes?: number;
}

/** Save atomically. A model whose tensors are already external keeps its references when saved
 *  beside its data (same folder), and otherwise gets a fresh `<file>.data` beside the output. */
export async function saveModel(model: ModelProto, path: string, opts: SaveModelOptions = {}): Promise<void> {
  const limit = opts.maxProtoBytes ?? PROTOBUF_LIMIT;
  const baseDir = opts.baseDir ?? modelFolders.get(model);
  const mode = opts.externalData ?? 'auto';
  const beside = { location: `${basename(path)}.data` };
  if (typeof mode === 'object') {
    await saveWithExternalData(model, path, mode, baseDir, limit);
    return;
  }
  if (hasExternalData(model) && !(baseDir && sameDir(baseDir, dirname(path)))) {
    if (mode === 'never') throw new StudioError('BAD_MODEL', `Model for ${quote(path)} keeps tensors in external files and externalData is 'never'.`);
    await saveWithExternalData(model, path, beside, baseDir, limit);
    return;
  }
  // Estimate before serializing: protobuf cannot encode (and we must not try to allocate) over 2 GiB.
  let inline = 0;
  for (const t of allInitializers(model)) inline += t.rawData.length;
  if (inline > limit) {
    if (mode === 'never') throw tooBig(path, inline, limit);
    await saveWithExternalData(model, path, beside, baseDir, limit);
    return;
  }
  const bytes = serializeModel(model);
  if (bytes.length > limit) throw tooBig(path, bytes.length, limit);
  await writeFileAtomic(path, bytes);
}

function tooBig(path: string, bytes: number, limit: number): StudioError {
  return new StudioError('BAD_MODEL', `Model ${quote(path)} would be ${formatGiB(bytes)} (${bytes} bytes), over the ${limit}-byte protobuf limit: save it with external data (saveModel(model, path, { externalData: { location: '${basename(path)}.data' } })).`);
}

