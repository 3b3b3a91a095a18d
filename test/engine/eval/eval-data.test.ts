// Evaluation apart from calibration, and the edge cases of every output metric.
import { describe, it, expect } from 'vitest';
import { splitEvaluation, EVAL_SAMPLE_CAP } from '../../../engine/eval/eval-data';
import { compareTensors, top1NotApplicable, AgreementAccumulator } from '../../../engine/eval/agreement';
import { OutputScorer, lmWindows } from '../../../engine/eval/output-scores';
import type { NpyArray } from '../../../engine/data/npy';

const floats = (n: number, per = 2): NpyArray => ({ dtype: 'float32', shape: [n, per], data: Float32Array.from({ length: n * per }, (_, i) => i) });
const labels = (n: number): NpyArray => ({ dtype: 'int64', shape: [n], data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 3)) });

describe('splitEvaluation', () => {
  it('holds out the last 20 % of --data (labels alike) and leaves the rest for calibration', () => {
    const s = splitEvaluation({ inputs: { x: floats(10) }, labels: labels(10) });
    expect(s.calibration.inputs.x!.shape).toEqual([8, 2]);
    expect(s.evaluation!.inputs.x!.shape).toEqual([2, 2]);
    expect([...(s.evaluation!.inputs.x!.data as Float32Array)]).toEqual([16, 17, 18, 19]);
    expect(s.calibration.labels!.shape).toEqual([8]);
    expect([...(s.evaluation!.labels!.data as BigInt64Array)]).toEqual([2n, 0n]);
    expect(s.evaluation!.info).toMatchObject({ source: 'held-out', samples: 2, available: 2, calibrationSamples: 8 });
    expect(s.evaluation!.info.description).toMatch(/^2 held-out samples of --data/);
  });

  it('holds out at least one sample; a single sample is evaluated on itself and says so', () => {
    expect(splitEvaluation({ inputs: { x: floats(3) } }).evaluation!.info.samples).toBe(1);
    const one = splitEvaluation({ inputs: { x: floats(1) } });
    expect(one.evaluation!.info.source).toBe('calibration');
    expect(one.evaluation!.info.description).toMatch(/also calibrated/);
    expect(splitEvaluation({ inputs: {} }).evaluation).toBeUndefined();
  });

  it('takes --eval-data as it is (calibration keeps all of --data), capped and described', () => {
    const s = splitEvaluation({ inputs: { x: floats(10) }, evalInputs: { x: floats(EVAL_SAMPLE_CAP + 5) } });
    expect(s.calibration.inputs.x!.shape[0]).toBe(10);
    expect(s.evaluation!.info).toMatchObject({ source: 'eval-data', samples: EVAL_SAMPLE_CAP, available: EVAL_SAMPLE_CAP + 5 });
    expect(s.evaluation!.info.description).toMatch(/of --eval-data \(the first 512 of 517: the evaluation cap\)/);
  });

  it('refuses labels that do not match their samples', () => {
    expect(() => splitEvaluation({ inputs: { x: floats(10) }, evalInputs: { x: floats(4) }, evalLabels: labels(3) })).toThrow(/3 label\(s\) for 4 evaluation sample/);
    expect(() => splitEvaluation({ inputs: { x: floats(10) }, evalLabels: labels(3) })).toThrow(/without evaluation data/);
    expect(() => splitEvaluation({ inputs: { x: floats(10) }, labels: labels(4) })).toThrow(/4 label\(s\) for 10 sample/);
  });
});

describe('metric edge cases', () => {
  it('SQNR: identical is exact (Infinity), NaN/Inf anywhere is undefined with its reason, never "exact"', () => {
    const a = Float32Array.of(1, -2, 3);
    expect(compareTensors(a, a)).toMatchObject({ sqnrDb: Infinity, cosine: 1 });
    for (const bad of [NaN, Infinity, -Infinity]) {
      const r = compareTensors(a, Float32Array.of(1, bad, 3));
      expect(r.sqnrDb).toBeNaN();
      expect(r.cosine).toBeNaN();
      expect(r.undefinedReason).toBe('non-finite values');
      expect(compareTensors(Float32Array.of(bad, 0, 0), a).undefinedReason).toBe('non-finite values');
    }
    // One bad batch among good ones still makes the whole figure undefined.
    const acc = new AgreementAccumulator();
    acc.add(a, a);
    acc.add(a, Float32Array.of(NaN, 0, 0));
    acc.add(a, a);
    expect(acc.result().undefinedReason).toBe('non-finite values');
    expect(new AgreementAccumulator().result().undefinedReason).toBe('no values compared');
  });

  it('top-1 agreement applies to [N, classes] and [N, T, classes] with >= 2 classes only', () => {
    expect(top1NotApplicable([8, 10])).toBeUndefined();
    expect(top1NotApplicable([2, 256, 256])).toBeUndefined();
    expect(top1NotApplicable([8, 1])).toMatch(/1 class/);
    expect(top1NotApplicable([8, 1, 28, 28])).toMatch(/not class scores/);
    expect(top1NotApplicable([8])).toMatch(/not class scores/);
  });

  it('OutputScorer: agreement, top-1 on labels, and no top-1 for a mask', () => {
    const ref = { data: Float32Array.of(0, 1, 5, 0, 0, 9), dims: [3, 2], type: 'float32' };
    const q = { data: Float32Array.of(0, 1, 0, 5, 0, 9), dims: [3, 2], type: 'float32' };
    const s = new OutputScorer({ labels: { dtype: 'int64', shape: [3], data: BigInt64Array.of(1n, 0n, 0n) } });
    s.add(ref, q, 0, 3);
    const r = s.result();
    expect(r.top1Agreement).toBeCloseTo(2 / 3);
    expect(r.top1Fp32).toBeCloseTo(2 / 3);
    expect(r.top1Quantized).toBeCloseTo(1 / 3);
    expect(r.samples).toBe(3);
    const m = new OutputScorer();
    m.add({ data: new Float32Array(8), dims: [2, 1, 2, 2], type: 'float32' }, { data: new Float32Array(8), dims: [2, 1, 2, 2], type: 'float32' }, 0, 2);
    expect(m.result().top1Agreement).toBeUndefined();
    expect(m.result().top1AgreementUndefined).toMatch(/\[2, 1, 2, 2\] is not class scores/);
  });

  it('OutputScorer: perplexity of uniform logits is the vocabulary size; confident right logits give ~1', () => {
    const T = 4, V = 8;
    const ids: NpyArray = { dtype: 'int64', shape: [1, T], data: BigInt64Array.of(1n, 2n, 3n, 4n) };
    expect(lmWindows({ input_ids: ids })).toBe(ids);
    expect(lmWindows({ a: ids, b: ids })).toBeUndefined();
    const uniform = new Float32Array(T * V);
    const sharp = new Float32Array(T * V);
    for (let t = 0; t < T - 1; t++) sharp[t * V + t + 2] = 50;
    const s = new OutputScorer({ ids });
    s.add({ data: uniform, dims: [1, T, V], type: 'float32' }, { data: sharp, dims: [1, T, V], type: 'float32' }, 0, 1);
    const r = s.result();
    expect(r.perplexityFp32).toBeCloseTo(V, 5);
    expect(r.perplexityQuantized).toBeCloseTo(1, 5);
  });
});
