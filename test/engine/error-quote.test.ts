// quote() is used by every error message, including messages about hostile input: it must render
// 100000-deep arrays and 10^7-element arrays in bounded time and stack, and otherwise keep
// JSON.stringify's text (tests and users key on it).
import { describe, it, expect } from 'vitest';
import { quote } from '../../engine/errors';

describe('quote', () => {
  it('matches JSON.stringify, shortened to 120 characters, for ordinary values', () => {
    const cases: unknown[] = ['method', 1.5, null, true, [1, 2, 'a'], { a: 1, b: [true, null], c: undefined }, new Date(0), NaN, { x: { y: { z: 'q' } } }, 'a'.repeat(300), [undefined, () => 1], Array.from({ length: 1000 }, (_, i) => i)];
    for (const c of cases) {
      let j = JSON.stringify(c);
      if (j.length > 120) j = j.slice(0, 117) + '...';
      expect(quote(c)).toBe(`'${j}'`);
    }
    expect(quote(12n)).toBe("'12'");
    expect(quote(undefined)).toBe("'undefined'");
  });

  it('renders a 100000-deep array without overflowing the stack, and a 10^7-element array without walking it', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(quote(deep)).toBe(`'${'['.repeat(117)}...'`);
    let deepObj: unknown = {};
    for (let i = 0; i < 100_000; i++) deepObj = { k: deepObj };
    expect(quote(deepObj)).toMatch(/^'\{"k":\{"k":.*\.\.\.'$/);
    const big = new Array(1e7).fill(7);
    const t = performance.now();
    expect(quote(big)).toBe(`'[${'7,'.repeat(58)}...'`);
    expect(performance.now() - t).toBeLessThan(50);
  });
});
