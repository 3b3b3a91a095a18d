// mulberry32: a small, fast, seeded generator of uniform floats in [0, 1). The engine uses it where a run
// must be repeatable (QAT's sample order); tests use it for fixed-seed synthetic data.
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
