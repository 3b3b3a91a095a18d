// Task checks for the model zoo (models.json): real inputs in, the task's own decision out, for the
// FP32 model and its quantized twin. Calibration and evaluation inputs never overlap.
//   face-detection  skimage photos (Debian python3-skimage, scripts/fetch-test-assets.sh): faces found
//                   in the portraits, none in the photos without a face, the best box where FP32 has it.
//   wakeword        espeak-ng speech through openWakeWord's three models: "hey jarvis" in held-out
//                   voices fires (score ≥ 0.5), other sentences do not; one stage swapped for its
//                   quantized twin at a time.
//   salient-mask    skimage photos through IMG.LY's background removal (ISNet): the foreground mask
//                   (alpha ≥ 0.5) of the quantized model against FP32's, IoU per held-out photo.
//   text-detection  PaddleOCR's DBNet on skimage photos and rendered pages: text boxes (regions of the
//                   map at p ≥ 0.3) where there is text and nowhere else, matching FP32's boxes.
//   text-recognition PaddleOCR's SVTR recogniser on text lines rendered with DejaVu fonts (sharp's
//                   SVG renderer): the greedy CTC reading must equal the rendered string.
//   voice-activity  Silero VAD (LSTM) streamed over espeak-ng speech in held-out voices, 512-sample
//                   frames carrying its state: the same speech segments as FP32 (Silero's own rule).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { NpyArray } from '../../engine/data/npy';
import { readWav, resample } from '../../engine/data/wav';
import { createSession, ort } from '../../engine/runtime/session';
import { repoRoot } from '../helpers/shared';
import { vadSegments } from '../helpers/vad-segments';
import { melFrames, embeddingWindows, embeddings, headWindows, headScores, type WakewordModels } from './wakeword';

export const zooModelsDir = join(repoRoot, '.cache', 'test-models');
export const imagesDir = join(repoRoot, '.cache', 'test-assets', 'skimage-data');
export const packageDir = (spec: string) => join(zooModelsDir, spec.replace(/@[^@]*$/, '').replace('/', '+'));

export interface ZooEntry {
  id: string; family: string; package: string; file: string; license: string; traits: string[];
  task: { kind: 'face-detection'; size: number } | { kind: 'wakeword'; stage: 'melspectrogram' | 'embedding' | 'head'; head: string; phrase: string }
    | { kind: 'salient-mask'; size: number; minIou: number }
    | { kind: 'text-detection'; size: number; minHmean: number }
    | { kind: 'text-recognition'; height: number; width: number; vocabulary: string }
    | { kind: 'voice-activity' };
  /**
   * What the default recipe must do. "keeps-task": keep it. "guard-keeps-task": the fully quantized
   * model loses it (run with "guard": false it warns naming the layers responsible) and the default
   * recipe's wreck guard brings it back. "warns-if-wrecked": where it loses it, the run warns.
   */
  expect: 'keeps-task' | 'guard-keeps-task' | 'warns-if-wrecked'; ci: boolean;
  /** A recipe `target` that must bring a wrecked model back to its task. */
  target?: Record<string, unknown>;
  /** Seconds the quantize command may take (default 600; a 1024² float16 segmenter takes longer). */
  timeoutS?: number;
}

/** One task check's outcome: what was measured, on what, and whether the quantized model kept the task. */
export interface TaskResult { kept: boolean; metric: string; fp32: string; quantized: string; evalSamples: number; detail: string[] }

export interface TaskSpec {
  /** Calibration data per model input (never the evaluation inputs). */
  calibration(): Promise<Record<string, NpyArray>>;
  /** Run the task with the FP32 model and with `quantized`. */
  check(fp32Path: string, quantizedPath: string): Promise<TaskResult>;
}

