import { describe, it, expect } from 'vitest';
import { mse, sqnrDb, cosine, ErrorAccumulator, errorStats } from '../../../../engine/quant/math/metrics';

describe('error metrics', () => {
  it('computes mse, SQNR and cosine on hand-checked values', () => {
    const ref = [3, 4, 0, 0], test = [3, 4, 0, 1];
    expect(mse(ref, test)).toBe(0.25);
    expect(sqnrDb(ref, test)).toBeCloseTo(10 * Math.log10(25), 12);
    expect(cosine(ref, test)).toBeCloseTo(25 / (5 * Math.sqrt(26)), 12);
    expect(sqnrDb(ref, ref)).toBe(Infinity);
    expect(cosine([1, 0], [-1, 0])).toBe(-1);
    expect(cosine([0, 0], [0, 0])).toBe(1);
    expect(errorStats(ref, test).maxAbs).toBe(1);
  });

  it('streams over batches with the same result as one pass', () => {
    const ref = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 0.37) * 3);
    const test = ref.map((v, i) => v + ((i * 7919) % 13 - 6) * 1e-3);
    const acc = new ErrorAccumulator();
    for (let i = 0; i < 1000; i += 128) acc.update(ref.subarray(i, i + 128), test.subarray(i, i + 128));
    const one = errorStats(ref, test), streamed = acc.result();
    expect(streamed.count).toBe(1000);
    expect(streamed.sqnrDb).toBeCloseTo(one.sqnrDb, 9);
    expect(streamed.cosine).toBeCloseTo(one.cosine, 12);
    expect(() => acc.update([1], [1, 2])).toThrow(/1 values, test has 2/);
  });
});
