// Sensitivity analysis on the real Fashion-MNIST CNN: calibrated once, every unit's two variants as
// independent tasks, in-process and in the worker pool alike; a layer made fragile on purpose ranks first.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, saveModel } from '../../../engine/onnx/model-io';
import { tensorToFloat32, makeTensor } from '../../../engine/onnx/tensor';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { readTextWindows } from '../../../engine/data/text-windows';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { prepareAnalysis, allQuantized } from '../../../engine/analysis/prepare';
import { sensitivityFromPrepared, unitTasks } from '../../../engine/analysis/sensitivity';
import { runVariant } from '../../../engine/analysis/variant-task';
import { runVariantTasks, VariantPool } from '../../../engine/analysis/pool';
import { models, sharedPath } from '../../helpers/shared';

describe('sensitivity analysis', () => {
  let dir = '';
  const { images, labels } = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 160);
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'qsens-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('every quantized node and activation tensor: only-quantized, only-float and cumulative; tasks are pure and pool-independent', async () => {
    const recipe = parseRecipe({ calibration: { samples: 64, batchSize: 32 } });
    const p = await prepareAnalysis({ modelPath: models.cnn, recipe, inputs: { image: images }, labels });
    expect(p.evaluation).toMatchObject({ source: 'held-out', samples: 32, calibrationSamples: 128 });
    const weights = p.units.filter((u) => u.kind === 'weight');
    expect(weights.map((u) => u.name).sort()).toEqual(['/0/0.0/Conv', '/1/1.0/Conv', '/3/3.0/Conv', '/4/4.0/Conv', '/6/6.0/Conv', '/9/Gemm']);
    expect(p.units.some((u) => u.kind === 'activation' && u.name === 'image')).toBe(true);
    const r = await sensitivityFromPrepared(p, { metric: 'sqnr', concurrency: 1 });
    expect(r.entries).toHaveLength(p.units.length);
    for (const e of r.entries) {
      expect(Number.isFinite(e.onlyQuantized.sqnrDb)).toBe(true);
      expect(e.onlyQuantized.sqnrDb).toBeGreaterThan(r.allQuantized.sqnrDb); // one unit alone errs less than all
      expect(e.onlyQuantized.top1).toBeGreaterThan(0.8);
      if (e.kind === 'weight') expect(e.cumulativeSqnrDb).toBeGreaterThan(20);
    }
    // Worst first by isolated output SQNR.
    for (let i = 1; i < r.entries.length; i++) expect(r.entries[i]!.onlyQuantized.sqnrDb).toBeGreaterThanOrEqual(r.entries[i - 1]!.onlyQuantized.sqnrDb);
    // A task is a pure function of (shared, task): in this thread and in two worker threads alike.
    const u = weights[0]!;
    const tasks = [...unitTasks(p, u), { id: 'all', ...allQuantized(p) }];
    const here = await Promise.all(tasks.map((t) => runVariant(p.shared, t)));
    const pooled = await runVariantTasks(p.shared, tasks, { concurrency: 2 });
    expect(pooled.map((x) => x.scores.sqnrDb)).toEqual(here.map((x) => x.scores.sqnrDb));
    expect(here[2]!.scores.sqnrDb).toBeCloseTo(r.allQuantized.sqnrDb, 6);
    // Where worker threads cannot start (a bundle without the TS worker entry), the pool runs the same tasks here.
    const broken = new VariantPool(p.shared, 2, { shim: join(dir, 'no-such-shim.mjs'), target: 'file:///no-such-worker.ts' });
    const fallback = await broken.run(tasks);
    await broken.close();
    expect(broken.inProcess).toBe(true);
    expect(fallback.map((x) => x.scores.sqnrDb)).toEqual(here.map((x) => x.scores.sqnrDb));
    // A task may score a prefix of the evaluation data (the mixed-precision ranking does): whole batches.
    const part = await runVariant(p.shared, { ...tasks[2]!, samples: 1 });
    expect(part.scores.samples).toBe(p.shared.batchSize);
    expect(p.shared.batchSize).toBeLessThan(p.shared.samples);
  }, 120_000);

  it('weight-only int4 on the GPT: every MatMul with a weight (q/k/v included) is a unit; variants substitute the rounded weights', async () => {
    const recipe = parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, format: 'matmulnbits' });
    const ids = readTextWindows(sharedPath('data', 'text', 'val.txt'), 6, 64);
    const p = await prepareAnalysis({ modelPath: models.gpt, recipe, inputs: { input_ids: ids } });
    expect(p.shared.mode).toBe('weight-only');
    expect(p.units).toHaveLength(37);
    expect(p.units.map((u) => u.name)).toContain('/blocks.0/q/MatMul');
    const units = p.units.filter((u) => u.name === '/head/MatMul' || u.name === '/blocks.0/q/MatMul');
    const r = await sensitivityFromPrepared(p, { units, metric: 'perplexity', concurrency: 1, cumulative: false });
    expect(r.fp32.perplexity).toBeGreaterThan(1);
    for (const e of r.entries) {
      // Only one int4 layer moves perplexity less than all of them; all-but-one float is between.
      expect(e.onlyQuantized.perplexity!).toBeLessThan(r.allQuantized.perplexity!);
      expect(e.onlyQuantized.sqnrDb).toBeGreaterThan(r.allQuantized.sqnrDb);
      expect(e.onlyFloat.sqnrDb).toBeGreaterThanOrEqual(r.allQuantized.sqnrDb - 0.5);
    }
  }, 180_000);

  it('a layer with one huge outlier weight under per-tensor scales ranks first, and leaving it float repairs the output', async () => {
    const { model } = await loadModel(models.cnn);
    const conv = model.graph!.node.find((n) => n.name === '/3/3.0/Conv')!;
    const w = model.graph!.initializer.findIndex((t) => t.name === conv.input[1]);
    const data = tensorToFloat32(model.graph!.initializer[w]!);
    data[0] = 200 * Math.max(...data.map(Math.abs)); // one weight dominates the per-tensor scale
    model.graph!.initializer[w] = makeTensor(conv.input[1]!, 1, model.graph!.initializer[w]!.dims.map(Number), data);
    const path = join(dir, 'outlier.onnx');
    await saveModel(model, path);
    const recipe = parseRecipe({ weights: { dtype: 'int8', scheme: 'symmetric', granularity: 'tensor' }, calibration: { samples: 64, batchSize: 32 } });
    const p = await prepareAnalysis({ modelPath: path, recipe, inputs: { image: images } });
    const r = await sensitivityFromPrepared(p, { concurrency: 2, cumulative: false });
    expect(r.entries[0]!.name).toBe('/3/3.0/Conv');
    // Leaving it in float helps more than leaving any other unit in float.
    expect(r.entries[0]!.onlyFloat.sqnrDb).toBeGreaterThan(r.allQuantized.sqnrDb + 3);
    expect(r.entries[0]!.onlyFloat.sqnrDb).toBe(Math.max(...r.entries.map((e) => e.onlyFloat.sqnrDb)));
    expect(r.timing.workers).toBe(2);
  }, 120_000);
});
