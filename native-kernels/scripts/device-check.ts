// One-shot check on the lent GPU machine (bundled to .device/device-check.mjs by device-check.sh prepare):
// what the machine has, CUDA kernels vs the CPU twins, AMX vs the scalar twin on the host Xeon, then the
// GPU timings. One JSON object per line; exit 1 if a correctness check fails.
import { cpuFeatures, cudaBench, deviceInfo, gemmInt8Sync, loadError, nativeAvailable, packB } from '../lib/index';
import { gemmInt8Ref } from '../lib/reference/gemm';
import { runCudaChecks } from '../../test/native/cuda-checks';
import { firstDiff, int8s, uint8s } from '../../test/native/helpers';

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
process.exit(failed ? 1 : 0);
