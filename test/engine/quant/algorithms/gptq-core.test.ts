import { describe, it, expect } from 'vitest';
import { gptqQuantize, upperCholeskyOfInverse } from '../../../../engine/quant/algorithms/gptq-core';
import { rtnQuantize } from '../../../../engine/quant/algorithms/weight-quant';
import { seededRandom as rng } from '../../../../engine/util/seeded-random';

// Deterministic generator (mulberry32) for the synthetic parts; the model-level tests use real tensors.
const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());

/** Correlated activations X [n × cols] (a few strong directions, like real LM features) and H = 2XᵀX/n. */
function correlatedHessian(cols: number, n: number, seed: number): Float32Array {
  const r = rng(seed);
  const basis = Array.from({ length: 4 }, () => Float64Array.from({ length: cols }, () => gauss(r)));
  const H = new Float64Array(cols * cols);
  const x = new Float64Array(cols);
  for (let s = 0; s < n; s++) {
    for (let c = 0; c < cols; c++) x[c] = 0.3 * gauss(r) * (c % 7 === 0 ? 4 : 1);
    for (const b of basis) { const a = gauss(r); for (let c = 0; c < cols; c++) x[c]! += a * b[c]!; }
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) H[i * cols + j]! += (2 * x[i]! * x[j]!) / n;
  }
  return Float32Array.from(H);
}

/** Σ_rows δᵀ H δ: the layer's output error ‖X·Δᵀ‖² (× 2/n) for a weight change Δ. */
function outputError(a: Float32Array, b: Float32Array, H: Float32Array, rows: number, cols: number): number {
  let tot = 0;
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < cols; i++) {
      const di = a[r * cols + i]! - b[r * cols + i]!;
      let s = 0;
      for (let j = 0; j < cols; j++) s += H[i * cols + j]! * (a[r * cols + j]! - b[r * cols + j]!);
      tot += di * s;
    }
  }
  return tot;
}

describe('upperCholeskyOfInverse', () => {
  it('returns U with UᵀU·H = I', () => {
    const n = 24;
    const H32 = correlatedHessian(n, 200, 1);
    const h = Float64Array.from(H32);
    for (let i = 0; i < n; i++) h[i * n + i]! += 0.01;
    const H = Float64Array.from(h);
    expect(upperCholeskyOfInverse(h, n)).toBe(true);
    const TOL = 1e-8;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) expect(h[i * n + j]).toBe(0);
      expect(h[i * n + i]).toBeGreaterThan(0);
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) {
          let inv = 0; // (UᵀU)[i][k]
          for (let m = 0; m < n; m++) inv += h[m * n + i]! * h[m * n + k]!;
          s += inv * H[k * n + j]!;
        }
        expect(Math.abs(s - (i === j ? 1 : 0))).toBeLessThan(TOL);
      }
    }
  });
  it('refuses a matrix that is not positive definite', () => {
    expect(upperCholeskyOfInverse(Float64Array.from([1, 2, 2, 1]), 2)).toBe(false);
  });
});

describe('gptqQuantize', () => {
  const rows = 48, cols = 64;
  const r = rng(7);
  const weight = Float32Array.from({ length: rows * cols }, () => 0.05 * gauss(r));
  const hessian = correlatedHessian(cols, 400, 3);

  for (const [bits, groupSize, symmetric, actOrder] of [[4, 32, true, false], [4, 0, false, false], [3, 16, true, true], [4, 32, false, true]] as const) {
    it(`int${bits} group ${groupSize} ${symmetric ? 'sym' : 'asym'}${actOrder ? ' act-order' : ''}: lower output error than RTN, layout consistent`, () => {
      const res = gptqQuantize({ weight, rows, cols, hessian, bits, groupSize, symmetric, damp: 0.01, blockSize: 16, actOrder });
      const nG = groupSize ? cols / groupSize : 1;
      expect(res.scales.length).toBe(rows * nG);
      expect(res.zeroPoints.length).toBe(rows * nG);
      // dequantized is exactly (q − zp)·scale with groups over the original column order
      for (let i = 0; i < rows * cols; i++) {
        const row = Math.floor(i / cols), c = i % cols;
        const g = row * nG + (groupSize ? Math.floor(c / groupSize) : 0);
        expect(res.q[i]).toBeGreaterThanOrEqual(0);
        expect(res.q[i]).toBeLessThanOrEqual((1 << bits) - 1);
        expect(res.dequantized[i]).toBe(Math.fround((res.q[i]! - res.zeroPoints[g]!) * res.scales[g]!));
      }
      const rtn = rtnQuantize(weight, rows, cols, { bits, symmetric }, groupSize);
      const eG = outputError(weight, res.dequantized, hessian, rows, cols);
      const eR = outputError(weight, rtn.dequantized, hessian, rows, cols);
      // GPTQ minimises this very error; on correlated activations it wins by a wide margin.
      const MIN_GAIN = 0.8;
      expect(eG).toBeLessThan(MIN_GAIN * eR);
    });
  }

  it('zeroes dead input columns and stays finite', () => {
    const h = new Float32Array(hessian);
    for (let j = 0; j < cols; j++) { h[5 * cols + j] = 0; h[j * cols + 5] = 0; }
    const res = gptqQuantize({ weight, rows, cols, hessian: h, bits: 4, groupSize: 32, symmetric: true, damp: 0.01, blockSize: 16, actOrder: false });
    for (let row = 0; row < rows; row++) expect(Math.abs(res.dequantized[row * cols + 5]!)).toBe(0);
    expect(res.dequantized.every(Number.isFinite)).toBe(true);
  });
});
