// GPTQ and AWQ hold one stage's floats at a time, not the model's: on a 1 B-parameter model the float
// copies they kept per weight were the size of the model again (docs/measurements/scale-2026-12-07.md).
// A small seeded LLaMA-style model written the way exporters write large ones (every tensor in one
// external data file, test/fixtures/llama-scale.ts), real onnxruntime sessions, real text bytes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ensureLlamaScaleModel, type LlamaScaleOptions } from '../../../fixtures/llama-scale';
import { loadModel, serializeModel, type LoadedModel } from '../../../../engine/onnx/model-io';
import { clone, ModelProtoSchema } from '../../../../engine/onnx/proto';
import { DataType, makeTensor, tensorDims } from '../../../../engine/onnx/tensor';
import { isExternal } from '../../../../engine/onnx/external-data';
import { parseRecipe } from '../../../../engine/pipeline/recipe';
import { quantizeWeightOnly } from '../../../../engine/pipeline/stages/weights-phase';
import { runGptq } from '../../../../engine/quant/algorithms/gptq';
import { runAwq } from '../../../../engine/quant/algorithms/awq';
import { calibrationBatches, weightOnlyConfig } from '../../../../engine/quant/algorithms/weight-only';
import { findLinearLayers, stageLayers, weightToStored } from '../../../../engine/quant/algorithms/linear-layers';
import { quadraticFormsOpen } from '../../../../engine/quant/algorithms/layer-error';
import { sharedPath } from '../../../helpers/shared';
import { ort, openSession } from '../../../helpers/ort';
import { relL2 } from '../../../helpers/compare';

const OPTIONS: LlamaScaleOptions = { vocab: 256, dim: 128, heads: 4, layers: 3, hidden: 352, maxSeq: 64, seed: 11 };
const T = 32;
const windows = (file: string, n: number, from = 0) => {
  const buf = readFileSync(sharedPath('data', 'text', file));
  return { dtype: 'int64' as const, shape: [n, T], data: BigInt64Array.from({ length: n * T }, (_, i) => BigInt(buf[from + i]!)) };
};
const cal = windows('train.txt', 16, 8192), val = windows('val.txt', 4);
const config = weightOnlyConfig({ dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } } as never);
const selection = { opTypes: ['MatMul' as const], exclude: [] };

let dir = '', loaded: LoadedModel;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qs-wo-stream-'));
  loaded = await loadModel(await ensureLlamaScaleModel(dir, OPTIONS));
}, 120_000);
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

/** The float copy is not stored: `dequantized` is a getter rebuilding it from the codes. */
const holdsNoFloatCopy = (qw: object) => typeof Object.getOwnPropertyDescriptor(qw, 'dequantized')?.get === 'function';

async function logits(model: Uint8Array): Promise<Float32Array> {
  const s = await openSession(model, { threads: 2, baseDir: dir } as never);
  const r = await s.run({ input_ids: new ort.Tensor('int64', val.data, val.shape) });
  await s.release();
  return r.logits!.data as Float32Array;
}

