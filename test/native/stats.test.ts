// Calibration statistics (min/max, histogram) and QAT fake quant against their TypeScript twins.
import { describe, expect, it } from 'vitest';
import {
  cpuFeatures, fakeQuantBackward, fakeQuantBackwardSync, fakeQuantForwardSync, histogram, histogramSync, minMaxSync, nativeAvailable, quantLayout,
} from '../../native-kernels/lib/index';
import { fakeQuantBackwardRef, fakeQuantForwardRef, histogramRef, minMaxRef } from '../../native-kernels/lib/reference/quantize';
import { firstDiff, floats, positiveScales } from './helpers';

describe.skipIf(!nativeAvailable())('minMax (native vs reference, exact)', () => {
  it('per-tensor over an odd length with NaNs ignored', () => {
    const x = floats(300_007, 21, 3);
    x[17] = NaN; x[300_000] = NaN;
    const want = minMaxRef(x, { outer: 1, axisLen: 1, inner: x.length, block: 0 }, 1);
    for (const impl of ['auto', 'reference'] as const) {
      const got = minMaxSync(x, undefined, { impl });
      expect([got.min[0], got.max[0]]).toEqual([want.min[0], want.max[0]]);
    }
    expect(want.max[0]).toBeGreaterThan(10); // the outliers are in there: the test can tell a wrong max
  });

  it('per-channel (axis 0 and last axis) and blocked', () => {
    const shapes: [number[], number | undefined, number | undefined][] = [[[29, 67], 0, undefined], [[23, 41], 1, undefined], [[4, 9, 33], 2, 8], [[5, 7, 3], 1, undefined]];
    shapes.forEach(([shape, axis, blockSize], k) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = floats(n, 40 + k, 2);
      const rank = shape.length;
      const a = axis! < 0 ? axis! + rank : axis!;
      const probe = { outer: shape.slice(0, a).reduce((p, q) => p * q, 1), axisLen: shape[a]!, inner: shape.slice(a + 1).reduce((p, q) => p * q, 1), block: blockSize ?? 0 };
      const slots = probe.block > 0 ? probe.outer * Math.ceil(probe.axisLen / probe.block) * probe.inner : probe.axisLen;
      const L = quantLayout(n, shape, axis, blockSize, slots);
      const want = minMaxRef(x, L, slots);
      const got = minMaxSync(x, { shape, axis, blockSize });
      expect(firstDiff(got.min, want.min)).toBe(-1);
      expect(firstDiff(got.max, want.max)).toBe(-1);
    });
  });
});

describe.skipIf(!nativeAvailable())('histogram (native vs reference, exact counts)', () => {
  it('counts match on odd lengths, edges included, out-of-range and NaN skipped', async () => {
    const x = floats(250_001, 77, 2);
    x[5] = 4; x[6] = -4; x[7] = NaN; x[8] = 4.0000005;
    for (const bins of [1, 7, 128, 2048]) {
      const want = histogramRef(x, -4, 4, new Float64Array(bins));
      expect(firstDiff(histogramSync(x, { min: -4, max: 4, bins }), want), `bins ${bins}`).toBe(-1);
      expect(firstDiff(histogramSync(x, { min: -4, max: 4, bins }, { impl: 'reference' }), want)).toBe(-1);
      expect(firstDiff(await histogram(x, { min: -4, max: 4, bins }), want)).toBe(-1);
    }
    const total = histogramRef(x, -4, 4, new Float64Array(16)).reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(x.length); // some values really are outside
  });

  it('tallies zeros (either sign) and NaN in the binning pass, in range or not, as the reference twin does', async () => {
    const x = floats(250_003, 78, 2);
    for (let i = 0; i < x.length; i += 101) x[i] = 0;
    for (let i = 50; i < x.length; i += 307) x[i] = -0;
    for (let i = 7; i < x.length; i += 211) x[i] = NaN;
    x[3] = Infinity; x[4] = -Infinity;
    let zeros = 0, nans = 0;
    for (const v of x) { if (v === 0) zeros++; else if (Number.isNaN(v)) nans++; }
    expect(zeros).toBeGreaterThan(3000); // both signs of zero and NaN really are in there
    expect(nans).toBeGreaterThan(1000);
    // [0.5, 4] leaves every zero out of range: the tally still counts them.
    for (const [lo, hi] of [[-4, 4], [0.5, 4]] as const) {
      const want = new Float64Array(2);
      const wantCounts = histogramRef(x, lo, hi, new Float64Array(333), want);
      expect(Array.from(want), `ref [${lo}, ${hi}]`).toEqual([zeros, nans]);
      for (const o of [{}, { impl: 'reference' as const }, { threads: 1 }, { threads: 0 }]) {
        const got = new Float64Array(2);
        expect(firstDiff(histogramSync(x, { min: lo, max: hi, bins: 333, zeroNaN: got }, o), wantCounts)).toBe(-1);
        expect(Array.from(got), `${JSON.stringify(o)} [${lo}, ${hi}]`).toEqual([zeros, nans]);
      }
      const got = new Float64Array(2);
      await histogram(x, { min: lo, max: hi, bins: 333, zeroNaN: got });
      expect(Array.from(got), 'async').toEqual([zeros, nans]);
    }
    // Added into, like the counts (a collector sums it over batches).
    const twice = Float64Array.of(1, 2);
    histogramSync(x, { min: -4, max: 4, bins: 8, zeroNaN: twice });
    histogramSync(x, { min: -4, max: 4, bins: 8, zeroNaN: twice });
    expect(Array.from(twice)).toEqual([1 + 2 * zeros, 2 + 2 * nans]);
  });

  it('accumulates into the counts it is given', () => {
    const a = floats(10_001, 1), b = floats(9_999, 2);
    const counts = histogramSync(a, { min: -3, max: 3, bins: 64 });
    histogramSync(b, { min: -3, max: 3, counts });
    const want = histogramRef(b, -3, 3, histogramRef(a, -3, 3, new Float64Array(64)));
    expect(firstDiff(counts, want)).toBe(-1);
  });
});

