// QAT benchmark: PTQ vs QAT on the shared models, with the time and steps each took.
//   npm run bench:qat                      # everything (CNN labels + distillation, GPT)
//   npm run bench:qat -- --only cnn        # cnn | distill | gpt
//   npm run bench:qat -- --steps 600 --lr 0.001 --gpt-steps 60
// CNN: int3 symmetric per-channel weights, uint4 asymmetric activations (MSE calibration, 512 images),
// QAT 600 steps of batch 64 on 8192 training images; top-1 on the 10k test set, both the fake-quant
// graph and the exported QDQ model run by ORT. GPT: int4 per-channel weight-only, perplexity on
// val.txt (first 128 windows of 256 bytes), distillation QAT on train.txt windows.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { loadModel, serializeModel } from '../engine/onnx/model-io';
import { parseRecipe, type Recipe } from '../engine/pipeline/recipe';
import { loadFashionMnist } from '../engine/data/fashion-mnist';
import { bytesToWindows } from '../engine/data/text-windows';
import type { NpyArray } from '../engine/data/npy';
import { createSession } from '../engine/runtime/session';
import { toOrtTensor, sliceSamples } from '../engine/runtime/batching';
import { prepareQat, trainQat, exportQat, qatPlan, loadable4BitActivations, FakeQuantEvaluator, countCorrect } from '../engine/qat/qat';
import { rewriteQdq } from '../engine/export/qdq-rewrite';
import { clone, ModelProtoSchema, type ModelProto } from '../engine/onnx/proto';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.QSTUDIO_SHARED ?? resolve(root, '..', 'shared');
const arg = (name: string, dflt: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1]! : dflt; };
const only = arg('only', 'all');
const steps = Number(arg('steps', '600'));
const lr = Number(arg('lr', '0.001'));
const threads = Number(arg('threads', '0')) || undefined;
const learnScales = arg('learn-scales', 'false') === 'true';
const log = (e: { message?: string; metrics?: Record<string, number> }) => { if (e.metrics && e.metrics.step! % 50 === 0) process.stderr.write(`    ${e.message}\n`); };

async function top1OfModel(model: ModelProto, images: NpyArray, labels: NpyArray): Promise<number> {
  const s = await createSession(serializeModel(model), { device: 'cpu', threads, source: 'exported QDQ model' });
  let correct = 0;
  const n = images.shape[0]!;
  for (let b = 0; b < n; b += 500) {
    const e = Math.min(n, b + 500);
    const out = await s.run({ [s.inputNames[0]!]: toOrtTensor(sliceSamples(images, b, e)) });
    correct += countCorrect(out[s.outputNames[0]!]!.data as Float32Array, labels, b, e);
  }
  await s.release();
  return correct / n;
}

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function cnn(): Promise<void> {
  const { model, baseDir } = await loadModel(resolve(shared, 'models/fmnist-cnn.onnx'));
  const train = loadFashionMnist(resolve(shared, 'data/fmnist'), 'train', 8192);
  const test = loadFashionMnist(resolve(shared, 'data/fmnist'), 'test');
  const recipe: Recipe = parseRecipe({
    weights: { dtype: 'int3', scheme: 'symmetric', granularity: 'channel' },
    activations: { dtype: 'uint4', scheme: 'asymmetric', calibration: { method: 'mse' } },
    calibration: { samples: 512, batchSize: 64 },
    algorithms: [{ name: 'qat', steps, lr, batchSize: 64, learnScales }],
  });
  const fp32 = await top1OfModel(model, test.images, test.labels);
  const calibration = { image: sliceSamples(train.images, 0, 512) };
  const t0 = performance.now();
  const setup = await prepareQat(model, { baseDir, recipe, calibration });
  const prepMs = performance.now() - t0;
  // PTQ baselines at the same setting: ptq's QDQ writer alone (min/max weight grid) and our
  // MSE-searched weight grid (the QAT starting point). Both with the same MSE activation ranges.
  const plain = clone(ModelProtoSchema, setup.model);
  const ranges = new Map([...setup.activations].map(([k, a]) => [k, { min: (a.qmin - a.zeroPoint) * a.scale, max: (a.qmax - a.zeroPoint) * a.scale }]));
  rewriteQdq(plain, qatPlan(plain, recipe), ranges, recipe, baseDir);
  loadable4BitActivations(plain, recipe);
  const ptqPlain = await top1OfModel(plain, test.images, test.labels);
  const ptqMse = await top1OfModel(exportQat(setup), test.images, test.labels);
  const bestPtq = Math.max(ptqPlain, ptqMse);
  console.log(`fmnist-cnn  W int3 sym per-channel / A uint4 asym MSE   (FP32 ${pct(fp32)})`);
  console.log(`  PTQ, min/max weight grid (QDQ writer)   top-1 ${pct(ptqPlain)}`);
  console.log(`  PTQ, MSE weight grid                    top-1 ${pct(ptqMse)}   (prepare ${secs(prepMs)})`);

  const runs: [string, boolean][] = [];
  if (only === 'all' || only === 'cnn') runs.push(['QAT, labels (cross-entropy)', true]);
  if (only === 'all' || only === 'distill') runs.push(['QAT, no labels (distillation)', false]);
  for (const [name, withLabels] of runs) {
    const s = await prepareQat(model, { baseDir, recipe, calibration });
    const t1 = performance.now();
    const c1 = process.cpuUsage();
    const r = await trainQat(s, { inputs: { image: train.images }, labels: withLabels ? train.labels : undefined }, { steps, lr, batchSize: 64, threads, weightDecay: 0, learnScales }, { onProgress: log });
    const trainMs = performance.now() - t1;
    const cpu = process.cpuUsage(c1);
    const ev = await FakeQuantEvaluator.open(s, 'cpu', threads);
    const sim = (await ev.evaluate({ image: test.images }, test.labels)).top1!;
    await ev.release();
    const exported = await top1OfModel(exportQat(s), test.images, test.labels);
    const first = r.history.slice(0, 10).reduce((a, h) => a + h.loss, 0) / Math.min(10, r.history.length);
    const last = r.history.slice(-10).reduce((a, h) => a + h.loss, 0) / Math.min(10, r.history.length);
    console.log(`  ${name.padEnd(38)}  top-1 ${pct(exported)} exported QDQ (fake-quant graph ${pct(sim)}), ${r.steps} steps x 64 in ${secs(trainMs)} wall (${secs((cpu.user + cpu.system) / 1000)} CPU, load ${loadavg()[0]!.toFixed(1)}), loss ${first.toFixed(3)} -> ${last.toFixed(3)}, ${(exported - bestPtq) * 100 >= 0 ? '+' : ''}${((exported - bestPtq) * 100).toFixed(2)} pt vs best PTQ`);
  }
}

