import { describe, it, expect } from 'vitest';
import { computeQParams, qparamsForRange, roundHalfEven, scaleRange } from '../../../../engine/quant/math/qparams';
import { quantizeValue, dequantizeValue } from '../../../../engine/quant/math/quantize';
import { dtypeInfo } from '../../../../engine/core/dtypes';

const DTYPES = ['int8', 'uint8', 'int4', 'uint4', 'int3'] as const;

describe('roundHalfEven', () => {
  it('rounds ties to even like ONNX (std::nearbyint), not half-up like Math.round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5].map(roundHalfEven)).toEqual([0, 2, 2, 0, -2, -2, 4]);
    expect([0.49999997, 0.50000006, -2.4, -2.6, 7].map(roundHalfEven)).toEqual([0, 1, -2, -3, 7]);
    expect(Math.round(2.5)).toBe(3); // the trap this function avoids
  });
});

describe('computeQParams', () => {
  it('asymmetric uint8: the ONNX/ORT formula, zero exact', () => {
    const p = qparamsForRange(-1, 3, { dtype: 'uint8', scheme: 'asymmetric' });
    expect(p.scale).toBe(Math.fround(4 / 255));
    expect(p.zeroPoint).toBe(roundHalfEven(0 + 1 / Math.fround(4 / 255)));
    expect(dequantizeValue(quantizeValue(0, p.scale, p.zeroPoint, 0, 255), p.scale, p.zeroPoint)).toBe(0);
  });

  it('widens the range to include zero (all-positive and all-negative ranges)', () => {
    const pos = qparamsForRange(2, 6, { dtype: 'uint8', scheme: 'asymmetric' });
    expect(pos.zeroPoint).toBe(0);
    expect(pos.scale).toBe(Math.fround(6 / 255));
    const neg = qparamsForRange(-6, -2, { dtype: 'int8', scheme: 'asymmetric' });
    expect(neg.zeroPoint).toBe(127);
  });

  it('symmetric signed: zero-point 0 and absmax on the restricted grid ±(2^(b-1)-1)', () => {
    for (const dtype of ['int8', 'int4', 'int3'] as const) {
      const { qmax } = dtypeInfo(dtype);
      const p = qparamsForRange(-0.5, 2, { dtype, scheme: 'symmetric' });
      expect(p.zeroPoint).toBe(0);
      expect(p.scale).toBe(Math.fround(2 / qmax));
      expect(quantizeValue(2, p.scale, 0, -qmax - 1, qmax)).toBe(qmax);
      expect(quantizeValue(-2, p.scale, 0, -qmax - 1, qmax)).toBe(-qmax);
    }
    const full = qparamsForRange(-1, 1, { dtype: 'int8', scheme: 'symmetric', restrictedRange: false });
    expect(full.scale).toBe(Math.fround(1 / 128));
    expect(scaleRange('int8', 'symmetric')).toEqual({ lo: -127, hi: 127 });
  });

  it('symmetric unsigned: zero-point at the midpoint (128 for uint8, 8 for uint4)', () => {
    const u8 = qparamsForRange(-1, 0.25, { dtype: 'uint8', scheme: 'symmetric' });
    expect(u8.zeroPoint).toBe(128);
    expect(u8.scale).toBe(Math.fround(2 / 255));
    const u4 = qparamsForRange(-1, 0.25, { dtype: 'uint4', scheme: 'symmetric' });
    expect(u4.zeroPoint).toBe(8);
    expect(u4.scale).toBe(Math.fround(2 / 15));
  });

  it('represents float 0 exactly for every dtype and scheme over many ranges', () => {
    let checked = 0;
    for (const dtype of DTYPES) for (const scheme of ['symmetric', 'asymmetric'] as const) {
      const { qmin, qmax } = dtypeInfo(dtype);
      for (const [lo, hi] of [[-3.7, 0.01], [-0.001, 9.2], [0.5, 0.7], [-1e-3, -1e-4], [-123.4, 567.8], [0, 0]]) {
        const p = qparamsForRange(lo!, hi!, { dtype, scheme });
        const q = quantizeValue(0, p.scale, p.zeroPoint, qmin, qmax);
        expect(dequantizeValue(q, p.scale, p.zeroPoint), `${dtype} ${scheme} [${lo},${hi}]`).toBe(0);
        expect(p.zeroPoint).toBeGreaterThanOrEqual(qmin);
        expect(p.zeroPoint).toBeLessThanOrEqual(qmax);
        checked++;
      }
    }
    expect(checked).toBe(60);
  });

  it('covers [min, max] within half a step (asymmetric) for 8/4/3-bit ranges', () => {
    for (const dtype of DTYPES) {
      const { qmin, qmax } = dtypeInfo(dtype);
      const p = qparamsForRange(-0.8, 2.3, { dtype, scheme: 'asymmetric' });
      for (const x of [-0.8, 2.3, 1.1]) {
        const back = dequantizeValue(quantizeValue(x, p.scale, p.zeroPoint, qmin, qmax), p.scale, p.zeroPoint);
        expect(Math.abs(back - x)).toBeLessThanOrEqual(p.scale * 0.5 + 1e-6);
      }
    }
  });

  it('per-channel arrays give one parameter each and keep the axis', () => {
    const p = computeQParams([-1, -2, 0], [1, 4, 0], { dtype: 'int8', scheme: 'symmetric', axis: 0 });
    expect(Array.from(p.scale)).toEqual([Math.fround(1 / 127), Math.fround(4 / 127), 1]);
    expect(Array.from(p.zeroPoint)).toEqual([0, 0, 0]);
    expect(p.axis).toBe(0);
    expect([p.qmin, p.qmax]).toEqual([-128, 127]);
  });

  it('rejects non-finite and inverted ranges, naming the tensor and quoting the value', () => {
    expect(() => computeQParams(NaN, 1, { dtype: 'int8', scheme: 'symmetric', name: 'conv1.weight' })).toThrow(/conv1\.weight.*NaN/);
    expect(() => computeQParams(0, Infinity, { dtype: 'uint8', scheme: 'asymmetric', name: 'act' })).toThrow(/act.*Infinity/);
    expect(() => computeQParams(2, 1, { dtype: 'uint8', scheme: 'asymmetric', name: 'x' })).toThrow(/minimum '2' is above maximum '1'/);
    expect(() => computeQParams([0, 1], [1], { dtype: 'uint8', scheme: 'asymmetric', axis: 0 })).toThrow(/2 minima but 1 maxima/);
  });
});
