// Task checks for the model zoo (models.json): real inputs in, the task's own decision out, for the
// FP32 model and its quantized twin. Calibration and evaluation inputs never overlap.
//   face-detection  skimage photos (Debian python3-skimage, scripts/fetch-test-assets.sh): faces found
//                   in the portraits, none in the photos without a face, the best box where FP32 has it.
//   wakeword        espeak-ng speech through openWakeWord's three models: "hey jarvis" in held-out
//                   voices fires (score ≥ 0.5), other sentences do not; one stage swapped for its
//                   quantized twin at a time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { NpyArray } from '../../engine/data/npy';
import { readWav, resample } from '../../engine/data/wav';
import { createSession, ort } from '../../engine/runtime/session';
import { repoRoot } from '../helpers/shared';
import { melFrames, embeddingWindows, embeddings, headWindows, headScores, type WakewordModels } from './wakeword';

export const zooModelsDir = join(repoRoot, '.cache', 'test-models');
export const imagesDir = join(repoRoot, '.cache', 'test-assets', 'skimage-data');
export const packageDir = (spec: string) => join(zooModelsDir, spec.replace(/@[^@]*$/, '').replace('/', '+'));

export interface ZooEntry {
  id: string; family: string; package: string; file: string; license: string; traits: string[];
  task: { kind: 'face-detection'; size: number } | { kind: 'wakeword'; stage: 'melspectrogram' | 'embedding' | 'head'; head: string; phrase: string };
  expect: 'keeps-task' | 'warns-if-wrecked'; ci: boolean;
  /** A recipe `target` that must bring a wrecked model back to its task. */
  target?: Record<string, unknown>;
}

/** One task check's outcome: what was measured, on what, and whether the quantized model kept the task. */
export interface TaskResult { kept: boolean; metric: string; fp32: string; quantized: string; evalSamples: number; detail: string[] }

export interface TaskSpec {
  /** Calibration data per model input (never the evaluation inputs). */
  calibration(): Promise<Record<string, NpyArray>>;
  /** Run the task with the FP32 model and with `quantized`. */
  check(fp32Path: string, quantizedPath: string): Promise<TaskResult>;
}

// ---------------------------------------------------------------- face detection (BlazeFace)
const FACES = ['astronaut.png', 'camera.png'];
const NO_FACES = ['coffee.png', 'brick.png', 'coins.png', 'page.png', 'rocket.jpg', 'moon.png', 'grass.png'];
const FACE_CALIBRATION = ['horse.png', 'color.png', 'text.png', 'phantom.png', 'cell.png', 'ihc.png', 'hubble_deep_field.jpg', 'logo.png', 'gravel.png', 'microaneurysms.png', 'retina.jpg', 'chelsea.png', 'motorcycle_left.png', 'clock_motion.png'];

async function photo(file: string, size: number): Promise<Float32Array> {
  const { data } = await sharp(join(imagesDir, file)).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const x = new Float32Array(size * size * 3);
  for (let i = 0; i < x.length; i++) x[i] = data[i]! / 127.5 - 1; // MediaPipe's [-1, 1] input range
  return x;
}

/**
 * Best anchor over both heads: its sigmoid score and its decoded box centre and size in input pixels.
 * BlazeFace's anchors (both variants): a 16×16 grid with 2 anchors per cell, then 8×8 with 6; each
 * box row holds the centre offset from its anchor and the size.
 */
async function bestFace(model: string, x: Float32Array, size: number): Promise<{ score: number; anchor: number; box: number[] }> {
  const s = await createSession(model, { device: 'cpu' });
  try {
    const r = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, [1, size, size, 3]) });
    const outs = s.outputNames.map((n) => r[n]!);
    const scores = outs.filter((t) => t.dims.at(-1) === 1), boxes = outs.filter((t) => t.dims.at(-1) === 16);
    let best = { score: -Infinity, anchor: -1, box: [] as number[] }, offset = 0;
    scores.forEach((t, h) => {
      const d = t.data as Float32Array, b = boxes[h]!.data as Float32Array;
      const grid = h === 0 ? 16 : 8, perCell = d.length / (grid * grid), stride = size / grid;
      for (let i = 0; i < d.length; i++) {
        if (d[i]! <= best.score) continue;
        const cell = Math.floor(i / perCell), ax = (cell % grid + 0.5) * stride, ay = (Math.floor(cell / grid) + 0.5) * stride;
        best = { score: d[i]!, anchor: offset + i, box: [ax + b[i * 16]!, ay + b[i * 16 + 1]!, b[i * 16 + 2]!, b[i * 16 + 3]!] };
      }
      offset += d.length;
    });
    return { ...best, score: 1 / (1 + Math.exp(-best.score)) };
  } finally { await s.release(); }
}

function faceTask(size: number): TaskSpec {
  return {
    async calibration() {
      const xs = await Promise.all(FACE_CALIBRATION.map((f) => photo(f, size)));
      const data = new Float32Array(xs.length * size * size * 3);
      xs.forEach((x, i) => data.set(x, i * x.length));
      return { 'input:0': { dtype: 'float32', shape: [xs.length, size, size, 3], data } };
    },
    async check(fp32, quantized) {
      const detail: string[] = [];
      let kept = true, agree = 0, agreeFp32 = 0;
      for (const f of [...FACES, ...NO_FACES]) {
        const x = await photo(f, size);
        const a = await bestFace(fp32, x, size), b = await bestFace(quantized, x, size);
        const want = FACES.includes(f);
        const ok = (b.score >= 0.5) === want && (a.score >= 0.5) === want;
        // A face must also be where FP32 puts it: box centre within 4 % of the image.
        const moved = want ? Math.hypot(a.box[0]! - b.box[0]!, a.box[1]! - b.box[1]!) : 0;
        const placed = !want || moved <= 0.04 * size;
        if ((a.score >= 0.5) === want) agreeFp32++;
        if (ok && placed) agree++; else kept = false;
        detail.push(`${f}: face ${want ? 'expected' : 'not expected'}, FP32 ${a.score.toFixed(3)}, quantized ${b.score.toFixed(3)}${want ? `, box centre moved ${moved.toFixed(1)} px` : ''}`);
      }
      const n = FACES.length + NO_FACES.length;
      return { kept, metric: `decisions agreeing with the truth (score ≥ 0.5) on ${n} skimage photos`, fp32: `${agreeFp32}/${n}`, quantized: `${agree}/${n}`, evalSamples: n, detail };
    },
  };
}

