// Fake quantization: the host weight path against the ONNX reference quantizer, the straight-through
// gradient at the clip edges (host and in-graph), LSQ's scale gradient, and the MSE weight grids.
import { describe, it, expect } from 'vitest';
import { fakeQuantize } from '../../../engine/quant/math';
import { initWeightQuant, fakeQuantWeight, steWeightGrad, quantizeWeightInts } from '../../../engine/qat/fake-quant';
import { ort } from '../../../engine/runtime/session';
import { gradCheck, tinyModel, node, rng, randn } from './grad-check';

describe('host weight fake-quant', () => {
  it('matches the ONNX reference quantize/dequantize per channel and per block', () => {
    const r = rng(3);
    const w = randn(r, 8 * 12, 0.2);
    for (const [axis, block] of [[0, undefined], [1, 4]] as const) {
      const wq = initWeightQuant('w', w, [8, 12], 'int4', 'symmetric', axis, block);
      const mine = fakeQuantWeight(w, wq);
      const ref = fakeQuantize(w, [8, 12], wq.params);
      expect(Array.from(mine)).toEqual(Array.from(ref));
      expect(wq.params.scale.length).toBe(block ? 8 * 3 : 8);
    }
  });

  it('the MSE grid is no worse than the plain min/max grid, and clips int3 weights', () => {
    const r = rng(4);
    const w = randn(r, 16 * 64, 0.1);
    w[5] = 1.5; // one outlier in channel 0
    const wq = initWeightQuant('w', w, [16, 64], 'int3', 'symmetric', 0);
    const err = (x: Float32Array) => x.reduce((a, v, i) => a + (v - w[i]!) ** 2, 0);
    const plain = { ...wq, params: { ...wq.params, scale: Float32Array.from({ length: 16 }, (_, c) => Math.max(...Array.from(w.subarray(c * 64, c * 64 + 64), Math.abs)) / 3) } };
    expect(err(fakeQuantWeight(w, wq))).toBeLessThan(err(fakeQuantWeight(w, plain)));
    const q = quantizeWeightInts(w, wq);
    expect(Math.min(...q)).toBeGreaterThanOrEqual(-4);
    expect(Math.max(...q)).toBeLessThanOrEqual(3);
    expect(wq.params.scale[0]).toBeLessThanOrEqual(1.5 / 3);
  });

  it('STE passes the gradient inside [qmin, qmax] (edges included) and zeroes it outside; LSQ scale gradient', () => {
    // int4 symmetric, one scale of 0.5: v = w / 0.5; inside when -8 <= v <= 7.
    const w = Float32Array.from([-4.5, -4.0, -4.2, 3.5, 3.6, 3.8, 0.15, -1.6]);
    const v = Array.from(w, (x) => x / 0.5);
    const wq = initWeightQuant('w', w, [8], 'int4', 'symmetric');
    wq.params.scale[0] = 0.5;
    const g = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const sg = new Float64Array(1);
    steWeightGrad(w, wq, g, sg);
    expect(Array.from(g)).toEqual([0, 2, 0, 4, 0, 0, 7, 8]);
    // d out / d s = (q - z) - inside * v: inside q - v, outside the clipped code.
    const q = v.map((x) => Math.min(7, Math.max(-8, Math.round(x))));
    const expected = [1, 2, 3, 4, 5, 6, 7, 8].reduce((a, gi, i) => a + gi * (v[i]! >= -8 && v[i]! <= 7 ? q[i]! - v[i]! : q[i]!), 0);
    expect(sg[0]).toBeCloseTo(expected, 5);
  });
});

describe('in-graph activation fake-quant', () => {
  it('STE at the clip edges and the LSQ scale gradient, against the host formula', async () => {
    // y = x * w (elementwise), fake-quantized to uint4 with scale 0.25 and zero-point 3:
    // v = y/0.25 + 3 is inside for v in [0, 15] (edges included).
    const xv = Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1]);
    const w = Float32Array.from([-0.75, -0.8, 3.0, 3.05, 0.4, -0.3, 1.13, 2.9]);
    const m = tinyModel([node('Mul', ['x', 'w'], ['y0']), node('Identity', ['y0'], ['y'])], [{ name: 'x', dims: [2, 4] }], [{ name: 'w', dims: [2, 4], data: w }], 'y');
    const res = await gradCheck(m, { x: new ort.Tensor('float32', xv, [2, 4]) }, ['w'], { activations: [{ tensor: 'y0', qmin: 0, qmax: 15, scale: 0.25, zp: 3 }], learnScales: true });
    const gw = res.grads.get('w')!;
    const v = Array.from(w, (y) => y / 0.25 + 3);
    const inside = v.map((x) => x >= 0 && x <= 15);
    expect(inside).toEqual([true, false, true, false, true, true, true, true]);
    inside.forEach((ins, i) => { expect(gw[i] === 0).toBe(!ins); });
    // Upstream: loss = mean over the 2 rows of -sum t log softmax(y_fq), so d loss / d y_fq = (softmax - t) / 2.
    const q = v.map((x) => Math.min(15, Math.max(0, Math.round(x))));
    const yfq = q.map((qi) => (qi - 3) * 0.25);
    const up: number[] = [];
    for (let row = 0; row < 2; row++) {
      const z = yfq.slice(row * 4, row * 4 + 4);
      const mx = Math.max(...z);
      const e = z.map((x) => Math.exp(x - mx));
      const sum = e.reduce((a, b) => a + b, 0);
      e.forEach((x, c) => up.push((x / sum - res.target[row * 4 + c]!) / 2));
    }
    inside.forEach((ins, i) => expect(gw[i]).toBeCloseTo(ins ? up[i]! : 0, 6));
    const gsExpected = up.reduce((a, u, i) => a + u * ((q[i]! - 3) - (inside[i] ? v[i]! - 3 : 0)), 0);
    expect(res.grads.get('scale:y0')![0]!).toBeCloseTo(gsExpected, 5);
  });
});
