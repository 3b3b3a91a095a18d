// Quantize / dequantize: the native kernels (AVX-512 and the scalar C++ twin) against the TypeScript
// reference twin, bit for bit, in every mode (per-tensor, per-channel, blocked) and dtype, odd sizes.
import { describe, expect, it } from 'vitest';
import {
  cpuFeatures, dequantizeLinear, dequantizeLinearSync, nativeAvailable, quantizeLinear, quantizeLinearSync, quantLayout, type QuantDtype, type QuantParams,
} from '../../native-kernels/lib/index';
import { dequantizeRef, quantizeRef, roundHalfEven } from '../../native-kernels/lib/reference/quantize';
import { firstDiff, floats, int8s, positiveScales, rng } from './helpers';

// every path this CPU can run: the AVX-512 path (auto), the AVX2 path, and the scalar C++ twin
const IMPLS = (['auto', 'reference', ...(nativeAvailable() && cpuFeatures().avx2 ? ['avx2'] : [])] as const) as readonly ('auto' | 'reference' | 'avx2')[];

const RANGES: Record<QuantDtype, [number, number, 8 | 4, boolean]> = {
  int8: [-128, 127, 8, true], uint8: [0, 255, 8, false], int4: [-8, 7, 4, true], uint4: [0, 15, 4, false],
};

interface Case { name: string; shape: number[]; axis?: number; blockSize?: number; scales: number }
const CASES: Case[] = [
  { name: 'per-tensor, 1 element', shape: [1], scales: 1 },
  { name: 'per-tensor, odd tail 100003', shape: [100003], scales: 1 },
  { name: 'per-tensor, spans parallel chunks (3·65536 + 7)', shape: [3 * 65536 + 7], scales: 1 },
  { name: 'per-channel axis 0 of [37, 61]', shape: [37, 61], axis: 0, scales: 37 },
  { name: 'per-channel axis 0 of [7, 203] (odd rows: packed-in-register and scratch int4 paths meet)', shape: [7, 203], axis: 0, scales: 7 },
  { name: 'per-tensor, 2^21 + 13 (large output: streamed stores)', shape: [(1 << 21) + 13], scales: 1 },
  { name: 'per-channel axis 0 of [65, 32771] (large, odd rows: streamed after unaligned heads)', shape: [65, 32771], axis: 0, scales: 65 },
  { name: 'per-channel last axis of [19, 45] (per-element scales)', shape: [19, 45], axis: 1, scales: 45 },
  { name: 'per-channel axis 1 of [3, 17, 5, 7] (conv-like)', shape: [3, 17, 5, 7], axis: 1, scales: 17 },
  { name: 'blocked along last axis, block 32 of [13, 100]', shape: [13, 100], axis: 1, blockSize: 32, scales: 13 * 4 },
  { name: 'blocked along axis 0, block 16 of [50, 21]', shape: [50, 21], axis: 0, blockSize: 16, scales: 4 * 21 },
];