function perplexityOf(logits: Float32Array, ids: BigInt64Array, T: number): { nll: number; count: number } {
  let nll = 0, count = 0;
  const V = 256;
  for (let t = 0; t + 1 < T; t++) {
    const o = t * V;
    let mx = -Infinity;
    for (let v = 0; v < V; v++) mx = Math.max(mx, logits[o + v]!);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v]! - mx);
    nll += Math.log(sum) + mx - logits[o + Number(ids[t + 1]!)]!;
    count++;
  }
  return { nll, count };
}

async function perplexity(model: ModelProto, windows: NpyArray): Promise<number> {
  const s = await createSession(serializeModel(model), { device: 'cpu', threads, source: 'GPT' });
  const [n, T] = windows.shape as [number, number];
  let nll = 0, count = 0;
  for (let b = 0; b < n; b += 8) {
    const e = Math.min(n, b + 8);
    const out = await s.run({ input_ids: toOrtTensor(sliceSamples(windows, b, e)) });
    const y = out[s.outputNames[0]!]!.data as Float32Array;
    for (let i = 0; i < e - b; i++) {
      const r = perplexityOf(y.subarray(i * T * 256, (i + 1) * T * 256), (windows.data as BigInt64Array).subarray((b + i) * T, (b + i + 1) * T), T);
      nll += r.nll; count += r.count;
    }
  }
  await s.release();
  return Math.exp(nll / count);
}

async function gpt(): Promise<void> {
  const gptSteps = Number(arg('gpt-steps', '60'));
  const gptLr = Number(arg('gpt-lr', '0.00005'));
  const { model, baseDir } = await loadModel(resolve(shared, 'models/moby-gpt.onnx'));
  const val = bytesToWindows(readFileSync(resolve(shared, 'data/text/val.txt')), 128, 256);
  const trainBytes = readFileSync(resolve(shared, 'data/text/train.txt'));
  const train = bytesToWindows(trainBytes, 512, 64);
  const recipe: Recipe = parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: 'channel' }, activations: null, opTypes: ['MatMul'], calibration: { samples: 32, batchSize: 8 } });
  const fp32 = await perplexity(model, val);
  const setup = await prepareQat(model, { baseDir, recipe, calibration: { input_ids: sliceSamples(train, 0, 32) } });
  const plain = clone(ModelProtoSchema, setup.model);
  rewriteQdq(plain, qatPlan(plain, recipe), new Map(), recipe, baseDir);
  const ptqPlain = await perplexity(plain, val);
  const ptqMse = await perplexity(exportQat(setup), val);
  console.log(`moby-gpt  int4 symmetric per-channel weight-only MatMul   (FP32 perplexity ${fp32.toFixed(3)})`);
  console.log(`  PTQ, min/max weight grid (QDQ writer)   perplexity ${ptqPlain.toFixed(3)}`);
  console.log(`  PTQ, MSE weight grid                    perplexity ${ptqMse.toFixed(3)}`);
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  const r = await trainQat(setup, { inputs: { input_ids: train } }, { steps: gptSteps, lr: gptLr, batchSize: 8, threads }, { onProgress: log });
  const ms = performance.now() - t1;
  const cpu = process.cpuUsage(c1);
  const q = await perplexity(exportQat(setup), val);
  console.log(`  QAT, distillation, ${gptSteps} steps x 8x64 tokens   perplexity ${q.toFixed(3)} exported QDQ, in ${secs(ms)} wall (${secs((cpu.user + cpu.system) / 1000)} CPU), KL ${r.history[0]!.loss.toFixed(4)} -> ${r.history[r.history.length - 1]!.loss.toFixed(4)}`);
}

if (only === 'all' || only === 'cnn' || only === 'distill') await cnn();
if (only === 'all' || only === 'gpt') await gpt();
