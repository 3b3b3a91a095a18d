// Widening float16 / bfloat16 bit patterns by table look-up (calibration and scoring of float16
// models) gives exactly the values of the per-value decoders, for every one of the 65536 patterns.
import { describe, it, expect } from 'vitest';
import { widenHalf, widenBfloat16, halfToFloat, bfloat16ToFloat } from '../../../engine/onnx/tensor';

const all = Uint16Array.from({ length: 65536 }, (_, i) => i);

describe('widenHalf / widenBfloat16', () => {
  it('agree with halfToFloat on every float16 pattern (signed zeros, subnormals, Inf, NaN)', () => {
    const w = widenHalf(all);
    let bad = 0;
    for (let h = 0; h < 65536; h++) if (!Object.is(w[h], Math.fround(halfToFloat(h)))) bad++;
    expect(bad).toBe(0);
    expect(Object.is(w[0x8000], -0)).toBe(true);
    expect(w[0x7c00]).toBe(Infinity);
    expect(w[0x0001]).toBe(2 ** -24);
  });

  it('agree with bfloat16ToFloat on every bfloat16 pattern', () => {
    const w = widenBfloat16(all);
    let bad = 0;
    for (let h = 0; h < 65536; h++) if (!Object.is(w[h], bfloat16ToFloat(h))) bad++;
    expect(bad).toBe(0);
  });

  it('take plain number arrays as well as Uint16Array', () => {
    expect(Array.from(widenHalf([0x3c00, 0xc000]))).toEqual([1, -2]);
    expect(Array.from(widenBfloat16([0x3f80]))).toEqual([1]);
  });
});
