import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { createSession, chooseProvider, ort } from '../../../engine/runtime/session';
import { detectHardware, parseCpuInfo } from '../../../engine/runtime/hardware';
import { batchRanges, sliceSamples, feedsFor } from '../../../engine/runtime/batching';
import { models } from '../../helpers/shared';

describe('runtime', () => {
  it('runs the shared CNN from a path and from bytes on the CPU', async () => {
    const x = new Float32Array(2 * 28 * 28).fill(0.5);
    for (const src of [models.cnn, new Uint8Array(readFileSync(models.cnn))]) {
      const s = await createSession(src, { device: 'cpu', threads: 1 });
      expect(s.provider).toBe('cpu');
      const out = await s.run({ image: new ort.Tensor('float32', x, [2, 1, 28, 28]) });
      expect(out.logits!.dims).toEqual([2, 10]);
      await s.release();
    }
  });

  it('falls back to the CPU with a notice when CUDA is asked for but not installed', () => {
    expect(chooseProvider('cuda', false)).toMatchObject({ provider: 'cpu', notice: expect.stringContaining('CUDA') });
    expect(chooseProvider('auto', false).notice).toMatch(/CPU/);
    expect(chooseProvider('auto', true)).toEqual({ provider: 'cuda' });
    expect(chooseProvider('cpu', true)).toEqual({ provider: 'cpu' });
  });

  it('rejects bytes that are not a model with BAD_MODEL naming the source', async () => {
    await expect(createSession(new Uint8Array([1, 2, 3, 4]), { source: 'junk.onnx' })).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringContaining('junk.onnx') });
  });

  it('reads CPU flags', () => {
    const info = parseCpuInfo('processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 avx512f avx512_vnni amx_int8\n');
    expect(info.model).toBe('Test CPU');
    expect([...info.flags]).toContain('avx512_vnni');
    const hw = detectHardware();
    expect(hw.cores).toBeGreaterThan(0);
    expect(hw.backends.find((b) => b.name === 'cpu')?.available).toBe(true);
  });

  it('batches sample-major arrays without copying', () => {
    expect(batchRanges(10, 4)).toEqual([[0, 4], [4, 8], [8, 10]]);
    const a = { dtype: 'float32' as const, shape: [5, 2], data: Float32Array.from({ length: 10 }, (_, i) => i) };
    const s = sliceSamples(a, 3, 5);
    expect(s.shape).toEqual([2, 2]);
    expect([...s.data as Float32Array]).toEqual([6, 7, 8, 9]);
    expect(feedsFor({ x: a }, 1, 2).x!.dims).toEqual([1, 2]);
  });
});
