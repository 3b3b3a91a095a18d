// QAT end to end on the shared Fashion-MNIST CNN (int3 weights, uint4 activations, MSE calibration):
// a short run beats PTQ, the exported QDQ model scores exactly like the fake-quant graph, progress
// streams every step, cancel leaves a checkpoint and a resumed run ends where an uninterrupted one does.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, serializeModel } from '../../../engine/onnx/model-io';
import type { ModelProto } from '../../../engine/onnx/proto';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { loadFashionMnist, type LabelledImages } from '../../../engine/data/fashion-mnist';
import { sliceSamples, toOrtTensor } from '../../../engine/runtime/batching';
import { createSession } from '../../../engine/runtime/session';
import type { ProgressEvent } from '../../../engine/util/work-context';
import { prepareQat, trainQat, exportQat, FakeQuantEvaluator, countCorrect, type QatSetup } from '../../../engine/qat/qat';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { models, sharedPath } from '../../helpers/shared';

const recipe = parseRecipe({
  weights: { dtype: 'int3', scheme: 'symmetric', granularity: 'channel' },
  activations: { dtype: 'uint4', scheme: 'asymmetric', calibration: { method: 'mse' } },
  calibration: { samples: 256, batchSize: 64 },
});

let model: ModelProto;
let baseDir: string;
let train: LabelledImages;
let test: LabelledImages;
const prepare = () => prepareQat(model, { baseDir, recipe, calibration: { image: sliceSamples(train.images, 0, 256) } });
const simTop1 = async (s: QatSetup) => {
  const ev = await FakeQuantEvaluator.open(s);
  try { return await ev.evaluate({ image: test.images }, test.labels); } finally { await ev.release(); }
};
async function exportedTop1(m: ModelProto): Promise<{ top1: number; logits: Float32Array }> {
  const s = await createSession(serializeModel(m), { device: 'cpu', source: 'exported' });
  const out = await s.run({ image: toOrtTensor(test.images) });
  const y = out.logits!.data as Float32Array;
  await s.release();
  return { top1: countCorrect(y, test.labels, 0, test.images.shape[0]!) / test.images.shape[0]!, logits: y };
}

beforeAll(async () => {
  ({ model, baseDir } = await loadModel(models.cnn));
  train = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 2048);
  const full = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 1000);
  test = full;
});