describe.skipIf(!nativeAvailable())('fake quant (QAT) forward/backward vs reference', () => {
  const cases: { name: string; shape: number[]; axis?: number; scales: number; dtype: 'int8' | 'uint8' }[] = [
    { name: 'per-tensor int8, odd length', shape: [70_001], scales: 1, dtype: 'int8' },
    { name: 'per-channel uint8 axis 0', shape: [33, 97], axis: 0, scales: 33, dtype: 'uint8' },
    { name: 'per-channel int8 last axis', shape: [17, 29], axis: 1, scales: 29, dtype: 'int8' },
  ];
  cases.forEach((c, k) => {
    it(`${c.name}: y and mask bit-exact, STE gradient zero outside the clip range`, async () => {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const scales = positiveScales(c.scales, 60 + k, 0.01);
      const zps = Int32Array.from({ length: c.scales }, (_, i) => (c.dtype === 'int8' ? (i % 5) - 2 : 120 + (i % 9)));
      const x = floats(n, 80 + k, 1, scales[0]);
      const gy = floats(n, 90 + k, 1);
      const L = quantLayout(n, c.shape, c.axis, undefined, c.scales);
      const [qmin, qmax] = c.dtype === 'int8' ? [-128, 127] : [0, 255];
      const want = fakeQuantForwardRef(x, L, scales, zps, qmin, qmax);
      const p = { dtype: c.dtype, scale: scales, zeroPoint: zps, shape: c.shape, axis: c.axis };
      for (const impl of ['auto', 'reference', ...(cpuFeatures().avx2 ? ['avx2' as const] : [])] as const) {
        const got = fakeQuantForwardSync(x, p, { impl });
        expect(firstDiff(got.y, want.y), `${impl} y`).toBe(-1);
        expect(firstDiff(got.mask, want.mask), `${impl} mask`).toBe(-1);
      }
      const wantG = fakeQuantBackwardRef(x, gy, L, scales, zps, qmin, qmax);
      expect(firstDiff(fakeQuantBackwardSync(x, gy, p), wantG)).toBe(-1);
      if (cpuFeatures().avx2) expect(firstDiff(fakeQuantBackwardSync(x, gy, p, { impl: 'avx2' }), wantG), 'avx2 backward').toBe(-1);
      expect(firstDiff(await fakeQuantBackward(x, gy, p), wantG)).toBe(-1);
      const outside = want.mask.reduce((a, m) => a + (m ? 0 : 1), 0);
      expect(outside).toBeGreaterThan(0); // the data does reach past the clip range
      for (let i = 0; i < n; i++) if (!want.mask[i]) expect(wantG[i]).toBe(0);
    });
  });
});

describe.skipIf(!nativeAvailable())('edge sizes and thread counts', () => {
  it('empty inputs give empty outputs (and untouched counts)', async () => {
    const { quantizeLinearSync, dequantizeLinearSync } = await import('../../native-kernels/lib/index');
    expect(quantizeLinearSync(new Float32Array(0), { dtype: 'int8', scale: 1 }).length).toBe(0);
    expect(quantizeLinearSync(new Float32Array(0), { dtype: 'int4', scale: 1 }).length).toBe(0);
    expect(dequantizeLinearSync(new Int8Array(0), { dtype: 'int8', scale: 1 }).length).toBe(0);
    const mm = minMaxSync(new Float32Array(0));
    expect([mm.min[0], mm.max[0]]).toEqual([Infinity, -Infinity]);
    const counts = Float64Array.of(1, 2, 3);
    expect(Array.from(histogramSync(new Float32Array(0), { min: 0, max: 1, counts }))).toEqual([1, 2, 3]);
  });

  it('1 thread and all threads give identical results', async () => {
    const { quantizeLinearSync } = await import('../../native-kernels/lib/index');
    const x = floats(1_000_003, 99, 2, 0.01);
    const p = { dtype: 'int4' as const, scale: 0.3 };
    expect(firstDiff(quantizeLinearSync(x, p, { threads: 1 }), quantizeLinearSync(x, p, { threads: 0 }))).toBe(-1);
    expect(firstDiff(histogramSync(x, { min: -3, max: 3, bins: 333 }, { threads: 1 }), histogramSync(x, { min: -3, max: 3, bins: 333 }, { threads: 0 }))).toBe(-1);
    const x2 = x.subarray(0, 1009 * 991);
    const a = minMaxSync(x2, { shape: [1009, 991], axis: 1 }, { threads: 1 }), b = minMaxSync(x2, { shape: [1009, 991], axis: 1 }, { threads: 0 });
    expect(firstDiff(a.min, b.min)).toBe(-1);
    expect(firstDiff(a.max, b.max)).toBe(-1);
  });
});
