// Importing files into a project folder: copy (atomic: temp + rename), hash, and for models read
// opset and inputs/outputs with the engine's ONNX loader.
import { copyFile, link, mkdir, open, rm, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TensorInfo } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import { loadModel } from '../onnx/model-io';
import { DataType, type GraphProto, type ValueInfoProto } from '../onnx/proto';
import { sha256File } from '../jobs/runner';
import { removeDeadTempFiles, tempNameFor } from '../util/stale-temp-files';

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
  removeDeadTempFiles(dir, safe); // left by an import that was killed mid-copy
  const tmp = join(dir, tempNameFor(safe, randomBytes(4).toString('hex')));
  try {
    await copyFile(src, tmp);
    // Claim the name exclusively: link() fails with EEXIST if another import took it meanwhile (a
    // check-then-rename let concurrent imports of one file name overwrite each other's file, so
    // several rows pointed at one file and the recorded hashes did not match its bytes).
    for (let i = 1; ; i++) {
      const dest = join(dir, i === 1 ? safe : `${stem}-${i}${ext}`);
      if (await claim(tmp, dest)) return dest;
    }
  } catch (e) {
    throw new StudioError('IO_ERROR', `Cannot copy ${quote(src)} into ${quote(dir)}: ${(e as Error).message}`, { cause: e });
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Give `tmp`'s bytes the name `dest` only if no file has it; false when taken. */
async function claim(tmp: string, dest: string): Promise<boolean> {
  try {
    await link(tmp, dest);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw e;
  }
  // No hard links on this file system: reserve the name with an exclusive create, then replace it.
  try {
    await (await open(dest, 'wx')).close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  await copyFile(tmp, dest);
  return true;
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

/**
 * The main graph's wiring, checked on import (a broken model used to be accepted and fail only when a
 * run started): every value is produced once (a graph input, an initializer or one node output), every
 * node input and graph output is produced by something, and the nodes have no cycle. Subgraphs (If/Loop
 * bodies) may read outer values and are left to the runtime. Errors name the node and the value.
 */
export function checkGraphWiring(graph: GraphProto, file: string): void {
  const bad = (why: string): never => { throw new StudioError('BAD_MODEL', `Model ${quote(file)}: ${why}.`); };
  const nodeName = (i: number) => `node ${quote(graph.node[i]!.name || `#${i}`)} (${graph.node[i]!.opType})`;
  const producer = new Map<string, number>(); // value name -> node index, -1 for graph inputs / initializers
  for (const v of [...graph.input.map((x) => x.name), ...graph.initializer.map((x) => x.name)]) producer.set(v, -1);
  graph.node.forEach((n, i) => {
    for (const o of n.output) {
      if (!o) continue;
      const prev = producer.get(o);
      if (prev !== undefined) bad(`value ${quote(o)} is an output of ${nodeName(i)} but is already ${prev < 0 ? 'a graph input or initializer' : `an output of ${nodeName(prev)}`}`);
      producer.set(o, i);
    }
  });
  graph.node.forEach((n, i) => {
    for (const x of n.input) if (x && !producer.has(x)) bad(`${nodeName(i)} reads ${quote(x)}, which no node, graph input or initializer produces`);
  });
  for (const o of graph.output) if (!producer.has(o.name)) bad(`graph output ${quote(o.name)} is produced by no node, graph input or initializer`);
  // Kahn's algorithm over node -> node edges; nodes never reached are on (or behind) a cycle.
  const indegree = graph.node.map((n) => new Set(n.input.filter((x) => x && (producer.get(x) ?? -1) >= 0).map((x) => producer.get(x)!)).size);
  const readers = new Map<number, number[]>();
  graph.node.forEach((n, i) => {
    for (const p of new Set(n.input.filter((x) => x && (producer.get(x) ?? -1) >= 0).map((x) => producer.get(x)!))) readers.set(p, [...(readers.get(p) ?? []), i]);
  });
  const ready = indegree.flatMap((d, i) => (d === 0 ? [i] : []));
  let seen = 0;
  while (ready.length) {
    const i = ready.pop()!;
    seen++;
    for (const r of readers.get(i) ?? []) if (--indegree[r]! === 0) ready.push(r);
  }
  if (seen < graph.node.length) {
    const stuck = indegree.findIndex((d) => d > 0);
    bad(`the graph has a cycle: ${nodeName(stuck)} depends on its own output (through ${graph.node.length - seen} node(s) that can never run)`);
  }
}

export async function readModelFacts(path: string): Promise<ModelFacts> {
  const { model } = await loadModel(path);
  const graph = model.graph!;
  checkGraphWiring(graph, basename(path));
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
