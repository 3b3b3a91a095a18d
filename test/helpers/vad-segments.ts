// Silero VAD's own segmentation of per-frame speech probabilities, as the zoo's voice-activity check and
// the Silero quantization test score it: a segment starts at p ≥ 0.5 and ends after 4 frames below
// 0.35; segments shorter than 8 frames are dropped.

/** [start, end) frame ranges of speech in `p`. */
export function vadSegments(p: number[]): [number, number][] {
  const segs: [number, number][] = [];
  let start = -1, silence = 0;
  for (let i = 0; i < p.length; i++) {
    if (start < 0) { if (p[i]! >= 0.5) { start = i; silence = 0; } continue; }
    if (p[i]! < 0.35) {
      if (++silence >= 4) { const end = i - silence + 1; if (end - start >= 8) segs.push([start, end]); start = -1; }
    } else silence = 0;
  }
  if (start >= 0 && p.length - start >= 8) segs.push([start, p.length]);
  return segs;
}
