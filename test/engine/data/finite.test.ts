// Non-finite float data: found (first element, its sample) in float32/float64/float16 arrays, and
// refused by the engine's own entry (quantizeModel), not only by the CLI, with the input named.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstNonFinite, assertFiniteInputs, formatMetric } from '../../../engine/data/finite';
import { floatToHalf } from '../../../engine/onnx/tensor';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { StudioError } from '../../../engine/errors';
import { models } from '../../helpers/shared';

describe('non-finite data', () => {
  it('finds the first NaN/Inf and its sample in float32, float64 and float16 arrays; integers never hold one', () => {
    const f32 = new Float32Array(4 * 6).fill(1);
    expect(firstNonFinite({ dtype: 'float32', shape: [4, 6], data: f32 })).toBeUndefined();
    f32[2 * 6 + 3] = -Infinity;
    f32[3 * 6] = NaN;
    expect(firstNonFinite({ dtype: 'float32', shape: [4, 6], data: f32 })).toEqual({ index: 15, sample: 2, value: -Infinity });
    const f64 = new Float64Array(10); f64[9] = Infinity;
    expect(firstNonFinite({ dtype: 'float64', shape: [10], data: f64 })).toEqual({ index: 9, sample: 9, value: Infinity });
    const f16 = Uint16Array.from([floatToHalf(1), floatToHalf(65504), 0x7e00, floatToHalf(2)]);
    expect(firstNonFinite({ dtype: 'float16', shape: [2, 2], data: f16 })).toEqual({ index: 2, sample: 1, value: NaN });
    expect(firstNonFinite({ dtype: 'float16', shape: [1], data: Uint16Array.from([0xfc00]) })!.value).toBe(-Infinity);
    expect(firstNonFinite({ dtype: 'int64', shape: [2], data: new BigInt64Array(2) })).toBeUndefined();
    expect(() => assertFiniteInputs({ image: { dtype: 'float32', shape: [4, 6], data: f32 } }, { image: 'cal.npy' })).toThrow(/input '"image"' \(file '"cal\.npy"'\) holds -Infinity at sample 2/);
    expect(formatMetric(NaN, (v) => v.toFixed(2))).toBe('undefined (non-finite data)');
    expect(formatMetric(0.5, (v) => v.toFixed(2))).toBe('0.50');
  });

  it('quantizeModel (the engine entry the jobs use) refuses NaN calibration data naming the input, and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qfinite-'));
    try {
      const x = new Float32Array(16 * 784).fill(0.25);
      x[7 * 784 + 100] = NaN;
      const out = join(dir, 'q.onnx');
      const err = await quantizeModel({ modelPath: models.cnn, outputPath: out, recipe: parseRecipe({}), inputs: { image: { dtype: 'float32', shape: [16, 1, 28, 28], data: x } } }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(StudioError);
      expect((err as StudioError).code).toBe('BAD_DATA');
      expect((err as StudioError).message).toMatch(/input '"image"' holds NaN at sample 7/);
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