describe.skipIf(!nativeAvailable())('quantizeLinear / dequantizeLinear (native vs TypeScript reference)', () => {
  for (const dtype of ['int8', 'uint8', 'int4', 'uint4'] as QuantDtype[]) {
    const [qmin, qmax, bits, signed] = RANGES[dtype];
    CASES.forEach((c, ci) => {
      it(`${dtype}: ${c.name} — bit-exact`, () => {
        const n = c.shape.reduce((a, b) => a * b, 1);
        const scales = positiveScales(c.scales, 11 + ci, bits === 8 ? 0.02 : 0.3);
        const r = rng(101 + ci);
        const zps = Int32Array.from({ length: c.scales }, () => qmin + Math.floor(r() * (qmax - qmin + 1)));
        const x = floats(n, 7 + ci, bits === 8 ? 1.5 : 2, scales[0]);
        const p: QuantParams = { dtype, scale: scales, zeroPoint: zps, shape: c.shape, axis: c.axis, blockSize: c.blockSize };
        const L = quantLayout(n, c.shape, c.axis, c.blockSize, c.scales);
        const want = quantizeRef(x, L, scales, zps, qmin, qmax, bits);
        for (const impl of IMPLS) {
          const got = quantizeLinearSync(x, p, { impl });
          expect(got).toBeInstanceOf(dtype === 'int8' ? Int8Array : Uint8Array);
          expect(firstDiff(new Uint8Array(got.buffer, got.byteOffset, got.byteLength), want), `${impl}: first differing byte`).toBe(-1);
        }
        // and back
        const wantY = dequantizeRef(want, n, L, scales, zps, signed, bits);
        for (const impl of IMPLS) {
          const y = dequantizeLinearSync(dtype === 'int8' ? new Int8Array(want.buffer) : want, { ...p, count: n }, { impl });
          expect(firstDiff(y, wantY), `${impl}: first differing float`).toBe(-1);
        }
      });
    });
  }

  it('rounds exact ties half to even and saturates, as ONNX QuantizeLinear', () => {
    const x = Float32Array.of(0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1000, -1000, 127.5, -128.5, NaN);
    const q = quantizeLinearSync(x, { dtype: 'int8', scale: 1 });
    expect(Array.from(q)).toEqual([0, 2, 2, -0, -2, -2, 127, -128, 127, -128, -128].map((v) => v | 0));
    const u = quantizeLinearSync(Float32Array.of(0.5, 1.5, -3, 400), { dtype: 'uint8', scale: 1, zeroPoint: 10 });
    expect(Array.from(u)).toEqual([10, 12, 7, 255]);
    expect([0.5, 1.5, 2.5, -2.5, 3.5].map(roundHalfEven)).toEqual([0, 2, 2, -2, 4]);
  });

  it('stays exact next to rounding ties (the multiply-by-reciprocal fast path must detect them)', () => {
    const r = rng(1234);
    for (let trial = 0; trial < 20; trial++) {
      const s = Math.fround(0.001 + r() * 0.2);
      const x = new Float32Array(70_000);
      const u = new Uint32Array(x.buffer);
      for (let i = 0; i < x.length; i++) {
        x[i] = (Math.floor(r() * 300) - 150 + 0.5) * s; // at or next to k + 0.5 after division
        u[i]! += Math.floor(r() * 7) - 3; // nudge by up to ±3 ulps
      }
      for (const dtype of ['int8', 'uint8', 'int4'] as const) {
        const [qmin, qmax, bits] = RANGES[dtype];
        const zp = dtype === 'uint8' ? 128 : 0;
        const want = quantizeRef(x, { outer: 1, axisLen: 1, inner: x.length, block: 0 }, Float32Array.of(s), Int32Array.of(zp), qmin, qmax, bits);
        const got = quantizeLinearSync(x, { dtype, scale: s, zeroPoint: zp });
        expect(firstDiff(new Uint8Array(got.buffer, got.byteOffset, got.byteLength), want), `${dtype}, scale ${s}`).toBe(-1);
      }
    }
  });

  it('streamed int8 path (n ≥ 2^21): bit-exact at every output alignment, 1 and 2 threads, next to ties', () => {
    const r = rng(4321);
    const rows = 64, cols = 32768 + 9, n = rows * cols; // > 2^21, rows not a multiple of 64
    const s = 0.0137;
    const scales = Float32Array.from({ length: rows }, (_, i) => Math.fround(0.01 + i * 1e-4));
    const x = new Float32Array(n);
    const u = new Uint32Array(x.buffer);
    for (let i = 0; i < n; i++) {
      x[i] = (Math.floor(r() * 300) - 150 + (i % 3 === 0 ? 0.5 : r())) * s;
      if (i % 3 === 0) u[i]! += Math.floor(r() * 7) - 3; // ties ± 3 ulps
    }
    const perTensor = quantizeRef(x, { outer: 1, axisLen: 1, inner: n, block: 0 }, Float32Array.of(s), Int32Array.of(3), -128, 127, 8);
    const L = quantLayout(n, [rows, cols], 0, undefined, rows);
    const zps = Int32Array.from({ length: rows }, (_, i) => (i % 11) - 5);
    const perChannel = quantizeRef(x, L, scales, zps, -128, 127, 8);
    const backing = new Int8Array(n + 64);
    for (const offset of [0, 1, 17, 63]) {
      for (const threads of [1, 2]) {
        const out = backing.subarray(offset, offset + n);
        quantizeLinearSync(x, { dtype: 'int8', scale: s, zeroPoint: 3 }, { threads, out });
        expect(firstDiff(new Uint8Array(out.buffer, out.byteOffset, n), perTensor), `per-tensor, offset ${offset}, ${threads} threads`).toBe(-1);
        quantizeLinearSync(x, { dtype: 'int8', scale: scales, zeroPoint: zps, shape: [rows, cols], axis: 0 }, { threads, out });
        expect(firstDiff(new Uint8Array(out.buffer, out.byteOffset, n), perChannel), `per-channel, offset ${offset}, ${threads} threads`).toBe(-1);
      }
    }
  });

  it('packs int4 two per byte, first element in the low nibble, zero high nibble after an odd count', () => {
    const q = quantizeLinearSync(Float32Array.of(1, -2, 7, -8, 3), { dtype: 'int4', scale: 1 });
    expect(Array.from(q)).toEqual([0xe1, 0x87, 0x03]);
    const y = dequantizeLinearSync(q, { dtype: 'int4', scale: 1, count: 5 });
    expect(Array.from(y)).toEqual([1, -2, 7, -8, 3]);
  });

  it('async variants return the same bytes as the sync ones, off the JS thread', async () => {
    const x = floats(200_001, 5, 1, 0.01);
    const p: QuantParams = { dtype: 'int8', scale: 0.01, zeroPoint: 3 };
    const pending = quantizeLinear(x, p);
    expect(pending).toBeInstanceOf(Promise);
    const got = await pending;
    expect(firstDiff(got, quantizeLinearSync(x, p))).toBe(-1);
    const y = await dequantizeLinear(got, p);
    expect(firstDiff(y, dequantizeLinearSync(got, p))).toBe(-1);
  });

  it('dequantizes arbitrary int8 codes per channel bit-exactly', () => {
    const q = int8s(31 * 33, 9);
    const scales = positiveScales(31, 3);
    const zps = Int32Array.from({ length: 31 }, (_, i) => (i % 7) - 3);
    const L = quantLayout(q.length, [31, 33], 0, undefined, 31);
    const want = dequantizeRef(new Uint8Array(q.buffer), q.length, L, scales, zps, true, 8);
    expect(firstDiff(dequantizeLinearSync(q, { dtype: 'int8', scale: scales, zeroPoint: zps, shape: [31, 33], axis: 0 }), want)).toBe(-1);
  });
});
