// int8 GEMM (s8×s8→s32 and u8×s8→s32, MatMulInteger semantics with zero points): every CPU path the
// machine has (AVX-512 VNNI, AMX-INT8, the scalar C++ twin) against the TypeScript twin, exactly.
import { describe, expect, it } from 'vitest';
import { cpuFeatures, GEMM_INLINE_MACS, gemmInt8, gemmInt8Sync, gemmKernelFor, gemmRunsInline, nativeAvailable, packB } from '../../native-kernels/lib/index';
import { gemmInt8Ref } from '../../native-kernels/lib/reference/gemm';
import { firstDiff, int8s, uint8s } from './helpers';

const f = nativeAvailable() ? cpuFeatures() : null;
const impls: ('reference' | 'vnni' | 'amx' | 'auto' | 'avxvnni' | 'avx2')[] = ['reference', 'auto'];
if (f?.avx512vnni) impls.push('vnni');
if (f?.avxVnni) impls.push('avxvnni');
if (f?.avx2) impls.push('avx2');
if (f?.amxInt8 && f.amxPermitted) impls.push('amx');

const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 67, 33], [3, 5, 7], [17, 129, 31], [33, 64, 32], [64, 200, 96], [45, 333, 70], [1, 512, 257],
  [1, 1000, 4100], // decode GEMV: four-panel groups on both threads, then a partial panel
];

describe.skipIf(!nativeAvailable())('gemmInt8 (native vs TypeScript reference, exact)', () => {
  it(`runs on the paths this CPU has: ${impls.join(', ')}`, () => {
    expect(impls.length).toBeGreaterThanOrEqual(2);
    if (!f?.amxInt8) console.log('AMX-INT8 not on this CPU: the AMX path is not exercised here');
  });
  for (const impl of impls) {
    SHAPES.forEach(([M, K, N], k) => {
      it(`${impl}: s8×s8 and u8×s8 at ${M}×${K}×${N} with zero points`, () => {
        const B = int8s(K * N, 300 + k);
        const pb = packB(B, K, N);
        const As = int8s(M * K, 400 + k), Au = uint8s(M * K, 500 + k);
        expect(firstDiff(gemmInt8Sync(As, pb, { M, K, N }, { impl }), gemmInt8Ref(As, B, M, K, N)), 's8 first diff').toBe(-1);
        expect(firstDiff(gemmInt8Sync(Au, B, { M, K, N }, { impl }), gemmInt8Ref(Au, B, M, K, N)), 'u8 first diff').toBe(-1);
        expect(firstDiff(gemmInt8Sync(Au, pb, { M, K, N, aZeroPoint: 131, bZeroPoint: -3 }, { impl }), gemmInt8Ref(Au, B, M, K, N, 131, -3)), 'u8 zp').toBe(-1);
        expect(firstDiff(gemmInt8Sync(As, pb, { M, K, N, aZeroPoint: -7, bZeroPoint: 5 }, { impl, threads: 1 }), gemmInt8Ref(As, B, M, K, N, -7, 5)), 's8 zp').toBe(-1);
      });
    });
  }

  it('gemmInt8 runs small products inline and large ones on a worker: both a Promise with the exact result', async () => {
    expect(gemmRunsInline(1, 4096, 4096)).toBe(true);
    expect(gemmRunsInline(512, 512, 512)).toBe(true);
    expect(gemmRunsInline(513, 512, 512, 'vnni')).toBe(false);
    expect(gemmRunsInline(1025, 1024, 1024)).toBe(false);
    expect(gemmRunsInline(1024, 1024, 1024)).toBe(gemmKernelFor(1024) === 'amx');
    expect(GEMM_INLINE_MACS).toEqual({ amx: 1024 ** 3, other: 512 ** 3 });
    for (const [M, K, N] of [[1, 300, 200], [1100, 1000, 1030]] as const) {
      const A = uint8s(M * K, 71), B = int8s(K * N, 72), pb = packB(B, K, N);
      const pending = gemmInt8(A, pb, { M, K, N, aZeroPoint: 9, bZeroPoint: -2 });
      expect(pending).toBeInstanceOf(Promise);
      expect(firstDiff(await pending, gemmInt8Sync(A, pb, { M, K, N, aZeroPoint: 9, bZeroPoint: -2 })), `${M}×${K}×${N}`).toBe(-1); // sync: exact vs the twin above
    }
  });

  it('extreme values do not overflow the int32 accumulators within K = 4096 (worst case −128·−128·K)', async () => {
    const M = 16, K = 4096, N = 48;
    const A = new Int8Array(M * K).fill(-128), B = new Int8Array(K * N).fill(-128);
    const C = await gemmInt8(A, B, { M, K, N });
    expect(C[0]).toBe(128 * 128 * K);
    expect(firstDiff(C, gemmInt8Ref(A, B, M, K, N))).toBe(-1);
  });

  it('picks AMX for M ≥ 16 when permitted, VNNI for single rows', () => {
    if (f?.amxPermitted && f.amxInt8) expect(gemmKernelFor(64)).toBe('amx');
    if (f?.avx512vnni) expect(gemmKernelFor(1)).toBe('vnni');
  });
});
