import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdamW, learningRate } from '../../../engine/qat/optimizer';
import { saveCheckpoint, loadCheckpoint } from '../../../engine/qat/checkpoint';

describe('AdamW and the schedule', () => {
  it('warms up linearly, then decays along a cosine to the floor', () => {
    const s = { lr: 1e-3, steps: 100, warmupSteps: 10, minFraction: 0.1 };
    expect(learningRate(s, 0)).toBeCloseTo(1e-4, 12);
    expect(learningRate(s, 9)).toBeCloseTo(1e-3, 12);
    expect(learningRate(s, 10)).toBeCloseTo(1e-3, 12);
    expect(learningRate(s, 55)).toBeCloseTo(1e-4 + 0.9e-3 * 0.5, 9);
    expect(learningRate(s, 100)).toBeCloseTo(1e-4, 12);
    for (let t = 11; t < 100; t++) expect(learningRate(s, t)).toBeLessThanOrEqual(learningRate(s, t - 1));
  });

  it('minimises a badly scaled quadratic; decoupled decay shrinks weights without a gradient', () => {
    const opt = new AdamW();
    const p = Float32Array.from([5, -3]);
    for (let t = 0; t < 2000; t++) opt.step('p', p, [2 * 100 * (p[0]! - 1), 2 * 0.01 * (p[1]! + 2)], 0.05 * (1 - t / 2000));
    expect(p[0]).toBeCloseTo(1, 2);
    expect(p[1]).toBeCloseTo(-2, 1);
    const q = Float32Array.from([1, 1]);
    new AdamW().step('q', q, [0, 0], 0.1, 0.5);
    expect(q[0]).toBeCloseTo(0.95, 6);
  });
});

describe('checkpoints', () => {
  it('round-trip every array, the step, history and Adam counts; refuse a damaged file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qat-ckpt-'));
    const path = join(dir, 'run.qat-checkpoint');
    const arrays = new Map([['p:w', Float32Array.from([1.5, -2, 3e-8])], ['m:w', Float32Array.from([0.1, 0.2, 0.3])], ['as:x', Float32Array.of(0.25)]]);
    await saveCheckpoint(path, { step: 42, fingerprint: 'abc', history: [{ step: 1, loss: 2.5, metric: 0.5 }], arrays, counts: { w: 42 } });
    const back = await loadCheckpoint(path);
    expect(back!.step).toBe(42);
    expect(back!.fingerprint).toBe('abc');
    expect(back!.counts).toEqual({ w: 42 });
    expect(back!.history).toEqual([{ step: 1, loss: 2.5, metric: 0.5 }]);
    for (const [k, v] of arrays) expect(Array.from(back!.arrays.get(k)!)).toEqual(Array.from(v));
    expect(await loadCheckpoint(join(dir, 'missing'))).toBeUndefined();
    writeFileSync(path, 'not a checkpoint');
    await expect(loadCheckpoint(path)).rejects.toMatchObject({ code: 'BAD_DATA' });
  });
});
