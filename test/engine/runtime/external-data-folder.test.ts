// External data is read beside the model, never from the working directory: sessions made from bytes
// name the model's folder (or fail clearly), whole quantization runs inherit it, and an output that
// keeps tensors external is saved beside its own data file and checked from its path.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, statSync, existsSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, saveModel, serializeModel } from '../../../engine/onnx/model-io';
import { hasExternalData } from '../../../engine/onnx/external-data';
import { createSession, withModelFolder, ort } from '../../../engine/runtime/session';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { top1Accuracy } from '../../../engine/eval/task-metrics';
import { seededRandom } from '../../../engine/util/seeded-random';
import { models, sharedPath } from '../../helpers/shared';

const argmax = (a: Float32Array) => a.indexOf(Math.max(...a));
const made: string[] = [];
const tmp = (p: string) => { const d = mkdtempSync(join(tmpdir(), p)); made.push(d); return d; };
const cwd = process.cwd();
afterAll(() => { process.chdir(cwd); for (const d of made) rmSync(d, { recursive: true, force: true }); });

const test = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 256);
const train = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 64);
let modelDir: string, decoyDir: string, modelPath: string, reference: Float32Array;
const logits = async (src: string | Uint8Array, o: { baseDir?: string } = {}) => {
  const s = await createSession(src, { device: 'cpu', ...o });
  try { return (await s.run({ image: new ort.Tensor('float32', test.images.data.subarray(0, 8 * 784) as Float32Array, [8, 1, 28, 28]) })).logits!.data as Float32Array; } finally { await s.release(); }
};

beforeAll(async () => {
  modelDir = tmp('qs-extdir-model-');
  decoyDir = tmp('qs-extdir-cwd-');
  modelPath = join(modelDir, 'cnn.onnx');
  await saveModel((await loadModel(models.cnn)).model, modelPath, { externalData: { location: 'weights.bin', thresholdBytes: 256 } });
  // The working directory holds a different file of the same name and size: wrong weights that load.
  const size = statSync(join(modelDir, 'weights.bin')).size;
  const rnd = seededRandom(7);
  const decoy = new Float32Array(size / 4).map(() => rnd() * 2 - 1);
  writeFileSync(join(decoyDir, 'weights.bin'), new Uint8Array(decoy.buffer));
  reference = await logits(models.cnn);
  process.chdir(decoyDir);
});

describe('external data folder', () => {
  it('a session from bytes reads the model folder it is given, not the cwd', async () => {
    const bytes = new Uint8Array(readFileSync(modelPath));
    expect(Array.from(await logits(bytes, { baseDir: modelDir }))).toEqual(Array.from(reference));
    expect(Array.from(await withModelFolder(modelDir, () => logits(bytes)))).toEqual(Array.from(reference));
    expect(Array.from(await logits(modelPath))).toEqual(Array.from(reference));
  });

  it('bytes with no folder fail clearly instead of reading the cwd\'s same-named file', async () => {
    const bytes = new Uint8Array(readFileSync(modelPath));
    await expect(logits(bytes)).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringMatching(/external data.*no folder/) });
  });

  it('a whole quantization run from another cwd uses the model\'s own weights', async () => {
    const outDir = tmp('qs-extdir-out-');
    const out = join(outDir, 'cnn-int8.onnx');
    const report = await quantizeModel({ modelPath, outputPath: out, recipe: parseRecipe({}), inputs: { image: train.images } });
    expect(report.outputAgreement!.top1Agreement).toBeGreaterThan(0.95);
    expect(report.outputAgreement!.sqnrDb).toBeGreaterThan(15);
    const s = await createSession(out, { device: 'cpu' });
    expect(await top1Accuracy(s, { image: test.images }, test.labels)).toBeGreaterThan(0.85);
    await s.release();
  });

  it('float tensors that stay external are saved beside the output and checked from its path', async () => {
    const outDir = tmp('qs-extdir-out-');
    const out = join(outDir, 'cnn-gemm-only.onnx');
    // Only the Gemm is quantized: the Conv weights stay float, in the source's external file.
    const report = await quantizeModel({ modelPath, outputPath: out, recipe: parseRecipe({ opTypes: ['Gemm'] }), inputs: { image: train.images } });
    expect(report.quantized.map((q) => q.opType)).toEqual(['Gemm']);
    const saved = await loadModel(out);
    expect(hasExternalData(saved.model)).toBe(true);
    expect(existsSync(`${out}.data`)).toBe(true);
    expect(report.sizeBytes.quantized).toBe(statSync(out).size + statSync(`${out}.data`).size);
    expect(report.outputAgreement!.top1Agreement).toBeGreaterThan(0.95);
    // The saved pair no longer depends on the source folder.
    renameSync(join(modelDir, 'weights.bin'), join(modelDir, 'weights.bin.aside'));
    try {
      const q = await logits(serializeModel(saved.model), { baseDir: outDir });
      let agree = 0;
      for (let r = 0; r < 8; r++) if (argmax(q.subarray(r * 10, r * 10 + 10)) === argmax(reference.subarray(r * 10, r * 10 + 10))) agree++;
      expect(agree).toBeGreaterThanOrEqual(7);
    } finally { renameSync(join(modelDir, 'weights.bin.aside'), join(modelDir, 'weights.bin')); }
  });
});
