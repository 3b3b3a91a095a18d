// The one byte formatter every engine message uses: binary units, fixed decimals, rounding as toFixed.
import { describe, expect, it } from 'vitest';
import { formatGiB, formatMiB } from '../../../engine/util/format-bytes';

describe('formatGiB / formatMiB', () => {
  it('divides by 2^30 / 2^20 (not 1e9 / 1e6) and keeps the asked decimals', () => {
    expect(formatGiB(2 ** 31)).toBe('2.00 GiB');
    expect(formatGiB(1e9)).toBe('0.93 GiB');
    expect(formatGiB(1.25 * 2 ** 30, 1)).toBe('1.3 GiB');
    expect(formatGiB(512 * 2 ** 20, 1)).toBe('0.5 GiB');
    expect(formatMiB(1e6)).toBe('0.95 MiB');
    expect(formatMiB(3 * 2 ** 20 + 2 ** 19)).toBe('3.50 MiB');
    expect(formatMiB(0, 0)).toBe('0 MiB');
  });
});
