// Non-finite values (NaN, ±Inf) in float input data. Calibration on them yields NaN ranges and
// scales, and every metric computed on them is meaningless; data is refused at load with the input
// and the first bad sample named, and a metric that is not a finite number is shown as undefined
// rather than formatted as a value (NaN would otherwise print as "exact" or "0.00").
import { StudioError, quote } from '../errors';
import type { NpyArray } from './npy';

export interface NonFiniteHit {
  /** Flat element index of the first non-finite value. */
  index: number;
  /** Its sample (index along axis 0), or undefined for a rank-0 array. */
  sample: number | undefined;
  /** The value, as a JS number (NaN, Infinity or -Infinity). */
  value: number;
}

/** The first non-finite element of a float array (float32/float64/float16), or undefined. Integer
 *  and bool arrays cannot hold one. */
export function firstNonFinite(a: NpyArray): NonFiniteHit | undefined {
  const d = a.data;
  let index = -1, value = 0;
  if (a.dtype === 'float32' || a.dtype === 'float64') {
    const v = d as Float32Array | Float64Array;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      // x - x is 0 for every finite x and NaN for NaN and ±Inf: one comparison per element.
      if (x - x !== 0) { index = i; value = x; break; }
    }
  } else if (a.dtype === 'float16') {
    const v = d as Uint16Array;
    for (let i = 0; i < v.length; i++) {
      const h = v[i]!;
      if ((h & 0x7c00) === 0x7c00) { index = i; value = h & 0x3ff ? NaN : h & 0x8000 ? -Infinity : Infinity; break; }
    }
  } else return undefined;
  if (index < 0) return undefined;
  const perSample = a.shape.length ? a.shape.slice(1).reduce((x, y) => x * y, 1) : 0;
  return { index, sample: a.shape.length && perSample > 0 ? Math.floor(index / perSample) : a.shape.length ? 0 : undefined, value };
}

/** Refuse (BAD_DATA) float input data holding NaN or ±Inf, naming the input, its file and the first
 *  bad sample. `sources` maps input names to the files they came from, where known. */
export function assertFiniteInputs(inputs: Record<string, NpyArray>, sources: Record<string, string> = {}, use = 'calibration'): void {
  for (const [name, a] of Object.entries(inputs)) {
    const hit = firstNonFinite(a);
    if (!hit) continue;
    const file = sources[name] ? ` (file ${quote(sources[name])})` : '';
    const where = hit.sample !== undefined ? `sample ${hit.sample} (element ${hit.index} of shape [${a.shape.join(', ')}])` : `its only element`;
    throw new StudioError('BAD_DATA', `Data for input ${quote(name)}${file} holds ${String(hit.value)} at ${where}: ${use} data must be finite (no NaN or Inf); fix or drop those samples.`);
  }
}

/** Whether a metric is a usable number. */
export function isFiniteMetric(x: number | undefined | null): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** A metric for display: the formatted number, or a plain statement that it is undefined. */
export function formatMetric(x: number | undefined | null, format: (v: number) => string): string {
  return isFiniteMetric(x) ? format(x) : 'undefined (non-finite data)';
}