// ---------------------------------------------------------------- wake word (openWakeWord)
const scratch = mkdtempSync(join(tmpdir(), 'qzoo-speech-'));
function speak(text: string, voice: string, seconds = 3.5): Float32Array {
  const wav = join(scratch, 'clip.wav');
  execFileSync('espeak-ng', ['-v', voice, '-s', '140', '-w', wav, text]);
  const a = resample(readWav(wav), 16000).samples;
  const x = new Float32Array(16000 * seconds);
  x.set(a.subarray(0, x.length - 16000), 16000); // a second of silence first, as a stream would have
  return x;
}
const CAL_TEXTS = ['the quick brown fox jumps over the lazy dog', 'hello there how are you', 'please call me tomorrow morning', 'it is raining in the city', 'open the door', 'music is playing loudly'];
const CAL_VOICES = ['en-us', 'en', 'en-us+m3'];
// Calibration never hears the wake phrase nor the negative sentences.
const EVAL_VOICES = ['en-us', 'en', 'en-us+f3', 'en-us+m7'];
const NEGATIVES = ['the weather is nice today', 'turn off the kitchen lights', 'what time is it now'];

function wakewordTask(entry: ZooEntry & { task: { kind: 'wakeword' } }): TaskSpec {
  const dir = packageDir(entry.package);
  const models: WakewordModels = { melspectrogram: join(dir, 'models/melspectrogram.onnx'), embedding: join(dir, 'models/embedding_model.onnx'), head: join(dir, entry.task.head) };
  const stage = entry.task.stage;
  const scores = async (m: WakewordModels, audio: Float32Array) => headScores(m.head, headWindows(await embeddings(m.embedding, embeddingWindows(await melFrames(m.melspectrogram, audio)))));
  return {
    async calibration() {
      const clips = CAL_TEXTS.flatMap((t) => CAL_VOICES.map((v) => speak(t, v)));
      const input = (s: Awaited<ReturnType<typeof createSession>>) => s.inputNames[0]!;
      const first = await createSession(stage === 'melspectrogram' ? models.melspectrogram : stage === 'embedding' ? models.embedding : models.head, { device: 'cpu' });
      const name = input(first); await first.release();
      if (stage === 'melspectrogram') {
        const L = clips[0]!.length, data = new Float32Array(clips.length * L);
        clips.forEach((c, i) => { for (let j = 0; j < L; j++) data[i * L + j] = c[j]! * 32767; });
        return { [name]: { dtype: 'float32', shape: [clips.length, L], data } };
      }
      const parts: Float32Array[] = [];
      for (const c of clips) {
        const w = embeddingWindows(await melFrames(models.melspectrogram, c));
        parts.push(stage === 'embedding' ? w.data : headWindows(await embeddings(models.embedding, w)).data);
      }
      const per = stage === 'embedding' ? 76 * 32 : 16 * 96;
      const n = parts.reduce((a, p) => a + p.length, 0) / per, data = new Float32Array(n * per);
      let o = 0; for (const p of parts) { data.set(p, o); o += p.length; }
      return { [name]: { dtype: 'float32', shape: stage === 'embedding' ? [n, 76, 32, 1] : [n, 16, 96], data } };
    },
    async check(fp32, quantized) {
      const q: WakewordModels = { ...models, [stage === 'head' ? 'head' : stage]: quantized };
      const f: WakewordModels = { ...models, [stage === 'head' ? 'head' : stage]: fp32 };
      const detail: string[] = [];
      let kept = true, agree = 0, agreeFp32 = 0, n = 0;
      for (const [text, want] of [[entry.task.phrase, true] as const, ...NEGATIVES.map((t) => [t, false] as const)]) {
        for (const v of EVAL_VOICES) {
          const audio = speak(text, v);
          const a = Math.max(...await scores(f, audio)), b = Math.max(...await scores(q, audio));
          n++;
          if ((a >= 0.5) === want) agreeFp32++;
          if ((a >= 0.5) === want && (b >= 0.5) === want) agree++; else kept = false;
          detail.push(`"${text}" (${v}): ${want ? 'should fire' : 'should not fire'}, FP32 max ${a.toFixed(3)}, quantized ${b.toFixed(3)}`);
        }
      }
      return { kept, metric: `wake decisions agreeing with the truth (max score ≥ 0.5) on ${n} espeak-ng clips in held-out voices, ${stage} quantized`, fp32: `${agreeFp32}/${n}`, quantized: `${agree}/${n}`, evalSamples: n, detail };
    },
  };
}

export function taskFor(entry: ZooEntry): TaskSpec {
  switch (entry.task.kind) {
    case 'face-detection': return faceTask(entry.task.size);
    case 'wakeword': return wakewordTask(entry as ZooEntry & { task: { kind: 'wakeword' } });
  }
}
