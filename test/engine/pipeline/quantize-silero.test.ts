// A model we did not train: Silero VAD v6 (Conv + LSTM cell as Gemm, everything inside an If on the
// sample rate, a recurrent state input). Speech is synthesized with espeak-ng and resampled to 16 kHz.
// After default int8 quantization it must find the same speech segments (Silero's own rule:
// start at p >= 0.5, end after 4 frames below 0.35, segments of 8+ frames) within 2 frames (64 ms).
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { readWav, resample } from '../../../engine/data/wav';
import type { NpyArray } from '../../../engine/data/npy';
import { createSession, ort } from '../../../engine/runtime/session';
import { repoRoot } from '../../helpers/shared';
import { vadSegments } from '../../helpers/vad-segments';

const MODEL = join(repoRoot, 'node_modules', '@jjhbw', 'silero-vad', 'weights', 'silero_vad_op18_ifless.onnx');
const dir = mkdtempSync(join(tmpdir(), 'qvad-'));

function speech(text: string, voice: string): Float32Array {
  const wav = join(dir, `${voice}.wav`);
  execFileSync('espeak-ng', ['-v', voice, '-w', wav, text]);
  const a = resample(readWav(wav), 16000).samples;
  const x = new Float32Array(16000 + a.length + 16000); // a second of silence on each side
  x.set(a, 16000);
  return x;
}

/** 512-sample frames with the 64 samples before each as context: [N, 576]. */
function frames(x: Float32Array): NpyArray {
  const n = Math.floor(x.length / 512), data = new Float32Array(n * 576);
  for (let i = 0; i < n; i++) {
    if (i > 0) data.set(x.subarray(i * 512 - 64, i * 512), i * 576);
    data.set(x.subarray(i * 512, i * 512 + 512), i * 576 + 64);
  }
  return { dtype: 'float32', shape: [n, 576], data };
}

/** Run frame by frame carrying the LSTM state, as Silero is used; returns probabilities and states. */
async function stream(model: string, f: NpyArray): Promise<{ p: number[]; states: Float32Array[] }> {
  const s = await createSession(model, { device: 'cpu' });
  const sr = new ort.Tensor('int64', BigInt64Array.of(16000n), []);
  let state = new Float32Array(256);
  const p: number[] = [], states: Float32Array[] = [];
  for (let i = 0; i < f.shape[0]!; i++) {
    states.push(state);
    const r = await s.run({ input: new ort.Tensor('float32', (f.data as Float32Array).subarray(i * 576, i * 576 + 576), [1, 576]), sr, state: new ort.Tensor('float32', state, [2, 1, 128]) });
    p.push((r.output!.data as Float32Array)[0]!);
    state = new Float32Array(r.stateN!.data as Float32Array);
  }
  await s.release();
  return { p, states };
}

describe('Silero VAD', () => {
  it('finds the same speech segments after default int8 quantization', async () => {
    try {
      const test = frames(speech('The quick brown fox jumps over the lazy dog. Quantization keeps the speech detector honest.', 'en'));
      const cal = frames(speech('Calibration data comes from a different sentence, spoken by another voice, with some pauses.', 'en-us'));
      // Calibrate with the states the FP32 model itself carries through the calibration audio.
      const calStates = (await stream(MODEL, cal)).states;
      const N = cal.shape[0]!, st = new Float32Array(2 * N * 128);
      for (let i = 0; i < N; i++) for (let l = 0; l < 2; l++) st.set(calStates[i]!.subarray(l * 128, l * 128 + 128), (l * N + i) * 128);
      const out = join(dir, 'vad-int8.onnx');
      const report = await quantizeModel({
        modelPath: MODEL, outputPath: out, recipe: parseRecipe({}), evaluate: false,
        inputs: { input: cal, sr: { dtype: 'int64', shape: [], data: BigInt64Array.of(16000n) }, state: { dtype: 'float32', shape: [2, N, 128], data: st } },
      });
      // 16 kHz branch: STFT conv, 4 encoder convs, 2 LSTM Gemms, decoder conv — and the 8 kHz branch weight-only.
      expect(report.quantized.length).toBe(16);
      expect(report.notices.join(' ')).toMatch(/If branch/);
      const fp32 = (await stream(MODEL, test)).p, int8 = (await stream(out, test)).p;
      const a = vadSegments(fp32), b = vadSegments(int8);
      expect(a.length).toBeGreaterThanOrEqual(1);
      expect(b.length).toBe(a.length);
      a.forEach(([s, e], i) => {
        expect(Math.abs(b[i]![0] - s)).toBeLessThanOrEqual(2);
        expect(Math.abs(b[i]![1] - e)).toBeLessThanOrEqual(2);
      });
      const agree = fp32.filter((p, i) => (p > 0.5) === (int8[i]! > 0.5)).length / fp32.length;
      expect(agree).toBeGreaterThan(0.93);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
