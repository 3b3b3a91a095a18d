// WAV (RIFF PCM 16-bit / float32) reading and resampling, for audio calibration data and tests.
import { readFileSync } from 'node:fs';
import { StudioError, quote } from '../errors';

export interface Audio { sampleRate: number; samples: Float32Array }

export function decodeWav(bytes: Uint8Array, source = '<wav>'): Audio {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(...bytes.subarray(o, o + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new StudioError('BAD_DATA', `File ${quote(source)} is not a RIFF/WAVE file.`);
  let off = 12, fmt = 0, channels = 0, rate = 0, bits = 0;
  let data: Uint8Array | undefined;
  while (off + 8 <= bytes.length) {
    const id = tag(off);
    let len = dv.getUint32(off + 4, true);
    if (id === 'data' && (len === 0xffffffff || off + 8 + len > bytes.length)) len = bytes.length - off - 8; // streamed WAVs
    if (id === 'fmt ') { fmt = dv.getUint16(off + 8, true); channels = dv.getUint16(off + 10, true); rate = dv.getUint32(off + 12, true); bits = dv.getUint16(off + 22, true); }
    if (id === 'data') { data = bytes.subarray(off + 8, off + 8 + len); break; }
    off += 8 + len + (len & 1);
  }
  if (!data || !channels) throw new StudioError('BAD_DATA', `WAV ${quote(source)} has no fmt or data chunk.`);
  const pcm16 = fmt === 1 && bits === 16, f32 = fmt === 3 && bits === 32;
  if (!pcm16 && !f32) throw new StudioError('BAD_DATA', `WAV ${quote(source)} is format ${fmt} with ${bits}-bit samples; only 16-bit PCM and 32-bit float are supported.`);
  const frames = Math.floor(data.length / (channels * bits / 8));
  const ddv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const samples = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const o = (i * channels + c) * (bits / 8);
      sum += pcm16 ? ddv.getInt16(o, true) / 32768 : ddv.getFloat32(o, true);
    }
    samples[i] = sum / channels;
  }
  return { sampleRate: rate, samples };
}

export function readWav(path: string): Audio {
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch (e) {
    throw new StudioError('NOT_FOUND', `Cannot read audio file ${quote(path)}: ${(e as Error).message}`, { cause: e });
  }
  return decodeWav(bytes, path);
}

/** Band-limited resampling (windowed sinc, Hann, 16 zero crossings), e.g. 22050 Hz -> 16000 Hz. */
export function resample(a: Audio, rate: number): Audio {
  if (a.sampleRate === rate) return a;
  const ratio = rate / a.sampleRate;
  const cutoff = Math.min(1, ratio);
  const half = 16;
  const n = Math.floor(a.samples.length * ratio);
  const out = new Float32Array(n);
  const x = a.samples;
  const span = Math.ceil(half / cutoff);
  for (let i = 0; i < n; i++) {
    const t = i / ratio;
    const c = Math.floor(t);
    let acc = 0, wsum = 0;
    for (let k = c - span + 1; k <= c + span; k++) {
      if (k < 0 || k >= x.length) continue;
      const d = (t - k) * cutoff;
      const sinc = d === 0 ? 1 : Math.sin(Math.PI * d) / (Math.PI * d);
      const win = 0.5 + 0.5 * Math.cos((Math.PI * d) / half);
      const w = Math.abs(d) < half ? sinc * win : 0;
      acc += x[k]! * w; wsum += w;
    }
    out[i] = wsum ? acc / wsum : 0;
  }
  return { sampleRate: rate, samples: out };
}
