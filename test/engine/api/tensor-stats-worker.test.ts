// Weight statistics for large weights run in a worker thread: the main thread keeps serving timers
// (the host's requests) while a 2M-value weight is measured, and the worker's answer is the same as
// the in-thread computation.
import { describe, it, expect } from 'vitest';
import { weightStats, weightStatsOffThread } from '../../../engine/api/tensor-stats';
import { StudioError } from '../../../engine/errors';

function weight(n: number): Float32Array {
  const v = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; v[i] = ((s / 2 ** 32) - 0.5) * (1 + (i % 7)); }
  return v;
}

describe('weight statistics off the main thread', () => {
  it('a 2M-value weight is measured in a worker while the main thread keeps ticking; same result as in-thread', async () => {
    const values = weight(1 << 21);
    const input = { values, dims: [2048, 1024], channelAxis: 0, bits: 8, percentile: 99.99, name: 'W' };
    // The longest the main thread went without running a timer: in-thread work would stall it for
    // (nearly) the whole computation.
    let last = performance.now(), longestStall = 0;
    const timer = setInterval(() => { const now = performance.now(); longestStall = Math.max(longestStall, now - last); last = now; }, 5);
    const t = performance.now();
    const off = await weightStatsOffThread(input);
    const ms = performance.now() - t;
    clearInterval(timer);
    longestStall = Math.max(longestStall, performance.now() - last);
    expect(off.thread).toBe('worker');
    expect(longestStall).toBeLessThan(ms / 2);
    const here = weightStats(input);
    expect(off.count).toBe(here.count);
    expect(off.min).toBe(here.min);
    expect(off.max).toBe(here.max);
    expect(off.perChannel!.max).toEqual(here.perChannel!.max);
    expect(off.choices.map((c) => c.sqnrDb)).toEqual(here.choices.map((c) => c.sqnrDb));
    expect(values.length).toBe(1 << 21); // the caller's array is not detached
  });

  it('small weights stay in the thread; dims that claim more values than held are refused, not walked', async () => {
    expect((await weightStatsOffThread({ values: weight(64), dims: [8, 8], bits: 8, percentile: 99.9, name: 'w' })).thread).toBe('main');
    expect(() => weightStats({ values: weight(64), dims: [1_000_000, 1_000_000], channelAxis: 0, bits: 8, percentile: 99.9, name: 'W' })).toThrow(StudioError);
    await expect(weightStatsOffThread({ values: weight(1 << 20), dims: [1_000_000, 1_000_000], channelAxis: 0, bits: 8, percentile: 99.9, name: 'W' }, 1)).rejects.toThrow(/declares \[1000000, 1000000\]/);
  });
});