describe('weight-only algorithms stream a model with external data', () => {
  it('GPTQ lets each stage\'s quantized float copy go after the pass that runs it, and its results keep no float copy', async () => {
    const model = loaded.model;
    const layers = findLinearLayers(model, selection);
    const stages = stageLayers(model, layers);
    expect(stages.length).toBeGreaterThan(6);
    // The overrides map is the capture passes' view of the rounded stages: count the floats it holds.
    let held = 0, peakHeld = 0;
    class Counted extends Map<string, Float32Array> {
      override set(k: string, v: Float32Array) { if (this.has(k)) held -= this.get(k)!.length; held += v.length; peakHeld = Math.max(peakHeld, held); return super.set(k, v); }
      override delete(k: string) { if (this.has(k)) held -= this.get(k)!.length; return super.delete(k); }
    }
    const r = await runGptq({ model, baseDir: loaded.baseDir, layers, config, params: { damp: 0.01, actOrder: false, blockSize: 128 }, batches: calibrationBatches({ input_ids: cal }, 8), overrides: new Counted() });
    expect(r.results.length).toBe(layers.length);
    const size = (ls: typeof layers) => ls.reduce((a, l) => a + l.rows * l.cols, 0);
    const total = size(layers);
    // At most two neighbouring stages at once (a stage is let go once the next pass has run it);
    // keeping every rounded stage, as before, holds all of them.
    const twoStages = Math.max(...stages.map((s, i) => size(s) + (i > 0 ? size(stages[i - 1]!) : 0)));
    expect(peakHeld).toBeGreaterThan(0);
    expect(peakHeld).toBeLessThanOrEqual(twoStages);
    expect(peakHeld).toBeLessThan(total / 2);
    expect(r.results.every((x) => holdsNoFloatCopy(x.qw))).toBe(true);
    // The error measures' session (its arena holds the largest layer's buffers) is closed at the end.
    expect(quadraticFormsOpen()).toBe(false);
    // The rebuilt copy is the rounded weight: codes × scales, and GPTQ still beats rounding to nearest.
    const x = r.results[0]!;
    const gs = config.groupSize, nG = x.layer.cols / gs;
    expect(x.qw.dequantized[5]).toBeCloseTo((x.qw.q[5]! - x.qw.zeroPoints[Math.floor(5 / gs)]!) * x.qw.scales[Math.floor(5 / gs)]!, 6);
    expect(nG).toBeGreaterThan(1);
    const better = r.results.filter((y) => y.errors[0]!.outputErrorAfter! < y.errors[0]!.outputErrorBefore!).length;
    expect(better / r.results.length).toBeGreaterThan(0.9);
  }, 300_000);

  it('AWQ rounds each group as it scales it: the model keeps its weights external (the exporter replaces them), the results carry the scales, and the export matches Q(W·s)/s', async () => {
    const model = clone(ModelProtoSchema, loaded.model);
    const layers = findLinearLayers(model, selection);
    const r = await runAwq({ model, baseDir: loaded.baseDir, selection, config, params: { gridSize: 10, clip: true }, batches: calibrationBatches({ input_ids: cal }, 8), quantize: true });
    expect(r.results.length).toBe(layers.length);
    const scaledLayers = r.results.filter((x) => x.inputScale);
    expect(scaledLayers.length).toBeGreaterThan(0);
    expect(r.scaled.some((s) => s.alpha > 0 && s.absorber.startsWith('Mul'))).toBe(true);
    // Scaled float weights written into the model inline were the model again in memory (3.8 GB on the
    // 1 B fixture): every layer weight still points into the data file.
    for (const l of layers) expect(isExternal(model.graph!.initializer.find((t) => t.name === l.weight)!)).toBe(true);
    expect(r.results.every((x) => holdsNoFloatCopy(x.qw))).toBe(true);
    expect(quadraticFormsOpen()).toBe(false);

    // Through the weights phase and the MatMulNBits writer (float compute): the output equals the float
    // model whose weights are the effective Q(W·s)/s with its norms as they were.
    const recipe = parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, algorithms: [{ name: 'awq', gridSize: 10 }], opTypes: ['MatMul'], format: 'matmulnbits', prefill: 'matmulnbits', calibration: { samples: 16, batchSize: 8 } });
    const wo = await quantizeWeightOnly({ model: loaded.model, baseDir: loaded.baseDir, recipe, inputs: { input_ids: cal }, accuracyLevel: 0 });
    const ref = clone(ModelProtoSchema, loaded.model);
    for (const x of wo.results) {
      const { rows, cols } = x.layer, s = x.inputScale;
      const eff = Float32Array.from(x.qw.dequantized, (v, i) => (s ? v / s[i % cols]! : v));
      const at = ref.graph!.initializer.findIndex((t) => t.name === x.layer.weight);
      ref.graph!.initializer[at] = makeTensor(x.layer.weight, DataType.FLOAT, tensorDims(ref.graph!.initializer[at]!), weightToStored(x.layer, eff));
      expect(rows * cols).toBe(eff.length);
    }
    const FLOAT_ROUNDING = 1e-4;
    const [exported, dequantizedRef, fp32] = [await logits(serializeModel(wo.model)), await logits(serializeModel(ref)), await logits(serializeModel(loaded.model))];
    expect(relL2(exported, dequantizedRef)).toBeLessThan(FLOAT_ROUNDING);
    // …and int4 AWQ stays near the float model (seeded weights: a loose bound, far from a broken fold).
    expect(relL2(exported, fp32)).toBeLessThan(0.3);
  }, 300_000);
});
