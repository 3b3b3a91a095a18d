// One-shot check on the lent GPU machine (bundled to .device/device-check.mjs by device-check.sh prepare):
// what the machine has, CUDA kernels vs the CPU twins, AMX vs the scalar twin on the host Xeon, then the
// GPU timings. One JSON object per line; exit 1 if a correctness check fails.
import { cpuFeatures, cudaBench, deviceInfo, gemmInt8Sync, gptqQuantize, gptqQuantizeAsync, hessianAccumulateSync, loadError, nativeAvailable, packB } from '../lib/index';
import { gemmInt8Ref } from '../lib/reference/gemm';
import { runCudaChecks } from '../../test/native/cuda-checks';
import { firstDiff, floats, int8s, uint8s } from '../../test/native/helpers';

const line = (o: object) => console.log(JSON.stringify(o));
if (!nativeAvailable()) { line({ error: loadError() }); process.exit(1); }
const f = cpuFeatures();
const d = deviceInfo();
line({ cpu: f.brand, threads: f.threads, avx512vnni: f.avx512vnni, amxInt8: f.amxInt8, amxPermitted: f.amxPermitted, gpu: d });
let failed = 0;

// AMX on the host CPU, exact against the scalar twin
if (f.amxInt8 && f.amxPermitted) {
  for (const [M, K, N] of [[16, 64, 32], [45, 333, 70], [256, 512, 300]] as const) {
    const A = uint8s(M * K, M), B = int8s(K * N, N);
    const diff = firstDiff(gemmInt8Sync(A, packB(B, K, N), { M, K, N, aZeroPoint: 7, bZeroPoint: -2 }, { impl: 'amx' }), gemmInt8Ref(A, B, M, K, N, 7, -2));
    line({ check: `amx gemm u8×s8 ${M}x${K}x${N}`, ok: diff === -1 });
    if (diff !== -1) failed++;
  }
} else line({ check: 'amx', skipped: f.amxNote || 'no AMX-INT8 on this CPU' });

// CPU GEMM timings on the host: AMX and VNNI against the plain reference twin, 1 thread and all threads
const bestMs = (fn: () => unknown, reps: number) => { fn(); let best = Infinity; for (let i = 0; i < reps; i++) { const t = performance.now(); fn(); best = Math.min(best, performance.now() - t); } return best; };
for (const [M, K, N] of [[16, 4096, 4096], [512, 4096, 4096]] as const) {
  const A = uint8s(M * K, 3), B = int8s(K * N, 4), P = packB(B, K, N);
  const ref = M <= 16 ? bestMs(() => gemmInt8Ref(A, B, M, K, N, 0, 0), 2) : NaN;
  for (const impl of ['vnni', 'amx'] as const) {
    if (impl === 'amx' && !(f.amxInt8 && f.amxPermitted)) continue;
    for (const threads of [1, f.threads]) {
      const ms = bestMs(() => gemmInt8Sync(A, P, { M, K, N }, { impl, threads }), 5);
      line({ kernel: `cpu gemm u8×s8 ${impl}`, shape: `${M}x${K}x${N}`, threads, ms: +ms.toFixed(3), tops: +((M * K * N * 2) / ms / 1e9).toFixed(3), ...(Number.isFinite(ref) ? { baseline: 'reference twin, 1 thread (this run)', ratio_vs_reference: +(ref / ms).toFixed(1) } : {}) });
    }
  }
}

if (!d.available) { line({ cuda: 'unavailable', reason: d.reason }); process.exit(failed ? 1 : 0); }
for (const r of await runCudaChecks()) { line({ check: r.name, ok: r.ok, detail: r.detail }); if (!r.ok) failed++; }

const n = 1 << 28;
const copy = cudaBench('copy', [n], 20), quant = cudaBench('quantize', [n], 20);
const copyGBs = copy.work / copy.ms / 1e6, quantGBs = quant.work / quant.ms / 1e6;
line({ kernel: 'cuda quantize int8 per-tensor', shape: `${n} fp32`, value: +quantGBs.toFixed(1), unit: 'GB/s', baseline: 'cudaMemcpy D2D (this run)', baseline_value: +copyGBs.toFixed(1), ratio: +(quantGBs / copyGBs).toFixed(3) });
line({ kernel: 'cuda quantize int8 per-tensor', shape: `${n} fp32`, value: +quantGBs.toFixed(1), unit: 'GB/s', baseline: 'H100 D2D copy 2958 GB/s (peer-and-ceilings.md)', baseline_value: 2958, ratio: +(quantGBs / 2958).toFixed(3) });
for (const [M, K, N, ref] of [[8192, 8192, 8192, 803], [128, 4096, 4096, 142], [32, 4096, 4096, 35]] as const) {
  const g = cudaBench('gemm', [M, K, N], M === 8192 ? 10 : 50);
  const tops = g.work / g.ms / 1e9;
  line({ kernel: 'cuda gemm s8×s8→s32 mma.sync m16n8k32', shape: `${M}x${K}x${N}`, value: +tops.toFixed(1), unit: 'TOP/s', baseline: `cuBLASLt ${ref} TOPS (peer-and-ceilings.md)`, baseline_value: ref, ratio: +(tops / ref).toFixed(3) });
}
// GPTQ on one 4096×4096 layer (int4 g128): CPU port (all threads) vs the trailing updates on the GPU
{
  const rows = 4096, cols = 4096, samples = 512;
  const X = floats(samples * cols, 51, 1);
  const gram = hessianAccumulateSync(new Float64Array(cols * cols), X, samples, cols, { threads: f.threads });
  const H = Float32Array.from(gram, (v) => (2 * v) / samples);
  const o = { weight: floats(rows * cols, 52, 0.05), hessian: H, rows, cols, bits: 4, groupSize: 128, symmetric: true, damp: 0.01, blockSize: 128, actOrder: false };
  let t = performance.now(); const cpu = gptqQuantize(o, { threads: f.threads }); const cpuMs = performance.now() - t;
  t = performance.now(); const gpu = await gptqQuantizeAsync(o, { device: 'cuda' }); const gpuMs = performance.now() - t;
  let codeDiff = 0; for (let i = 0; i < cpu.q.length; i++) if (cpu.q[i] !== gpu.q[i]) codeDiff++;
  line({ kernel: 'gptq int4 g128 4096x4096', cpu_ms: Math.round(cpuMs), cpu_threads: f.threads, cuda_ms: Math.round(gpuMs), speedup: +(cpuMs / gpuMs).toFixed(2), codes_differing: codeDiff, of: cpu.q.length });
  if (codeDiff > cpu.q.length * 0.01) failed++;
}
process.exit(failed ? 1 : 0);
