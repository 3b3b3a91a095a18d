// Fixed-seed data for the native kernel tests: never zeros, with the awkward values kernels get wrong
// (exact .5 ties after division, values past the clip range, NaN where a kernel defines it).

import { seededRandom as rng } from '../../engine/util/seeded-random';
export { rng };

/** Normal-ish floats (sum of uniforms) times `spread`, with a sprinkling of exact ties k·scale/2 and outliers. */
export function floats(n: number, seed: number, spread = 1, tieScale?: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = (r() + r() + r() - 1.5) * 2 * spread;
    const pick = r();
    if (tieScale !== undefined && pick < 0.1) v = (Math.floor(r() * 60) - 30 + 0.5) * tieScale; // x / s lands on .5
    else if (pick > 0.98) v *= 50; // far outside the range: saturation
    out[i] = v === 0 ? 1e-3 : v;
  }
  return out;
}

export function int8s(n: number, seed: number): Int8Array {
  const r = rng(seed);
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256) - 128;
  return out;
}

export function uint8s(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

export function positiveScales(n: number, seed: number, base = 0.02): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => Math.fround(base * (0.5 + r())));
}

/** Index of the first difference (bitwise for floats, so -0/+0 and NaN payloads count), or -1. */
export function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}
