// The qstudio CLI as outside checks run it: the real bin, real files.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from '../../../engine/data/npy';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { createSession, ort } from '../../../engine/runtime/session';
import { models, repoRoot, sharedPath } from '../../helpers/shared';
import { loadModel, saveModel } from '../../../engine/onnx/model-io';

const bin = join(repoRoot, 'bin', 'qstudio.mjs');
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: repoRoot, timeout: 120_000 });

describe('qstudio CLI', () => {
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qcli-'));
    const { images, labels } = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 128);
    await writeNpy(join(dir, 'cal.npy'), images);
    await writeNpy(join(dir, 'labels.npy'), labels);
    await writeNpy(join(dir, 'ids.npy'), { dtype: 'int64', shape: [2, 8], data: new BigInt64Array(16) });
    writeFileSync(join(dir, 'recipe.json'), JSON.stringify({ calibration: { samples: 128, batchSize: 32 } }));
    writeFileSync(join(dir, 'badkey.json'), JSON.stringify({ activations: { dtype: 'uint8', method: 'minmax' } }));
    writeFileSync(join(dir, 'badop.json'), JSON.stringify({ opTypes: ['Conv', 'LSTM'] }));
    writeFileSync(join(dir, 'notjson.json'), '{ "weights": ');
    writeFileSync(join(dir, 'corrupt.onnx'), readFileSync(models.cnn).subarray(0, 5000));
    const odd = (await loadModel(models.cnn)).model;
    odd.graph!.node.find((n) => n.name === '/3/3.2/Relu')!.opType = 'MishActivation';
    await saveModel(odd, join(dir, 'unsupported.onnx'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--help names the quantize contract', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('qstudio quantize MODEL.onnx -o OUT.onnx --recipe RECIPE.json [--data INPUT=FILE.npy ...] [--labels FILE.npy]');
  });

  it('quantizes the CNN: exit 0, a model ORT runs with the same inputs/outputs, progress on stderr, summary', async () => {
    const out = join(dir, 'q.onnx');
    const r = run(['quantize', models.cnn, '-o', out, '--recipe', join(dir, 'recipe.json'), '--data', `image=${join(dir, 'cal.npy')}`, '--labels', join(dir, 'labels.npy')]);
    expect(r.stderr).toMatch(/calibrat/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Quantized 6 node\(s\)/);
    expect(r.stdout).toMatch(/Per-layer error/);
    const [, fp, q] = /Metrics on \d+ held-out samples of --data[^:]*: top1Fp32 (\d+(?:\.\d+)?), top1Quantized (\d+(?:\.\d+)?)/.exec(r.stdout) ?? [];
    expect(Number(fp)).toBeGreaterThan(0.85);
    expect(Math.abs(Number(fp) - Number(q))).toBeLessThan(0.02);
    expect(r.stdout).toMatch(/\/4\/4\.0\/Conv\s+Conv\s+SQNR\s+\d+\.\d dB/);
    const s = await createSession(out, { device: 'cpu' });
    expect(s.inputNames).toEqual(['image']);
    expect(s.outputNames).toEqual(['logits']);
    const y = await s.run({ image: new ort.Tensor('float32', new Float32Array(3 * 784), [3, 1, 28, 28]) });
    expect(y.logits!.dims).toEqual([3, 10]);
    await s.release();
  });

  it('eval and inspect: top-1, agreement and latency against the FP32 model; what would be quantized', () => {
    const out = join(dir, 'q.onnx');
    const r = run(['eval', out, '--data', `image=${join(dir, 'cal.npy')}`, '--labels', join(dir, 'labels.npy'), '--ref', models.cnn, '--batch', '16']);
    expect(r.status).toBe(0);
    const top1 = Number(/top-1: ([\d.]+) %/.exec(r.stdout)?.[1]);
    expect(top1).toBeGreaterThan(85);
    expect(r.stdout).toMatch(/top-1 agreement \d+\.\d+ %, latency ratio \d\.\d{3}/);
    const i = run(['inspect', models.cnn]);
    expect(i.status).toBe(0);
    expect(i.stdout).toMatch(/input\s+image: float32 \[batch, 1, 28, 28\]/);
    expect(i.stdout).toMatch(/quantizable with the default recipe: 6 node\(s\)/);
  });

  const bad: [string, string[], RegExp][] = [
    ['missing model', ['quantize', 'nope.onnx', '--data', 'image=CAL'], /nope\.onnx.*does not exist/],
    ['corrupt model', ['quantize', 'DIR/corrupt.onnx', '--data', 'image=CAL'], /corrupt\.onnx.*not a valid ONNX model/],
    ['unsupported op in the model', ['quantize', 'DIR/unsupported.onnx', '--data', 'image=CAL'], /unsupported\.onnx.*MishActivation/],
    ['unknown recipe key', ['quantize', 'CNN', '--recipe', 'DIR/badkey.json', '--data', 'image=CAL'], /badkey\.json.*unknown key '"method"'/],
    ['unsupported op in opTypes', ['quantize', 'CNN', '--recipe', 'DIR/badop.json', '--data', 'image=CAL'], /badop\.json.*'"LSTM"'/],
    ['recipe not JSON', ['quantize', 'CNN', '--recipe', 'DIR/notjson.json', '--data', 'image=CAL'], /notjson\.json.*not valid JSON/],
    ['wrong dtype', ['quantize', 'CNN', '--data', 'image=DIR/ids.npy'], /ids\.npy.*int64.*expects float32/],
    ['unknown input', ['quantize', 'CNN', '--data', 'pixels=CAL'], /'"pixels"'.*no such input/],
    ['labels of the wrong type', ['quantize', 'CNN', '--data', 'image=CAL', '--labels', 'CAL'], /Labels file.*int64 \[N\]/],
  ];
  for (const [what, args, msg] of bad) {
    it(`bad input: ${what} -> clear message, non-zero exit, no output file`, () => {
      const out = join(dir, `out-${what.replace(/\W+/g, '-')}.onnx`);
      const a = args.map((x) => x.replace('DIR', dir).replace('CAL', join(dir, 'cal.npy')).replace(/^CNN$/, models.cnn));
      const r = run([...a.slice(0, 2), '-o', out, ...a.slice(2)]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/error \[[A-Z_]+\]/);
      expect(r.stderr).toMatch(msg);
      expect(existsSync(out)).toBe(false);
    });
  }
});
