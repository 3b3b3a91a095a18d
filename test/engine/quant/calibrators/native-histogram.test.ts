// The calibrators' histogram binned by the native addon equals the TypeScript twin's bin for bin, on
// real activations (every Conv/Relu output of the shared Fashion-MNIST CNN on real test images, the
// range widening across batches as in a calibration run) and on batches the kernels hand back to the
// TypeScript passes (±Infinity, NaN, all zeros). Without the addon built (test/native says why) there
// is nothing to compare and the suite is skipped.
import { describe, it, expect, beforeAll } from 'vitest';
import { HistogramCollector, nativeHistogramKernels, type HistogramKernels } from '../../../../engine/quant/calibrators/histogram';
import { loadNativeKernels } from '../../../../engine/runtime/native';
import { cnnActivations } from './fmnist-activations';

await loadNativeKernels();
const native = nativeHistogramKernels();
let batches: Record<string, Float32Array>[] = [];

beforeAll(async () => {
  batches = await cnnActivations(4, 32); // 128 real test images
}, 60_000);

/**
 * Bins allowed to differ between the kernels and the TypeScript passes: none. Both compute the bin as
 * floor((v + T) · bins / 2T) in float64 on the same float32 values and count integers, so any difference
 * is a bug, not rounding.
 */
const BINS_ALLOWED_TO_DIFFER = 0;

/** The kernels, counting the batches they binned (so a test sees the native path was taken). */
function counted(k: HistogramKernels) {
  const calls = { histogram: 0 };
  return { calls, kernels: { minMax: k.minMax, histogram: (...a: Parameters<HistogramKernels['histogram']>) => { calls.histogram++; return k.histogram(...a); } } };
}

function fed(kernels: HistogramKernels | null, parts: Float32Array[], bins = 16384) {
  const h = new HistogramCollector(bins, 't', kernels);
  for (const p of parts) h.update(p);
  return h.snapshot();
}

describe.skipIf(!native)('native histogram', () => {
  it('equals the TypeScript twin bin for bin on every Conv/Relu output, batch by batch (range widening included)', () => {
    const names = Object.keys(batches[0]!);
    expect(names.length).toBeGreaterThanOrEqual(8);
    const { calls, kernels } = counted(native!);
    for (const name of names) {
      // Smallest-range batch first, so later batches widen the range (the exact pair merges run).
      const parts = batches.map((b) => b[name]!);
      const ts = fed(null, parts), nk = fed(kernels, parts);
      expect(nk.count, name).toBe(ts.count);
      expect([nk.lo, nk.hi, nk.min, nk.max, nk.zeros, nk.nonFinite], name).toEqual([ts.lo, ts.hi, ts.min, ts.max, ts.zeros, ts.nonFinite]);
      let differing = 0;
      for (let b = 0; b < ts.counts.length; b++) if (nk.counts[b] !== ts.counts[b]) differing++;
      expect(differing, `${name}: bins that differ`).toBeLessThanOrEqual(BINS_ALLOWED_TO_DIFFER);
    }
    expect(calls.histogram).toBe(names.length * batches.length);
  });

  it('widens the same way when a later batch is wider than the first', () => {
    const v = batches[0]!['/0/0.0/Conv_output_0'] ?? Object.values(batches[0]!)[0]!;
    const narrow = v.map((x) => x * 0.01), wide = v.map((x) => x * 3);
    const ts = fed(null, [narrow, v, wide]), nk = fed(native, [narrow, v, wide]);
    expect(nk.hi).toBe(ts.hi);
    expect(nk.hi).toBeGreaterThan(nk.lo);
    expect(Array.from(nk.counts)).toEqual(Array.from(ts.counts));
  });

  it('NaN, ±Infinity and all-zero batches: same counts, zeros and non-finite tally as the TypeScript passes', () => {
    const real = Object.values(batches[1]!)[2]!;
    const withNaN = Float32Array.from(real); for (let i = 0; i < withNaN.length; i += 97) withNaN[i] = NaN;
    const withInf = Float32Array.from(real); withInf[5] = Infinity; withInf[9] = -Infinity;
    const zeros = new Float32Array(8192);
    const parts = [zeros, withNaN, withInf, real, zeros];
    const { calls, kernels } = counted(native!);
    const ts = fed(null, parts, 4096), nk = fed(kernels, parts, 4096);
    expect([nk.count, nk.zeros, nk.nonFinite, nk.min, nk.max, nk.lo, nk.hi]).toEqual([ts.count, ts.zeros, ts.nonFinite, ts.min, ts.max, ts.lo, ts.hi]);
    expect(Array.from(nk.counts)).toEqual(Array.from(ts.counts));
    expect(ts.nonFinite).toBe(Math.ceil(withNaN.length / 97) + 2);
    // The leading all-zero batch and the ±Infinity batch go through the TypeScript passes; the others through the kernels.
    expect(calls.histogram).toBe(3);
  });

  it("takes the zeros and NaN from the kernel's binning pass (the collector reads the batch no third time)", () => {
    const real = Object.values(batches[0]!)[1]!;
    const withNaN = Float32Array.from(real); for (let i = 0; i < withNaN.length; i += 53) withNaN[i] = NaN;
    // A kernel whose tally is off by a known amount: a collector that counted for itself would not see it.
    const offBy = { zeros: 1000, nan: 7 };
    const skewed: HistogramKernels = {
      minMax: native!.minMax,
      histogram: (...a) => { const t = native!.histogram(...a); return { zeros: t.zeros + offBy.zeros, nan: t.nan + offBy.nan }; },
    };
    const ts = fed(null, [real, withNaN]), nk = fed(skewed, [real, withNaN]);
    expect(ts.zeros).toBeGreaterThan(0); // a Conv/Relu output of real images: zeros are there to count
    expect([nk.zeros, nk.nonFinite, nk.count]).toEqual([ts.zeros + 2 * offBy.zeros, ts.nonFinite + 2 * offBy.nan, ts.count - 2 * offBy.nan]);
  });
});