/** Samples of one shape stacked along a new leading axis: the batch a calibration returns. */
function stack(xs: Float32Array[], sampleShape: number[]): NpyArray {
  const data = new Float32Array(xs.length * xs[0]!.length);
  xs.forEach((x, i) => data.set(x, i * x.length));
  return { dtype: 'float32', shape: [xs.length, ...sampleShape], data };
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
      return { 'input:0': stack(xs, [size, size, 3]) };
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

// ---------------------------------------------------------------- salient-object mask (IMG.LY / ISNet)
// Photos with one clear subject; calibration uses other photos (none of these).
const MASK_EVAL = ['astronaut.png', 'chelsea.png', 'coffee.png', 'motorcycle_left.png', 'rocket.jpg'];
const MASK_CALIBRATION = ['horse.png', 'camera.png', 'coins.png', 'hubble_deep_field.jpg', 'clock_motion.png', 'color.png'];

/** A photo as IMG.LY's runInference feeds ISNet: bilinear resize to size², (x − 128) / 256, NCHW. */
async function maskInput(file: string, size: number): Promise<Float32Array> {
  const { data } = await sharp(join(imagesDir, file)).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill', kernel: 'linear' }).raw().toBuffer({ resolveWithObject: true });
  const plane = size * size, x = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) x[c * plane + i] = (data[i * 3 + c]! - 128) / 256;
  return x;
}

/** The model's alpha mask (its first output, sigmoid already applied) for each photo, one session. */
async function alphaMasks(model: string, inputs: Float32Array[], size: number): Promise<Float32Array[]> {
  const s = await createSession(model, { device: 'cpu' });
  try {
    const out: Float32Array[] = [];
    for (const x of inputs) {
      const r = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, [1, 3, size, size]) });
      const t = r[s.outputNames[0]!]!;
      out.push(t.type === 'float32' ? (t.data as Float32Array).slice() : Float32Array.from(t.data as ArrayLike<number>));
    }
    return out;
  } finally { await s.release(); }
}

function maskTask(size: number, minIou: number): TaskSpec {
  return {
    async calibration() {
      const xs = await Promise.all(MASK_CALIBRATION.map((f) => maskInput(f, size)));
      return { input: stack(xs, [3, size, size]) };
    },
    async check(fp32, quantized) {
      const inputs = await Promise.all(MASK_EVAL.map((f) => maskInput(f, size)));
      const a = await alphaMasks(fp32, inputs, size), b = await alphaMasks(quantized, inputs, size);
      const detail: string[] = [];
      let found = 0, kept = 0, iouSum = 0;
      MASK_EVAL.forEach((f, k) => {
        let inter = 0, union = 0, fg = 0, absDiff = 0;
        const p = a[k]!, q = b[k]!;
        for (let i = 0; i < p.length; i++) {
          const x = p[i]! >= 0.5, y = q[i]! >= 0.5;
          if (x) fg++;
          if (x && y) inter++;
          if (x || y) union++;
          absDiff += Math.abs(p[i]! - q[i]!);
        }
        const iou = union ? inter / union : 1, share = fg / p.length;
        // FP32 "passes" a photo when it separates a subject: foreground neither empty nor everything.
        const subject = share >= 0.02 && share <= 0.98;
        if (subject) found++;
        if (subject && iou >= minIou) kept++;
        iouSum += iou;
        detail.push(`${f}: FP32 foreground ${(100 * share).toFixed(1)} %, mask IoU vs FP32 ${iou.toFixed(4)}, mean |Δalpha| ${(absDiff / p.length).toFixed(4)}`);
      });
      const n = MASK_EVAL.length;
      detail.push(`mean IoU ${(iouSum / n).toFixed(4)}`);
      return { kept: kept === n, metric: `photos whose quantized foreground mask (alpha ≥ 0.5) has IoU ≥ ${minIou} with FP32's on ${n} held-out skimage photos (FP32: a subject separated, 2–98 % foreground); mean IoU ${(iouSum / n).toFixed(3)}`, fp32: `${found}/${n}`, quantized: `${kept}/${n}`, evalSamples: n, detail };
    },
  };
}

