// openWakeWord's three-model pipeline as the package runs it: 16 kHz audio (int16-scaled floats) →
// melspectrogram model → (x / 10 + 2) → embedding model on 76-frame windows every 8 frames → the
// wake-word head on the last 16 embeddings → a score per step. Used by the zoo's task check.
import { createSession, ort } from '../../engine/runtime/session';

export interface WakewordModels { melspectrogram: string | Uint8Array; embedding: string | Uint8Array; head: string | Uint8Array }

type Session = Awaited<ReturnType<typeof createSession>>;
const run1 = async (s: Session, feeds: Record<string, InstanceType<typeof ort.Tensor>>) => {
  const r = await s.run(feeds);
  return r[s.outputNames[0]!]!;
};

/** Mel frames [T, 32] of a whole clip (values as openWakeWord feeds them to the embedding model). */
export async function melFrames(model: string | Uint8Array, audio: Float32Array): Promise<{ frames: Float32Array; count: number }> {
  const s = await createSession(model, { device: 'cpu' });
  try {
    const x = new Float32Array(audio.length);
    for (let i = 0; i < audio.length; i++) x[i] = audio[i]! * 32767;
    const out = await run1(s, { [s.inputNames[0]!]: new ort.Tensor('float32', x, [1, x.length]) });
    const d = out.data as Float32Array;
    const frames = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) frames[i] = d[i]! / 10 + 2;
    return { frames, count: d.length / 32 };
  } finally { await s.release(); }
}

/** Embedding windows [N, 76, 32, 1] every 8 mel frames. */
export function embeddingWindows(mel: { frames: Float32Array; count: number }): { data: Float32Array; count: number } {
  const n = Math.max(0, Math.floor((mel.count - 76) / 8) + 1);
  const data = new Float32Array(n * 76 * 32);
  for (let i = 0; i < n; i++) data.set(mel.frames.subarray(i * 8 * 32, (i * 8 + 76) * 32), i * 76 * 32);
  return { data, count: n };
}

export async function embeddings(model: string | Uint8Array, windows: { data: Float32Array; count: number }): Promise<{ data: Float32Array; count: number }> {
  const s = await createSession(model, { device: 'cpu' });
  try {
    const out = new Float32Array(windows.count * 96);
    for (let i = 0; i < windows.count; i++) {
      const r = await run1(s, { [s.inputNames[0]!]: new ort.Tensor('float32', windows.data.slice(i * 76 * 32, (i + 1) * 76 * 32), [1, 76, 32, 1]) });
      out.set(r.data as Float32Array, i * 96);
    }
    return { data: out, count: windows.count };
  } finally { await s.release(); }
}

/** Head inputs [N, 16, 96]: every run of 16 consecutive embeddings. */
export function headWindows(emb: { data: Float32Array; count: number }): { data: Float32Array; count: number } {
  const n = Math.max(0, emb.count - 15);
  const data = new Float32Array(n * 16 * 96);
  for (let i = 0; i < n; i++) data.set(emb.data.subarray(i * 96, (i + 16) * 96), i * 16 * 96);
  return { data, count: n };
}

export async function headScores(model: string | Uint8Array, w: { data: Float32Array; count: number }): Promise<number[]> {
  const s = await createSession(model, { device: 'cpu' });
  try {
    const scores: number[] = [];
    for (let i = 0; i < w.count; i++) {
      const r = await run1(s, { [s.inputNames[0]!]: new ort.Tensor('float32', w.data.slice(i * 16 * 96, (i + 1) * 16 * 96), [1, 16, 96]) });
      scores.push((r.data as Float32Array)[0]!);
    }
    return scores;
  } finally { await s.release(); }
}

/** Wake-word scores of a clip through the whole pipeline. */
export async function wakewordScores(m: WakewordModels, audio: Float32Array): Promise<number[]> {
  const mel = await melFrames(m.melspectrogram, audio);
  const emb = await embeddings(m.embedding, embeddingWindows(mel));
  return headScores(m.head, headWindows(emb));
}
