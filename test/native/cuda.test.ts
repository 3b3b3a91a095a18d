// The CUDA kernels against the CPU twins — only where a GPU is present (the lent H100: see
// native-kernels/scripts/device-check.sh). Without one, face.test.ts checks the clean fallback.
import { describe, expect, it } from 'vitest';
import { deviceInfo, nativeAvailable } from '../../native-kernels/lib/index';
import { runCudaChecks } from './cuda-checks';

const gpu = nativeAvailable() && deviceInfo().available;

describe.skipIf(!gpu)('CUDA kernels (GPU present)', () => {
  it('quantize / dequantize / fake-quant / histogram / int8 mma GEMM match the CPU bit for bit; GPTQ within tolerance', async () => {
    const results = await runCudaChecks();
    const failed = results.filter((r) => !r.ok);
    expect(failed, JSON.stringify(failed, null, 1)).toEqual([]);
    expect(results.length).toBeGreaterThan(10);
  });
});