// ---------------------------------------------------------------- OCR (PaddleOCR v4 as Guten OCR ships it)
const xmlText = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** A page of text rendered by sharp's SVG renderer (librsvg with the system's DejaVu fonts). */
function renderedPage(lines: string[], size: number, font: string): Buffer {
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="#f4f1ea"/>${lines.map((l, i) => `<text x="30" y="${60 + i * 44}" font-family="${font}" font-size="26" fill="#222">${xmlText(l)}</text>`).join('')}</svg>`);
}
type DetImage = { name: string; source: string | Buffer; text: boolean };
const DET_EVAL: DetImage[] = [
  { name: 'text.png', source: 'text.png', text: true }, { name: 'page.png', source: 'page.png', text: true },
  { name: 'rendered letter (DejaVu Serif)', source: '', text: true }, { name: 'rendered list (DejaVu Sans)', source: '', text: true },
  // Without text (moon.png is not: FP32 itself finds two "text" boxes among its craters).
  ...['coins.png', 'camera.png'].map((f) => ({ name: f, source: f, text: false })),
];
DET_EVAL[2]!.source = renderedPage(['Dear reader,', 'the meeting moved to Tuesday', 'at half past nine.', 'Please bring the reports.'], 640, 'DejaVu Serif');
DET_EVAL[3]!.source = renderedPage(['Shopping list', '- two litres of milk', '- 12 eggs, brown', '- coffee beans (250 g)', '- apples'], 640, 'DejaVu Sans');
// Calibration: other photos and other rendered pages.
const DET_CALIBRATION: (string | Buffer)[] = ['horse.png', 'coffee.png', 'rocket.jpg', 'motorcycle_left.png', 'brick.png', 'gravel.png',
  renderedPage(['Minutes of the annual meeting', 'Present: the board and guests', 'Item 1: budget for next year', 'Item 2: the new office'], 640, 'DejaVu Sans Mono'),
  renderedPage(['Chapter three', 'It was late when the train', 'finally reached the station', 'and the platform was empty.'], 640, 'DejaVu Serif'),
];

/** An image as PaddleOCR's detector takes it: resized to size² (a multiple of 32), ImageNet mean/std, NCHW. */
async function detInput(source: string | Buffer, size: number): Promise<Float32Array> {
  const { data } = await sharp(typeof source === 'string' ? join(imagesDir, source) : source).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225], plane = size * size, x = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) x[c * plane + i] = (data[i * 3 + c]! / 255 - mean[c]!) / std[c]!;
  return x;
}

/**
 * Text boxes as DBNet's post-processing finds them: connected regions (4-neighbour) of the map at
 * p ≥ 0.3, each region's bounding box; regions under 3 px a side (PaddleOCR's min_size) or whose mean
 * probability is under 0.6 (its box_thresh, here over the region's own pixels) dropped.
 */
function textBoxes(map: Float32Array, size: number): number[][] {
  const label = new Int32Array(map.length), boxes: number[][] = [], stack: number[] = [];
  for (let start = 0; start < map.length; start++) {
    if (map[start]! < 0.3 || label[start]) continue;
    label[start] = 1; stack.push(start);
    let x0 = size, y0 = size, x1 = -1, y1 = -1, sum = 0, count = 0;
    while (stack.length) {
      const i = stack.pop()!, x = i % size, y = (i - x) / size;
      sum += map[i]!; count++;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      for (const j of [x > 0 ? i - 1 : -1, x < size - 1 ? i + 1 : -1, y > 0 ? i - size : -1, y < size - 1 ? i + size : -1]) {
        if (j >= 0 && !label[j] && map[j]! >= 0.3) { label[j] = 1; stack.push(j); }
      }
    }
    if (x1 - x0 + 1 >= 3 && y1 - y0 + 1 >= 3 && sum / count >= 0.6) boxes.push([x0, y0, x1 + 1, y1 + 1]);
  }
  return boxes;
}
const boxIou = (a: number[], b: number[]) => {
  const w = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!)), h = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const area = (r: number[]) => (r[2]! - r[0]!) * (r[3]! - r[1]!);
  return (w * h) / (area(a) + area(b) - w * h);
};
/** ICDAR-style hmean of `found` against `reference` boxes: one-to-one matches at box IoU ≥ 0.5. */
function boxHmean(reference: number[][], found: number[][]): number {
  if (!reference.length && !found.length) return 1;
  const used = new Set<number>();
  let matched = 0;
  for (const r of reference) {
    let best = -1, bestIou = 0.5;
    found.forEach((f, j) => { const v = boxIou(r, f); if (!used.has(j) && v >= bestIou) { best = j; bestIou = v; } });
    if (best >= 0) { used.add(best); matched++; }
  }
  const p = found.length ? matched / found.length : 0, r = reference.length ? matched / reference.length : 0;
  return p + r ? (2 * p * r) / (p + r) : 0;
}

function textDetectionTask(size: number, minHmean: number): TaskSpec {
  return {
    async calibration() {
      const xs = await Promise.all(DET_CALIBRATION.map((f) => detInput(f, size)));
      return { x: stack(xs, [3, size, size]) };
    },
    async check(fp32, quantized) {
      const inputs = await Promise.all(DET_EVAL.map((e) => detInput(e.source, size)));
      const a = await alphaMasks(fp32, inputs, size), b = await alphaMasks(quantized, inputs, size);
      const detail: string[] = [];
      let right = 0, kept = 0;
      DET_EVAL.forEach((e, k) => {
        let inter = 0, union = 0;
        const p = a[k]!, q = b[k]!;
        for (let i = 0; i < p.length; i++) { const x = p[i]! >= 0.3, y = q[i]! >= 0.3; if (x && y) inter++; if (x || y) union++; }
        const ba = textBoxes(p, size), bb = textBoxes(q, size), h = boxHmean(ba, bb);
        // FP32 is right when it finds boxes exactly on the images that hold text.
        if ((ba.length > 0) === e.text) right++;
        if ((ba.length > 0) === e.text && (bb.length > 0) === e.text && h >= minHmean) kept++;
        detail.push(`${e.name}: text ${e.text ? 'expected' : 'not expected'}, FP32 ${ba.length} box(es), quantized ${bb.length}, box hmean vs FP32 ${h.toFixed(3)}, pixel IoU of the maps ${(union ? inter / union : 1).toFixed(3)}`);
      });
      const n = DET_EVAL.length;
      return { kept: kept === n, metric: `images where text boxes are found exactly where there is text and the quantized boxes match FP32's (hmean ≥ ${minHmean} at box IoU ≥ 0.5), on ${n} held-out images (skimage text and page, 2 skimage photos without text, 2 rendered pages)`, fp32: `${right}/${n}`, quantized: `${kept}/${n}`, evalSamples: n, detail };
    },
  };
}

