// `qstudio inspect` on models as shipped: float16 layers counted as quantizable (they are), already-
// quantized models and bfloat16 layers said so, layers inside If counted as the export quantizes them.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { loadModel, saveModel } from '../../../engine/onnx/model-io';
import { DataType } from '../../../engine/onnx/tensor';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { models, repoRoot, sharedPath } from '../../helpers/shared';
import { cachedVariant, convertToFloat16 } from '../../fixtures/model-variants';
import { ifModel } from '../../fixtures/control-flow';

const bin = join(repoRoot, 'bin', 'qstudio.mjs');
const inspect = (path: string) => spawnSync(process.execPath, [bin, 'inspect', path], { encoding: 'utf8', cwd: repoRoot, timeout: 120_000 });
const dir = mkdtempSync(join(tmpdir(), 'qs-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fp16: string, quantized: string, bf16: string, withIf: string;

beforeAll(async () => {
  fp16 = await cachedVariant('fmnist-cnn-fp16.onnx', models.cnn, (m) => convertToFloat16(m));
  quantized = join(dir, 'cnn-int8.onnx');
  await quantizeModel({ modelPath: models.cnn, outputPath: quantized, recipe: parseRecipe({}), inputs: { image: loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 32).images }, evaluate: false });
  const { model } = await loadModel(models.cnn);
  convertToFloat16(model, { type: DataType.BFLOAT16 });
  bf16 = join(dir, 'cnn-bf16.onnx');
  await saveModel(model, bf16);
  withIf = join(dir, 'if-model.onnx');
  await saveModel(ifModel(), withIf);
});

describe('qstudio inspect', () => {
  it('float16: the 6 layers are quantizable, in float16', () => {
    const r = inspect(fp16);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/quantizable with the default recipe: 6 node\(s\) \(float16\); left in float: 0/);
  });

  it('an already-quantized model says so', () => {
    expect(inspect(quantized).stdout).toMatch(/already quantized: \d+ DequantizeLinear, \d+ QuantizeLinear/);
  });

  it('bfloat16 layers are not counted as quantizable, with the reason', () => {
    const r = inspect(bf16);
    expect(r.stdout).toMatch(/quantizable with the default recipe: 0 node\(s\)/);
    expect(r.stdout).toMatch(/not quantizable: 6 node\(s\): bfloat16 activations/);
  });

  it('layers inside an If are counted (the int4 and int8 exports quantize all 6)', () => {
    expect(inspect(withIf).stdout).toMatch(/quantizable with the default recipe: 6 node\(s\)/);
  });
});
