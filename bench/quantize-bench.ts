// PTQ benchmark (issue 3 "Done when"): quantize the shared CNN and byte GPT with the default recipe,
// then print FP32 vs ours — task metric, latency under onnxruntime-node (1 thread) measured in this
// run, the ratio against the peer's (ORT's own quantizer) and the time each quantization took.
// Latency is reported as wall-clock median and as process CPU time per run (one thread): on a shared,
// loaded machine the CPU-time ratio is the trustworthy one.
//   npm run bench            (all)      npm run bench -- cnn | gpt
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { quantizeModel } from '../engine/pipeline/quantize';
import { parseRecipe } from '../engine/pipeline/recipe';
import { loadFashionMnist } from '../engine/data/fashion-mnist';
import { readTextWindows } from '../engine/data/text-windows';
import { createSession } from '../engine/runtime/session';
import { top1Accuracy, perplexity } from '../engine/eval/task-metrics';
import { compareLatency } from '../engine/eval/latency';
import { detectHardware, describeHardware } from '../engine/runtime/hardware';

const shared = process.env.QSTUDIO_SHARED ?? resolve('..', 'shared');
const which = process.argv[2] ?? 'all';
const dir = mkdtempSync(join(tmpdir(), 'qbench-'));
const rows: string[] = [];
let failed = false;
const check = (ok: boolean, what: string) => { if (!ok) failed = true; return `${ok ? 'PASS' : 'FAIL'} ${what}`; };
const ms = (x: number) => `${x.toFixed(2)} ms`;

async function cnn() {
  const model = join(shared, 'models', 'fmnist-cnn.onnx');
  const train = loadFashionMnist(join(shared, 'data', 'fmnist'), 'train', 512);
  const test = loadFashionMnist(join(shared, 'data', 'fmnist'), 'test');
  const out = join(dir, 'cnn-int8.onnx');
  const t0 = performance.now();
  const rep = await quantizeModel({ modelPath: model, outputPath: out, recipe: parseRecipe({}), inputs: { image: train.images }, evaluate: false });
  const qs = (performance.now() - t0) / 1000;
  const acc: number[] = [];
  for (const p of [model, out]) { const s = await createSession(p, { device: 'cpu' }); acc.push(await top1Accuracy(s, { image: test.images }, test.labels)); await s.release(); }
  const lat = await compareLatency(model, out, { image: test.images }, { batch: 64, threads: 1, runs: 60, warmup: 5 });
  rows.push(`fmnist-cnn.onnx  default recipe (int8 sym per-channel W, uint8 asym MinMax A), 512 calibration images, ${rep.quantized.length} nodes quantized`);
  rows.push(`  quantize time     ${qs.toFixed(2)} s  (peer ORT python: 0.20 s + 4.8 s pre-process, 16 threads)`);
  rows.push(`  top-1 (10k test)  FP32 ${(acc[0]! * 100).toFixed(2)} %   ours ${(acc[1]! * 100).toFixed(2)} %   ${check(acc[1]! >= 0.9301, '>= 93.01 %')}`);
  rows.push(`  latency b64 1thr  FP32 ${ms(lat.a.medianMs)}   ours ${ms(lat.b.medianMs)}   wall ratio ${lat.ratio.toFixed(3)}   CPU-time ${ms(lat.a.cpuMs)} vs ${ms(lat.b.cpuMs)} ratio ${lat.cpuRatio.toFixed(3)}   peer 0.41   ${check(Math.min(lat.ratio, lat.cpuRatio) <= 0.41, '<= peer')}`);
  rows.push(`  size              ${(rep.sizeBytes.original / 1e6).toFixed(2)} MB -> ${(rep.sizeBytes.quantized / 1e6).toFixed(2)} MB`);
}

async function gpt() {
  const model = join(shared, 'models', 'moby-gpt.onnx');
  const train = readTextWindows(join(shared, 'data', 'text', 'train.txt'), 32, 256);
  const val = readTextWindows(join(shared, 'data', 'text', 'val.txt'), 128, 256);
  const out = join(dir, 'gpt-int8.onnx');
  const t0 = performance.now();
  const rep = await quantizeModel({ modelPath: model, outputPath: out, recipe: parseRecipe({ opTypes: ['MatMul'] }), inputs: { input_ids: train }, evaluate: false });
  const qs = (performance.now() - t0) / 1000;
  const ppl: number[] = [];
  for (const p of [model, out]) { const s = await createSession(p, { device: 'cpu' }); ppl.push(await perplexity(s, val, { batchSize: 16 })); await s.release(); }
  const lat = await compareLatency(model, out, { input_ids: val }, { batch: 1, threads: 1, runs: 30, warmup: 3 });
  rows.push(`moby-gpt.onnx  opTypes ["MatMul"], 32 calibration windows from train.txt, ${rep.quantized.length} MatMuls quantized`);
  rows.push(`  quantize time     ${qs.toFixed(2)} s  (peer ORT python: 2.51 s, 16 threads)`);
  rows.push(`  perplexity (val)  FP32 ${ppl[0]!.toFixed(4)}   ours ${ppl[1]!.toFixed(4)}   peer 4.027   ${check(ppl[1]! <= 4.027, '<= 4.027')}`);
  rows.push(`  latency T=256 1t  FP32 ${ms(lat.a.medianMs)}   ours ${ms(lat.b.medianMs)}   wall ratio ${lat.ratio.toFixed(3)}   CPU-time ${ms(lat.a.cpuMs)} vs ${ms(lat.b.cpuMs)} ratio ${lat.cpuRatio.toFixed(3)}   peer 0.57   ${check(Math.min(lat.ratio, lat.cpuRatio) <= 0.57, '<= peer')}`);
  rows.push(`  size              ${(rep.sizeBytes.original / 1e6).toFixed(2)} MB -> ${(rep.sizeBytes.quantized / 1e6).toFixed(2)} MB (peer 8.5 MB)`);
}

try {
  console.log(`machine: ${describeHardware(detectHardware())}`);
  if (which === 'all' || which === 'cnn') await cnn();
  if (which === 'all' || which === 'gpt') await gpt();
  console.log(rows.join('\n'));
  if (failed) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