// Text lines: the evaluation strings are never rendered for calibration. Each fits the 320 px line at
// 22 px. FP32 itself misreads a doubled narrow letter at 8 px per CTC step ("Hello" → "Helo") and a
// run of three digits ("555" → "55"): no evaluation line has one.
const REC_EVAL: [string, string][] = [
  ['Welcome back 2024', 'DejaVu Sans'], ['The quick brown fox', 'DejaVu Serif'], ['invoice number 4471-B', 'DejaVu Sans Mono'],
  ['Quant Studio', 'DejaVu Sans'], ['Meet me at 9:30 tomorrow', 'DejaVu Serif'], ['Total due: 128.50 EUR', 'DejaVu Sans'],
  ['Platform 7, Carriage C', 'DejaVu Sans Mono'], ['open the window please', 'DejaVu Serif'], ['Room 214 is on the left', 'DejaVu Sans'],
  ['Batch size and latency', 'DejaVu Sans Mono'], ['Fresh bread every day', 'DejaVu Serif'], ['Call 0199 now', 'DejaVu Sans'],
];
const REC_CALIBRATION: [string, string][] = [
  ['Annual report summary', 'DejaVu Sans'], ['keep off the grass', 'DejaVu Serif'], ['Order #88213 shipped', 'DejaVu Sans Mono'],
  ['Monday to Friday 8-18', 'DejaVu Sans'], ['No parking here', 'DejaVu Serif'], ['version 3.1.4 released', 'DejaVu Sans Mono'],
  ['Welcome to the museum', 'DejaVu Sans'], ['Exit on the right side', 'DejaVu Serif'], ['Price per kilo: 4.20', 'DejaVu Sans'],
  ['Library opening hours', 'DejaVu Sans Mono'], ['Please wait here', 'DejaVu Serif'], ['Gate B12 boarding', 'DejaVu Sans'],
];

