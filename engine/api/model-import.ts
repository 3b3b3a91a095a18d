// Importing files into a project folder: copy (atomic: temp + rename), hash, and for models read
// opset and inputs/outputs with the engine's ONNX loader.
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TensorInfo } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import { loadModel } from '../onnx/model-io';
import { DataType, type ValueInfoProto } from '../onnx/proto';
import { sha256File } from '../jobs/runner';

export function safeFileName(name: string): string {
  const base = basename(name).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '');
  return base.slice(0, 120) || 'file';
}

/** Copy `src` into `dir` under a free name; returns the new absolute path. */
export async function copyIntoFolder(src: string, dir: string, name: string): Promise<string> {
  let info;
  try { info = await stat(src); } catch (e) {
    throw new StudioError('NOT_FOUND', `File ${quote(src)} does not exist or cannot be read.`, { cause: e });
  }
  if (!info.isFile()) throw new StudioError('BAD_ARGUMENT', `${quote(src)} is not a file.`);
  await mkdir(dir, { recursive: true });
  const safe = safeFileName(name);
  const ext = extname(safe);
  const stem = safe.slice(0, safe.length - ext.length);
  let dest = join(dir, safe);
  for (let i = 2; existsSync(dest); i++) dest = join(dir, `${stem}-${i}${ext}`);
  const tmp = join(dir, `.${basename(dest)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await copyFile(src, tmp);
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new StudioError('IO_ERROR', `Cannot copy ${quote(src)} into ${quote(dir)}: ${(e as Error).message}`, { cause: e });
  }
  return dest;
}

function tensorInfo(v: ValueInfoProto): TensorInfo {
  const t = v.type?.value;
  if (v.type?.value.case === 'tensorType' && t) {
    const tt = t.value as { elemType: number; shape?: { dim: { value: { case?: string; value?: unknown } }[] } };
    const shape = (tt.shape?.dim ?? []).map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? String(d.value.value) : null));
    return { name: v.name, elemType: (DataType as unknown as Record<number, string>)[tt.elemType] ?? String(tt.elemType), shape };
  }
  return { name: v.name, elemType: v.type?.value.case ?? 'unknown', shape: [] };
}

export interface ModelFacts { sha256: string; sizeBytes: number; opset: number; inputs: TensorInfo[]; outputs: TensorInfo[]; nodeCount: number }

export async function readModelFacts(path: string): Promise<ModelFacts> {
  const { model } = await loadModel(path);
  const graph = model.graph!;
  const inits = new Set(graph.initializer.map((t) => t.name));
  const op = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return {
    sha256: await sha256File(path),
    sizeBytes: (await stat(path)).size,
    opset: op ? Number(op.version) : 0,
    inputs: graph.input.filter((i) => !inits.has(i.name)).map(tensorInfo),
    outputs: graph.output.map(tensorInfo),
    nodeCount: graph.node.length,
  };
}
