// The TypeScript face: argument validation before the native call (sharp-style messages), hardware
// reporting, device selection without a GPU, and the addon-missing fallback to the TypeScript twins.
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as nk from '../../native-kernels/lib/index';
import { quantizeRef } from '../../native-kernels/lib/reference/quantize';
import { firstDiff, floats } from './helpers';

describe('argument validation (before crossing into C++)', () => {
  const x = Float32Array.of(1, 2, 3, 4, 5, 6);
  it.each([
    [() => nk.quantizeLinearSync([1, 2] as unknown as Float32Array, { dtype: 'int8', scale: 1 }), 'Expected Float32Array for x but received an array of length 2'],
    [() => nk.quantizeLinearSync(x, { dtype: 'int16' as 'int8', scale: 1 }), `Expected one of 'int8', 'uint8', 'int4', 'uint4' for dtype but received string "int16"`],
    [() => nk.quantizeLinearSync(x, { dtype: 'int8', scale: 0 }), 'Expected finite positive numbers for scale[0] but received number 0'],
    [() => nk.quantizeLinearSync(x, { dtype: 'int8', scale: Float32Array.of(1, NaN), shape: [2, 3], axis: 0 }), 'Expected finite positive numbers for scale[1] but received number NaN'],
    [() => nk.quantizeLinearSync(x, { dtype: 'uint8', scale: 1, zeroPoint: 300 }), 'Expected an integer between 0 and 255 for zeroPoint but received number 300'],
    [() => nk.quantizeLinearSync(x, { dtype: 'int8', scale: 1, zeroPoint: 1.5 }), 'Expected an integer between -128 and 127 for zeroPoint but received number 1.5'],
    [() => nk.quantizeLinearSync(x, { dtype: 'uint8', scale: Float32Array.of(1, 1), zeroPoint: Int32Array.of(0, 256), shape: [2, 3], axis: 0 }), 'Expected a zero point in [0, 255] (uint8) for zeroPoint[1] but received number 256'],
    [() => nk.quantizeLinearSync(x, { dtype: 'int8', scale: Float32Array.of(1, 1), shape: [2, 3], axis: 1 }), 'Expected 3 scales (one per channel along axis 1) for scale but received string "2 scales"'],
    [() => nk.quantizeLinearSync(x, { dtype: 'int8', scale: Float32Array.of(1, 1), shape: [4, 2], axis: 0 }), 'Expected a shape with 6 elements (the data length) for shape but received string "[4, 2] (8 elements)"'],
    [() => nk.quantizeLinearSync(x, { dtype: 'int8', scale: Float32Array.of(1, 1), shape: [2, 3], axis: 2 }), 'Expected an integer axis in [-2, 1] for axis but received number 2'],
    [() => nk.quantizeLinearSync(x, { dtype: 'int8', scale: Float32Array.of(1, 1), zeroPoint: Int32Array.of(0), shape: [2, 3], axis: 0 }), 'Expected Int32Array or Int8Array or Uint8Array of length 2 for zeroPoint but received Int32Array of length 1'],
    [() => nk.quantizeLinearSync(x, { dtype: 'int8', scale: 1 }, { threads: -1 }), 'Expected an integer between 0 and 1024 for threads but received number -1'],
    [() => nk.quantizeLinearSync(x, { dtype: 'int8', scale: 1 }, { impl: 'sse' as 'auto' }), `for impl but received string "sse"`],
    [() => nk.dequantizeLinearSync(new Uint8Array(3), { dtype: 'int4', scale: 1, count: 7 }), 'Expected 4 bytes for 7 int4 values for q but received Uint8Array of length 3'],
    [() => nk.histogramSync(x, { min: 1, max: 1, bins: 8 }), 'Expected a finite number greater than min (1) for max but received number 1'],
    [() => nk.histogramSync(x, { min: 0, max: 1, bins: 0 }), 'Expected an integer between 1 and 16777216 for bins but received number 0'],
    [() => nk.histogramSync(x, { min: 0, max: 1, bins: 8, zeroNaN: new Float64Array(3) }), 'Expected Float64Array of length 2 for zeroNaN but received Float64Array of length 3'],
    [() => nk.fakeQuantBackwardSync(x, new Float32Array(5), { dtype: 'int8', scale: 1 }), 'Expected Float32Array of length 6 for gradY but received Float32Array of length 5'],
    [() => nk.gemmInt8Sync(new Int8Array(6), new Int8Array(6), { M: 2, K: 3, N: 3 }), 'Expected Int8Array of length 9 for B but received Int8Array of length 6'],
    [() => nk.gemmInt8Sync(new Uint8Array(6), new Int8Array(6), { M: 2, K: 3, N: 2, aZeroPoint: -1 }), 'Expected an integer between 0 and 255 for aZeroPoint but received number -1'],
    [() => nk.gemmInt8Sync(new Int8Array(6), nk.packB(new Int8Array(6), 3, 2), { M: 2, K: 3, N: 3 }), 'Expected a packed B of 3×3 for B but received string "a packed B of 3×2"'],
    [() => nk.gemmInt8Sync(new Float32Array(6) as unknown as Int8Array, new Int8Array(6), { M: 2, K: 3, N: 2 }), 'Expected Int8Array or Uint8Array for A but received Float32Array of length 6'],
    [() => nk.resolveDevice('gpu' as 'cuda'), `Expected one of 'cpu', 'cuda', 'auto' for device but received string "gpu"`],
  ])('%#: throws a BAD_ARGUMENT NativeKernelError', (fn, message) => {
    let err: unknown;
    try { fn(); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(nk.NativeKernelError);
    expect((err as nk.NativeKernelError).code).toBe('BAD_ARGUMENT');
    expect((err as Error).message).toContain(message);
  });

  it('the Promise variants reject instead of throwing', async () => {
    await expect(nk.quantizeLinear(x, { dtype: 'int8', scale: -1 })).rejects.toThrow('Expected finite positive numbers for scale[0]');
    await expect(nk.gemmInt8(new Int8Array(1), new Int8Array(1), { M: 0, K: 1, N: 1 })).rejects.toThrow('for M but received number 0');
  });
});

describe.skipIf(!nk.nativeAvailable())('hardware and devices', () => {
  it('reports cpuid features consistent with /proc/cpuinfo', async () => {
    const f = nk.cpuFeatures();
    const { readFileSync } = await import('node:fs');
    const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? []);
    expect(f.avx2).toBe(flags.has('avx2'));
    expect(f.avx512f).toBe(flags.has('avx512f'));
    expect(f.avx512vnni).toBe(flags.has('avx512_vnni'));
    expect(f.avxVnni).toBe(flags.has('avx_vnni'));
    expect(f.amxInt8).toBe(flags.has('amx_int8'));
    expect(f.threads).toBeGreaterThanOrEqual(1);
  });

  it('deviceInfo says why there is no GPU, and auto/cuda resolve accordingly', () => {
    const d = nk.deviceInfo();
    if (d.available) {
      expect(d.name.length).toBeGreaterThan(0);
      expect(nk.resolveDevice('auto')).toBe('cuda');
      return;
    }
    expect(d.reason.length).toBeGreaterThan(10);
    if (d.compiled) expect(d.reason).toMatch(/error (35|100)/); // no driver (35) or no device (100)
    expect(nk.resolveDevice('auto')).toBe('cpu');
    expect(() => nk.resolveDevice('cuda')).toThrow(/CUDA was requested but cannot be used/);
    // a kernel asked to run on 'auto' falls back to the CPU and still gives the right answer
    const x = floats(1001, 3, 1);
    const got = nk.quantizeLinearSync(x, { dtype: 'int8', scale: 0.01 }, { device: 'auto' });
    expect(firstDiff(new Uint8Array(got.buffer), quantizeRef(x, { outer: 1, axisLen: 1, inner: 1001, block: 0 }, Float32Array.of(0.01), Int32Array.of(0), -128, 127, 8))).toBe(-1);
    expect(() => nk.quantizeLinearSync(x, { dtype: 'int8', scale: 0.01 }, { device: 'cuda' })).toThrow(nk.NativeKernelError);
  });

  it('hardwareSummary gathers native status, CPU and GPU for the UI panel', () => {
    const h = nk.hardwareSummary();
    expect(h.native.available).toBe(true);
    expect(h.native.path).toMatch(/quant_kernels\.node$/);
    expect(h.cpuKernels).toBe(h.cpu.avx512f ? 'avx512' : h.cpu.avx2 ? 'avx2' : 'scalar');
    expect(h.gemmKernel).toMatch(/^(amx|vnni|avxvnni|avx2|reference)$/);
  });
});

