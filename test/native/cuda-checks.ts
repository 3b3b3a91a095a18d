// CUDA kernels against the CPU twins: shared by test/native/cuda.test.ts (runs where a GPU is present)
// and native-kernels/scripts/device-check.ts (the one-shot script for the lent GPU machine).
import {
  dequantizeLinearSync, fakeQuantBackwardSync, fakeQuantForwardSync, gemmInt8Cuda, gptqQuantize, gptqQuantizeAsync, histogramSync, quantizeLinearSync, type QuantParams,
} from '../../native-kernels/lib/index';
import { gemmInt8Ref, hessianAccumulateRef } from '../../native-kernels/lib/reference/gemm';
import { firstDiff, floats, int8s, positiveScales } from './helpers';

export interface CheckResult { name: string; ok: boolean; detail: string }

export async function runCudaChecks(): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const check = (name: string, diff: number, detail = '') => out.push({ name, ok: diff === -1, detail: diff === -1 ? 'bit-exact' : `first difference at ${diff} ${detail}` });
  const cases: [string, QuantParams, number][] = [
    ['int8 per-tensor', { dtype: 'int8', scale: 0.02, zeroPoint: 3 }, 1_000_003],
    ['uint8 per-tensor, length % 4 == 0 (vectorized kernel)', { dtype: 'uint8', scale: 0.02, zeroPoint: 128 }, 1_000_000],
    ['uint8 per-channel axis 0', { dtype: 'uint8', scale: positiveScales(37, 1), zeroPoint: new Int32Array(37).fill(128), shape: [37, 1001], axis: 0 }, 37 * 1001],
    ['int4 blocked 32 last axis', { dtype: 'int4', scale: positiveScales(13 * 4, 2, 0.3), shape: [13, 100], axis: 1, blockSize: 32 }, 1300],
    ['uint4 per-channel last axis', { dtype: 'uint4', scale: positiveScales(45, 3, 0.3), zeroPoint: new Int32Array(45).fill(8), shape: [19, 45], axis: 1 }, 19 * 45],
  ];
  for (const [name, p, n] of cases) {
    const x = floats(n, 17, 1.5, typeof p.scale === 'number' ? p.scale : p.scale[0]);
    const cpu = quantizeLinearSync(x, p, { device: 'cpu' });
    const gpu = quantizeLinearSync(x, p, { device: 'cuda' });
    check(`cuda quantize ${name}`, firstDiff(new Uint8Array(gpu.buffer, gpu.byteOffset, gpu.byteLength), new Uint8Array(cpu.buffer, cpu.byteOffset, cpu.byteLength)));
    check(`cuda dequantize ${name}`, firstDiff(dequantizeLinearSync(cpu, { ...p, count: n }, { device: 'cuda' }), dequantizeLinearSync(cpu, { ...p, count: n }, { device: 'cpu' })));
    if (p.dtype === 'int8' || p.dtype === 'uint8') {
      const f = fakeQuantForwardSync(x, p, { device: 'cuda' }), g = fakeQuantForwardSync(x, p, { device: 'cpu' });
      check(`cuda fake-quant forward ${name}`, Math.max(firstDiff(f.y, g.y), firstDiff(f.mask, g.mask)));
      const gy = floats(n, 23, 1);
      check(`cuda fake-quant backward ${name}`, firstDiff(fakeQuantBackwardSync(x, gy, p, { device: 'cuda' }), fakeQuantBackwardSync(x, gy, p, { device: 'cpu' })));
    }
  }
  const hx = floats(2_000_001, 5, 2);
  check('cuda histogram 2048 bins', firstDiff(histogramSync(hx, { min: -4, max: 4, bins: 2048 }, { device: 'cuda' }), histogramSync(hx, { min: -4, max: 4, bins: 2048 }, { device: 'cpu' })));
  check('cuda histogram 20000 bins (global atomics)', firstDiff(histogramSync(hx, { min: -4, max: 4, bins: 20000 }, { device: 'cuda' }), histogramSync(hx, { min: -4, max: 4, bins: 20000 }, { device: 'cpu' })));
  {
    const zx = Float32Array.from(hx);
    for (let i = 0; i < zx.length; i += 97) zx[i] = i % 2 ? -0 : 0;
    for (let i = 13; i < zx.length; i += 389) zx[i] = NaN;
    const gpu = new Float64Array(2), cpu = new Float64Array(2);
    histogramSync(zx, { min: -4, max: 4, bins: 2048, zeroNaN: gpu }, { device: 'cuda' });
    histogramSync(zx, { min: -4, max: 4, bins: 2048, zeroNaN: cpu }, { device: 'cpu' });
    check('cuda histogram zero/NaN tally', gpu[0] === cpu[0] && gpu[1] === cpu[1] && cpu[0]! > 0 && cpu[1]! > 0 ? -1 : 0, `cuda ${gpu.join('/')} cpu ${cpu.join('/')}`);
  }
  for (const [M, K, N] of [[1, 64, 8], [17, 100, 33], [128, 128, 128], [130, 257, 250], [512, 1024, 384]] as const) {
    const A = int8s(M * K, 7 + M), B = int8s(K * N, 9 + N);
    check(`cuda gemm s8×s8 ${M}x${K}x${N}`, firstDiff(await gemmInt8Cuda(A, B, { M, K, N }), gemmInt8Ref(A, B, M, K, N)));
  }
  // GPTQ with the trailing updates on the GPU (float32 GEMM): close to the CPU port, not bit-exact
  const rows = 64, cols = 96, samples = 128;
  const X = floats(samples * cols, 41, 1);
  const H = Float32Array.from(hessianAccumulateRef(new Float64Array(cols * cols), X, samples, cols), (v) => (2 * v) / samples);
  const o = { weight: floats(rows * cols, 42, 0.5), hessian: H, rows, cols, bits: 4, groupSize: 32, symmetric: true, damp: 0.01, blockSize: 32, actOrder: false };
  const cpu = gptqQuantize(o);
  const gpu = await gptqQuantizeAsync(o, { device: 'cuda' });
  let codeDiff = 0, maxErr = 0;
  for (let i = 0; i < cpu.q.length; i++) { if (cpu.q[i] !== gpu.q[i]) codeDiff++; maxErr = Math.max(maxErr, Math.abs(cpu.dequantized[i]! - gpu.dequantized[i]!)); }
  // named tolerance: at most 1 % of codes move by float32 reordering in the trailing GEMM
  out.push({ name: 'cuda gptq trailing update vs CPU port', ok: codeDiff <= cpu.q.length * 0.01, detail: `${codeDiff} of ${cpu.q.length} codes differ, max |Δdequantized| ${maxErr.toExponential(2)}` });
  return out;
}