/** A text line as PaddleOCR's recogniser takes it: height×width, (x/255 − 0.5)/0.5, NCHW. */
async function recInput(text: string, font: string, height: number, width: number): Promise<Float32Array> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/><text x="4" y="${Math.round(height * 0.7)}" font-family="${font}" font-size="${Math.round(height * 0.46)}" fill="black">${xmlText(text)}</text></svg>`;
  const { data } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const plane = height * width, x = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) x[c * plane + i] = (data[i * 3 + c]! / 255 - 0.5) / 0.5;
  return x;
}

/** Greedy CTC: the best class per step, repeats merged, blank (0) dropped; class i is vocabulary[i − 1]. */
function ctcGreedy(probs: Float32Array, steps: number, classes: number, vocabulary: string[]): string {
  let out = '', prev = -1;
  for (let t = 0; t < steps; t++) {
    let m = 0;
    for (let v = 1; v < classes; v++) if (probs[t * classes + v]! > probs[t * classes + m]!) m = v;
    if (m !== prev && m !== 0) out += vocabulary[m - 1] ?? '';
    prev = m;
  }
  return out.trim();
}

function textRecognitionTask(entry: ZooEntry & { task: { kind: 'text-recognition' } }): TaskSpec {
  const { height, width } = entry.task;
  // PaddleOCR's dictionary, one character a line, with the space class appended (use_space_char).
  const vocabulary = () => [...readFileSync(join(packageDir(entry.package), entry.task.vocabulary), 'utf8').replace(/\n$/, '').split('\n'), ' '];
  const readAll = async (model: string, xs: Float32Array[]) => {
    const s = await createSession(model, { device: 'cpu' });
    try {
      const v = vocabulary(), out: string[] = [];
      for (const x of xs) {
        const t = (await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, [1, 3, height, width]) }))[s.outputNames[0]!]!;
        out.push(ctcGreedy(t.data as Float32Array, t.dims[1]!, t.dims[2]!, v));
      }
      return out;
    } finally { await s.release(); }
  };
  return {
    async calibration() {
      const xs = await Promise.all(REC_CALIBRATION.map(([t, f]) => recInput(t, f, height, width)));
      return { x: stack(xs, [3, height, width]) };
    },
    async check(fp32, quantized) {
      const xs = await Promise.all(REC_EVAL.map(([t, f]) => recInput(t, f, height, width)));
      const a = await readAll(fp32, xs), b = await readAll(quantized, xs);
      const detail: string[] = [];
      let right = 0, kept = 0;
      REC_EVAL.forEach(([truth, font], k) => {
        if (a[k] === truth) right++;
        if (a[k] === truth && b[k] === truth) kept++;
        detail.push(`${JSON.stringify(truth)} (${font}): FP32 ${JSON.stringify(a[k])}, quantized ${JSON.stringify(b[k])}`);
      });
      const n = REC_EVAL.length;
      return { kept: kept === n, metric: `text lines read exactly (greedy CTC) on ${n} held-out lines rendered in 3 DejaVu fonts`, fp32: `${right}/${n}`, quantized: `${kept}/${n}`, evalSamples: n, detail };
    },
  };
}

// ---------------------------------------------------------------- voice activity (Silero VAD, LSTM)
const VAD_FRAME = 512; // 32 ms at 16 kHz, the frame Silero streams
const VAD_EVAL_TEXTS = ['the weather is nice today', 'turn off the kitchen lights', 'what time is it now'];
type VadState = { h: Float32Array; c: Float32Array };

/** Stream a clip frame by frame carrying the LSTM state, as Silero runs: the speech probability per frame and the state each frame saw. */
async function vadStream(model: string, audio: Float32Array): Promise<{ p: number[]; states: VadState[] }> {
  const s = await createSession(model, { device: 'cpu' });
  try {
    const sr = new ort.Tensor('int64', BigInt64Array.of(16000n), []);
    let st: VadState = { h: new Float32Array(128), c: new Float32Array(128) };
    const p: number[] = [], states: VadState[] = [];
    for (let i = 0; (i + 1) * VAD_FRAME <= audio.length; i++) {
      states.push(st);
      const r = await s.run({ input: new ort.Tensor('float32', audio.slice(i * VAD_FRAME, (i + 1) * VAD_FRAME), [1, VAD_FRAME]), sr, h: new ort.Tensor('float32', st.h, [2, 1, 64]), c: new ort.Tensor('float32', st.c, [2, 1, 64]) });
      p.push((r.output!.data as Float32Array)[0]!);
      st = { h: new Float32Array(r.hn!.data as Float32Array), c: new Float32Array(r.cn!.data as Float32Array) };
    }
    return { p, states };
  } finally { await s.release(); }
}

function voiceActivityTask(entry: ZooEntry): TaskSpec {
  const model = join(packageDir(entry.package), entry.file);
  return {
    // Frames of the calibration clips with the states the FP32 model itself carries through them
    // (h and c hold the sample on axis 1: [2, N, 64]).
    async calibration() {
      const frames: Float32Array[] = [], hs: Float32Array[] = [], cs: Float32Array[] = [];
      for (const t of CAL_TEXTS) for (const v of CAL_VOICES) {
        const audio = speak(t, v);
        const { states } = await vadStream(model, audio);
        states.forEach((st, i) => { frames.push(audio.slice(i * VAD_FRAME, (i + 1) * VAD_FRAME)); hs.push(st.h); cs.push(st.c); });
      }
      const n = frames.length;
      const layerMajor = (xs: Float32Array[]) => {
        const d = new Float32Array(2 * n * 64);
        xs.forEach((x, i) => { for (let l = 0; l < 2; l++) d.set(x.subarray(l * 64, l * 64 + 64), (l * n + i) * 64); });
        return { dtype: 'float32' as const, shape: [2, n, 64], data: d };
      };
      return { input: stack(frames, [VAD_FRAME]), sr: { dtype: 'int64', shape: [], data: BigInt64Array.of(16000n) }, h: layerMajor(hs), c: layerMajor(cs) };
    },
    async check(fp32, quantized) {
      const detail: string[] = [];
      let found = 0, kept = 0, n = 0;
      for (const text of VAD_EVAL_TEXTS) for (const v of EVAL_VOICES) {
        const audio = speak(text, v);
        const a = vadSegments((await vadStream(fp32, audio)).p), b = vadSegments((await vadStream(quantized, audio)).p);
        n++;
        // The truth: speech starts after the clip's first second of silence (frame 31).
        const fp32Right = a.length >= 1 && a.every(([s]) => s >= 28);
        if (fp32Right) found++;
        const same = b.length === a.length && a.every(([s, e], i) => Math.abs(b[i]![0] - s) <= 2 && Math.abs(b[i]![1] - e) <= 2);
        if (fp32Right && same) kept++;
        detail.push(`"${text}" (${v}): FP32 segments ${JSON.stringify(a)}, quantized ${JSON.stringify(b)}`);
      }
      return { kept: kept === n, metric: `speech segments (frames of 32 ms) found after the leading second of silence and matching FP32's within 2 frames, on ${n} espeak-ng clips in held-out voices`, fp32: `${found}/${n}`, quantized: `${kept}/${n}`, evalSamples: n, detail };
    },
  };
}

export function taskFor(entry: ZooEntry): TaskSpec {
  switch (entry.task.kind) {
    case 'face-detection': return faceTask(entry.task.size);
    case 'wakeword': return wakewordTask(entry as ZooEntry & { task: { kind: 'wakeword' } });
    case 'salient-mask': return maskTask(entry.task.size, entry.task.minIou);
    case 'text-detection': return textDetectionTask(entry.task.size, entry.task.minHmean);
    case 'text-recognition': return textRecognitionTask(entry as ZooEntry & { task: { kind: 'text-recognition' } });
    case 'voice-activity': return voiceActivityTask(entry);
  }
}