describe('addon missing: actionable error and fallback to the TypeScript twins', () => {
  afterEach(() => {
    delete process.env.QSTUDIO_NATIVE_ADDON;
    vi.resetModules();
  });

  it('says what was tried and how to fix it, and the kernels still answer', async () => {
    vi.resetModules();
    process.env.QSTUDIO_NATIVE_ADDON = '/nonexistent/quant_kernels.node';
    const fresh = (await import('../../native-kernels/lib/index')) as typeof nk;
    expect(fresh.nativeAvailable()).toBe(false);
    expect(fresh.backend()).toBe('reference');
    const msg = fresh.loadError()!;
    expect(msg).toContain('/nonexistent/quant_kernels.node (not found)');
    expect(msg).toContain('npm run build:native');
    expect(fresh.deviceInfo().available).toBe(false);
    expect(fresh.cpuFeatures().amxNote).toContain('not loaded');
    const x = floats(999, 8, 1, 0.02);
    const q = await fresh.quantizeLinear(x, { dtype: 'uint8', scale: 0.02, zeroPoint: 128 });
    expect(firstDiff(q, quantizeRef(x, { outer: 1, axisLen: 1, inner: 999, block: 0 }, Float32Array.of(0.02), Int32Array.of(128), 0, 255, 8))).toBe(-1);
    const zeroNaN = new Float64Array(2);
    expect(Array.from(fresh.histogramSync(Float32Array.of(0, -0, NaN, 0.5, 2), { min: 0, max: 1, bins: 2, zeroNaN }))).toEqual([2, 1]);
    expect(Array.from(zeroNaN)).toEqual([2, 1]);
    const C = fresh.gemmInt8Sync(Int8Array.of(1, 2, 3, 4), Int8Array.of(5, 6, 7, 8), { M: 2, K: 2, N: 2 });
    expect(Array.from(C)).toEqual([19, 22, 43, 50]);
    expect(() => fresh.gptqQuantize({ weight: new Float32Array(4), hessian: new Float32Array(4), rows: 2, cols: 2, bits: 4, groupSize: 0, symmetric: true, damp: 0.01, blockSize: 2, actOrder: false }))
      .toThrow(/gptqQuantize needs the native addon.*Tried:/);
  });

  it('a file that is not a loadable addon is reported with the loader message', async () => {
    vi.resetModules();
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const bad = join(mkdtempSync(join(tmpdir(), 'qk-')), 'quant_kernels.node');
    writeFileSync(bad, 'not an ELF file');
    process.env.QSTUDIO_NATIVE_ADDON = bad;
    const fresh = (await import('../../native-kernels/lib/index')) as typeof nk;
    expect(fresh.nativeAvailable()).toBe(false);
    expect(fresh.loadError()).toMatch(/quant_kernels\.node \(.*(invalid ELF|too short|file)/i);
  });
});
