// `qstudio eval --ref` and `qstudio analyze` on a model that keeps its weights in external data, run
// from a working directory holding a *different* file of the same name: both commands build sessions
// from bytes, and each model must read its own folder's data (the cwd's file would load and give
// wrong figures; no folder at all used to end in BAD_MODEL).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from '../../../engine/data/npy';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { loadModel, saveModel } from '../../../engine/onnx/model-io';
import { seededRandom } from '../../../engine/util/seeded-random';
import { models, repoRoot, sharedPath } from '../../helpers/shared';

const bin = join(repoRoot, 'bin', 'qstudio.mjs');
let modelDir = '', decoyDir = '', ext = '';
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: decoyDir, timeout: 240_000 });

beforeAll(async () => {
  modelDir = mkdtempSync(join(tmpdir(), 'qcli-ext-model-'));
  decoyDir = mkdtempSync(join(tmpdir(), 'qcli-ext-cwd-'));
  ext = join(modelDir, 'cnn.onnx');
  await saveModel((await loadModel(models.cnn)).model, ext, { externalData: { location: 'weights.bin', thresholdBytes: 256 } });
  const rnd = seededRandom(11);
  writeFileSync(join(decoyDir, 'weights.bin'), new Uint8Array(new Float32Array(statSync(join(modelDir, 'weights.bin')).size / 4).map(() => rnd() * 2 - 1).buffer));
  const test = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 64);
  await writeNpy(join(modelDir, 'images.npy'), test.images);
  await writeNpy(join(modelDir, 'labels.npy'), test.labels);
  writeFileSync(join(modelDir, 'recipe.json'), '{}');
});
afterAll(() => { for (const d of [modelDir, decoyDir]) rmSync(d, { recursive: true, force: true }); });

describe('CLI commands on a model with external data, run from another folder', () => {
  it('eval --ref: the reference and the evaluated model each read their own folder', () => {
    const data = ['--data', `image=${join(modelDir, 'images.npy')}`];
    // Same weights on both sides (one inline, one external): identical outputs only if the external
    // model read its own weights.bin, whichever side it is on.
    const asRef = run(['eval', models.cnn, ...data, '--ref', ext]);
    expect(asRef.stderr).toBe('');
    expect(asRef.stdout).toMatch(/output SQNR Infinity dB, top-1 agreement 100\.00 %/);
    const asModel = run(['eval', ext, ...data, '--labels', join(modelDir, 'labels.npy'), '--ref', models.cnn]);
    expect(asModel.stderr).toBe('');
    expect(asModel.stdout).toMatch(/output SQNR Infinity dB, top-1 agreement 100\.00 %/);
    expect(Number(/top-1: ([\d.]+) %/.exec(asModel.stdout)![1])).toBeGreaterThan(85);
  }, 240_000);

  it('analyze: calibration, the FP32 reference and the variants use the model\'s own weights', () => {
    const r = run(['analyze', ext, '--recipe', join(modelDir, 'recipe.json'), '--data', `image=${join(modelDir, 'images.npy')}`, '--labels', join(modelDir, 'labels.npy'), '-q', '--top', '3']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const m = /All quantized: output ([\d.]+) dB, top-1 ([\d.]+) % \(FP32: top-1 ([\d.]+) %\)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    // The decoy's random weights would put FP32 near chance (10 %) and the output SQNR near 0 dB.
    expect(Number(m![3])).toBeGreaterThan(80);
    expect(Number(m![1])).toBeGreaterThan(20);
  }, 240_000);
});
