// The .npy reader accepts what numpy writes and refuses, with BAD_DATA naming the file, what numpy
// itself would refuse: oversized headers, shapes that are not tuples of non-negative ints, unknown
// dtypes, Fortran order, data shorter than the shape, element counts that overflow.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNpy, encodeNpy, NPY_MAX_HEADER_BYTES } from '../../../engine/data/npy';
import { StudioError } from '../../../engine/errors';
import { repoRoot } from '../../helpers/shared';

/** A version-1 (or 2) .npy file with the given header text and data bytes, padded as numpy pads. */
function npy(header: string, data: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  let h = header;
  h += ' '.repeat((64 - ((pre + h.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, h.length, true); else dv.setUint32(8, h.length, true);
  out.set(new TextEncoder().encode(h), pre);
  out.set(data, pre + h.length);
  return out;
}
const floats = (n: number) => new Uint8Array(new Float32Array(n).fill(1.5).buffer);

function refusal(bytes: Uint8Array): StudioError {
  try { parseNpy(bytes, 'x.npy'); } catch (e) { expect(e).toBeInstanceOf(StudioError); return e as StudioError; }
  throw new Error('parseNpy accepted the file');
}

describe('.npy header', () => {
  it('reads what numpy writes (real files from the sample projects) and what encodeNpy writes', () => {
    const images = parseNpy(readFileSync(join(repoRoot, 'projects-sample', 'fmnist-cnn', 'images.npy')), 'images.npy');
    expect(images.dtype).toBe('float32');
    expect(images.shape.length).toBe(4);
    expect(images.data.length).toBe(images.shape.reduce((a, b) => a * b, 1));
    const back = parseNpy(encodeNpy({ dtype: 'float32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }));
    expect(Array.from(back.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(parseNpy(npy(`{"descr": "<f4", "fortran_order": False, "shape": (2,)}`, floats(2))).shape).toEqual([2]);
    expect(parseNpy(npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (), }`, floats(1))).shape).toEqual([]);
    expect(parseNpy(npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (0, 7), }`)).data.length).toBe(0);
    expect(parseNpy(npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }`, floats(2), 2)).shape).toEqual([2, 1]);
  });

  it("refuses a header over numpy's 10000-byte limit before decoding it", () => {
    const big = `{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }` + ' '.repeat(NPY_MAX_HEADER_BYTES + 10);
    const e = refusal(npy(big, floats(2), 2));
    expect(e.code).toBe('BAD_DATA');
    expect(e.message).toMatch(/x\.npy.*header is \d+ bytes, over numpy's limit of 10000/);
    // A 100 MB header length with a short file: refused on the length alone.
    const huge = npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }`, floats(2), 2);
    new DataView(huge.buffer).setUint32(8, 100 * 2 ** 20, true);
    expect(refusal(huge).message).toMatch(/over numpy's limit/);
  });

  it.each([
    ['a float in the shape', '(1.6e1,)'],
    ['a hex literal', '(0x10,)'],
    ['a negative size', '(-1, 4)'],
    ['a leading zero', '(010,)'],
    ['an int that is not a tuple', '(16)'],
    ['a name', '(n,)'],
    ['an unclosed tuple', '(16,'],
    ['a list', '[16]'],
    ['a size past 2^53', '(90071992547409930,)'],
  ])('refuses %s in the shape', (_what, shape) => {
    const e = refusal(npy(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`, floats(16)));
    expect(e.code).toBe('BAD_DATA');
    expect(e.message).toMatch(/x\.npy/);
  });

  it.each([
    ['an unknown dtype', `{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }`, /dtype '"<c8"' is not supported/],
    ['big-endian floats', `{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }`, /dtype '">f4"'/],
    ['Fortran order', `{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }`, /Fortran-order/],
    ['fortran_order that is not a bool', `{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }`, /fortran_order|not a string, True\/False/],
    ['a missing key', `{'descr': '<f4', 'shape': (2,), }`, /keys/],
    ['an extra key', `{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 'y'}`, /keys/],
    ['a duplicate key', `{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }`, /twice/],
    ['code after the dict', `{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } + 1`, /after the dict/],
    ['not a dict', `descr=<f4 shape=(2,)`, /not a Python dict literal/],
  ])('refuses %s', (_what, header, why) => {
    const e = refusal(npy(header, floats(2)));
    expect(e.code).toBe('BAD_DATA');
    expect(e.message).toMatch(why);
  });

  it('refuses data shorter than the shape, a header past the end, and element counts that overflow', () => {
    expect(refusal(npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }`, floats(2))).message).toMatch(/holds 8 data bytes but shape \[3\] needs at least 12/);
    const cut = npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }`, floats(2)).subarray(0, 40);
    expect(refusal(cut).message).toMatch(/header says \d+ bytes but the file ends/);
    // 2^40 * 2^40 elements overflows 2^53: refused, not wrapped to a small number or allocated.
    expect(refusal(npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }`, floats(4))).message).toMatch(/needs at least 4398046511104 /);
    expect(refusal(npy(`{'descr': '<i8', 'fortran_order': False, 'shape': (1000000, 1000000), }`, floats(4))).code).toBe('BAD_DATA');
  });
});