describe('QAT on the Fashion-MNIST CNN (int3 / uint4)', () => {
  it('a short labelled run beats PTQ, and the exported QDQ model scores exactly as the fake-quant graph', async () => {
    const setup = await prepare();
    const ptqSim = await simTop1(setup);
    const ptqExp = await exportedTop1(exportQat(setup));
    expect(ptqExp.top1).toBeCloseTo(ptqSim.top1!, 3);
    const events: ProgressEvent[] = [];
    const r = await trainQat(setup, { inputs: { image: train.images }, labels: train.labels }, { steps: 40, lr: 1e-3, batchSize: 32 }, { onProgress: (e) => events.push(e) });
    expect(r.loss).toBe('cross-entropy');
    expect(events.filter((e) => e.stage === 'qat').map((e) => e.metrics!.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(events.every((e) => Number.isFinite(e.metrics!.loss))).toBe(true);
    const qatSim = await simTop1(setup);
    const exported = exportQat(setup);
    const qatExp = await exportedTop1(exported);
    // The QDQ file holds exactly the integers and scales training used.
    const agree = qatSim.logits.flatMap((b) => Array.from(b)).reduce((a, v, i) => Math.max(a, Math.abs(v - qatExp.logits[i]!)), 0);
    expect(agree).toBeLessThan(1e-3);
    expect(qatExp.top1).toBeCloseTo(qatSim.top1!, 3);
    expect(qatExp.top1).toBeGreaterThan(ptqExp.top1 + 0.02);
    // A real QDQ model: 4-bit weights behind DequantizeLinear, activation Q/DQ pairs.
    const ops = exported.graph!.node.map((n) => n.opType);
    expect(ops.filter((o) => o === 'QuantizeLinear').length).toBeGreaterThanOrEqual(4);
    expect(exported.graph!.initializer.some((t) => t.dataType === 22)).toBe(true); // INT4
  });

  it('without labels it distils from the FP32 model: the KL to the FP32 outputs falls on held-out images', async () => {
    const setup = await prepare();
    const fp = await createSession(serializeModel(model), { device: 'cpu', source: 'fp32' });
    const teacher = (await fp.run({ image: toOrtTensor(test.images) })).logits!.data as Float32Array;
    await fp.release();
    const kl = async () => {
      const student = Float32Array.from((await simTop1(setup)).logits.flatMap((b) => Array.from(b)));
      let sum = 0;
      for (let i = 0; i < teacher.length; i += 10) {
        const ls = (y: Float32Array) => { const z = Array.from(y.subarray(i, i + 10)); const m = Math.max(...z); const l = Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0)) + m; return z.map((v) => v - l); };
        const lt = ls(teacher), lq = ls(student);
        for (let c = 0; c < 10; c++) sum += Math.exp(lt[c]!) * (lt[c]! - lq[c]!);
      }
      return sum / (teacher.length / 10);
    };
    const before = await kl();
    const r = await trainQat(setup, { inputs: { image: train.images } }, { steps: 30, lr: 1e-3, batchSize: 32 });
    expect(r.loss).toBe('distillation-kl');
    const after = await kl();
    expect(after).toBeLessThan(0.8 * before);
  });

  it('cancel writes a checkpoint; the resumed run ends exactly where an uninterrupted run does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qat-resume-'));
    const opts = { steps: 8, lr: 1e-3, batchSize: 16, checkpointEvery: 3, learnScales: true, threads: 1 };
    const a = await prepare();
    await trainQat(a, { inputs: { image: train.images }, labels: train.labels }, opts);

    const b = await prepare();
    const path = join(dir, 'ck');
    const ac = new AbortController();
    const seen: number[] = [];
    await expect(trainQat(b, { inputs: { image: train.images }, labels: train.labels }, { ...opts, checkpointPath: path }, {
      signal: ac.signal, onProgress: (e) => { seen.push(e.metrics!.step!); if (e.metrics!.step === 5) ac.abort(); },
    })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(existsSync(path)).toBe(true);

    const c = await prepare(); // a fresh process would start from the FP32 model again
    const r = await trainQat(c, { inputs: { image: train.images }, labels: train.labels }, { ...opts, checkpointPath: path });
    expect(r.resumedFrom).toBe(5);
    expect(r.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const [name, w] of a.params) {
      const v = c.params.get(name)!;
      let d = 0;
      for (let i = 0; i < w.length; i++) d = Math.max(d, Math.abs(w[i]! - v[i]!));
      expect(d, name).toBeLessThan(1e-6);
    }
    for (const [src, q] of a.activations) expect(c.activations.get(src)!.scale).toBeCloseTo(q.scale, 6);
    // A checkpoint from another setting is refused, not silently mixed in.
    await expect(trainQat(await prepare(), { inputs: { image: train.images }, labels: train.labels }, { ...opts, steps: 9, checkpointPath: path }))
      .rejects.toMatchObject({ code: 'BAD_DATA' });
  });

  it('bad labels are refused with a message naming the shapes', async () => {
    const setup = await prepare();
    const labels = { dtype: 'int64' as const, shape: [10], data: new BigInt64Array(10) };
    await expect(trainQat(setup, { inputs: { image: train.images }, labels }, { steps: 1, lr: 1e-3, batchSize: 8 })).rejects.toThrow(/labels of shape \[10\]/);
  });

  it('runs from the quantize pipeline for { name: "qat" } and writes a model ORT loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qat-pipe-'));
    const out = join(dir, 'cnn-qat.onnx');
    const events: ProgressEvent[] = [];
    const report = await quantizeModel({
      modelPath: models.cnn, outputPath: out, evaluate: false,
      recipe: parseRecipe({ ...JSON.parse(JSON.stringify({ weights: recipe.weights, activations: recipe.activations })), calibration: { samples: 64, batchSize: 32 }, algorithms: [{ name: 'qat', steps: 4, lr: 1e-3, batchSize: 16, checkpointEvery: 2 }] }),
      inputs: { image: sliceSamples(train.images, 0, 256) }, labels: { ...train.labels, shape: [256], data: (train.labels.data as BigInt64Array).subarray(0, 256) },
      ctx: { onProgress: (e) => events.push(e) },
    });
    expect(report.metrics!.qatSteps).toBe(4);
    expect(events.filter((e) => e.stage === 'qat').length).toBe(4);
    expect(existsSync(out)).toBe(true);
    expect(existsSync(`${out}.qat-checkpoint`)).toBe(false);
    const s = await createSession(out, { device: 'cpu' });
    const y = await s.run({ image: toOrtTensor(sliceSamples(test.images, 0, 8)) });
    expect(y.logits!.dims).toEqual([8, 10]);
    await s.release();
  });
});
