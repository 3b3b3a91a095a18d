// QAT checkpoints: weights, scales and the optimizer state in one file, written atomically, so a
// killed or cancelled job resumes from the last one. Layout: "QATCKPT1", u32 header length, JSON
// header (step, fingerprint, history, the list of arrays), then the float32 arrays back to back.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../onnx/model-io';
import { StudioError, quote } from '../errors';

const MAGIC = 'QATCKPT1';

export interface CheckpointState {
  /** Steps completed. */
  step: number;
  /** Identifies the model + recipe + data the state belongs to; a resume with another is refused. */
  fingerprint: string;
  history: { step: number; loss: number; metric?: number }[];
  arrays: Map<string, Float32Array>;
  /** Adam update counts per array. */
  counts: Record<string, number>;
}

export async function saveCheckpoint(path: string, s: CheckpointState): Promise<void> {
  const entries = [...s.arrays].map(([name, a]) => ({ name, length: a.length }));
  const header = new TextEncoder().encode(JSON.stringify({ step: s.step, fingerprint: s.fingerprint, history: s.history, counts: s.counts, entries }));
  const total = 8 + 4 + header.length + entries.reduce((a, e) => a + 4 * e.length, 0);
  const pad = (4 - ((12 + header.length) % 4)) % 4;
  const buf = new Uint8Array(total + pad);
  buf.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(buf.buffer).setUint32(8, header.length + pad, true);
  buf.set(header, 12);
  buf.fill(0x20, 12 + header.length, 12 + header.length + pad);
  let off = 12 + header.length + pad;
  for (const [, a] of s.arrays) {
    buf.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), off);
    off += a.byteLength;
  }
  await writeFileAtomic(path, buf);
}

export async function loadCheckpoint(path: string): Promise<CheckpointState | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StudioError('IO_ERROR', `Cannot read QAT checkpoint ${quote(path)}: ${(e as Error).message}`, { cause: e });
  }
  const bad = (why: string): never => { throw new StudioError('BAD_DATA', `QAT checkpoint ${quote(path)} is unusable: ${why}. Delete it to start over.`); };
  if (bytes.length < 12 || bytes.subarray(0, 8).toString('latin1') !== MAGIC) bad('it does not start with the QAT checkpoint header');
  const hlen = bytes.readUInt32LE(8);
  let header: { step: number; fingerprint: string; history: CheckpointState['history']; counts: Record<string, number>; entries: { name: string; length: number }[] };
  try {
    header = JSON.parse(bytes.subarray(12, 12 + hlen).toString('utf8'));
  } catch {
    return bad('its header is not valid JSON');
  }
  let off = 12 + hlen;
  const arrays = new Map<string, Float32Array>();
  for (const e of header.entries) {
    if (off + 4 * e.length > bytes.length) bad(`array ${quote(e.name)} runs past the end of the file`);
    const a = new Float32Array(e.length);
    new Uint8Array(a.buffer).set(bytes.subarray(off, off + 4 * e.length));
    arrays.set(e.name, a);
    off += 4 * e.length;
  }
  if (off !== bytes.length) bad(`${bytes.length - off} bytes follow the last array`);
  return { step: header.step, fingerprint: header.fingerprint, history: header.history, counts: header.counts ?? {}, arrays };
}
