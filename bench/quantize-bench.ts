// PTQ benchmark: quantize the shared CNN and byte GPT with the default recipe,
// then print FP32 vs ours — task metric, latency under onnxruntime-node (1 thread) measured in this
// run, the ratio against the peer's (ORT's own quantizer) and the time each quantization took.
// Latency: every model's session is opened and warmed up first, then ROUNDS rounds run each model in
// turn (FP32, ours, FP32, ours, ...); per model the median over rounds of the wall-clock median and of
// the process CPU time per run (one intra-op thread, so CPU time is the compute time and barely moves
// when other processes load the machine; wall time does). The verdict uses the CPU-time ratio.
// No peer model is produced here: ORT's own quantizer is Python-only and this machine has no Python
// onnxruntime, so the peer's published ratios (../shared/reference/peer-and-ceilings.md) are the reference.
//   npm run bench            (all)      npm run bench -- cnn | gpt      ROUNDS=9 npm run bench
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { quantizeModel } from '../engine/pipeline/quantize';
import { parseRecipe } from '../engine/pipeline/recipe';
import { loadFashionMnist } from '../engine/data/fashion-mnist';
import { readTextWindows } from '../engine/data/text-windows';
import { createSession } from '../engine/runtime/session';
import { top1Accuracy, perplexity } from '../engine/eval/task-metrics';
import { compareLatencyMany, type LatencyResult } from '../engine/eval/latency';
import { loadModel, serializeModel } from '../engine/onnx/model-io';
import { fuseTanhGelu } from '../engine/export/qdq-gelu';
import { loadavg } from 'node:os';
import { detectHardware, describeHardware } from '../engine/runtime/hardware';

const shared = process.env.QSTUDIO_SHARED ?? resolve('..', 'shared');
const which = process.argv[2] ?? 'all';
const dir = mkdtempSync(join(tmpdir(), 'qbench-'));
const rows: string[] = [];
let failed = false;
const check = (ok: boolean, what: string) => { if (!ok) failed = true; return `${ok ? 'PASS' : 'FAIL'} ${what}`; };
const ms = (x: number) => `${x.toFixed(2)} ms`;
const rounds = Number(process.env.ROUNDS ?? 9);
const load = () => loadavg()[0]!.toFixed(1);
/** One latency line: wall and CPU-time medians, ratios against the FP32 row. */
const latRow = (label: string, r: LatencyResult, base: LatencyResult) =>
  `    ${label.padEnd(26)} wall ${ms(r.medianMs).padStart(10)} (${(r.medianMs / base.medianMs).toFixed(3)}x)   CPU ${ms(r.cpuMs).padStart(10)} (${(r.cpuMs / base.cpuMs).toFixed(3)}x)`;

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
  const l0 = load();
  const [f, q] = await compareLatencyMany([model, out], { image: test.images }, { batch: 64, threads: 1, runs: rounds * 10, rounds, warmup: 5 });
  rows.push(`fmnist-cnn.onnx  default recipe (int8 sym per-channel W, uint8 asym MinMax A), 512 calibration images, ${rep.quantized.length} nodes quantized`);
  rows.push(`  quantize time     ${qs.toFixed(2)} s  (peer ORT python: 0.20 s + 4.8 s pre-process, 16 threads)`);
  rows.push(`  top-1 (10k test)  FP32 ${(acc[0]! * 100).toFixed(2)} %   ours ${(acc[1]! * 100).toFixed(2)} %   ${check(acc[1]! >= 0.9301, '>= 93.01 %')}`);
  rows.push(`  latency, batch 64, 1 thread, ${rounds} interleaved rounds x 10 runs (load ${l0} -> ${load()}):`);
  rows.push(latRow('FP32', f!, f!));
  rows.push(latRow('ours int8', q!, f!));
  rows.push(`    peer (published, not run here) 0.41x   ${check(q!.cpuMs / f!.cpuMs <= 0.41, 'ours CPU-time ratio <= 0.41')}`);
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
  // The export fuses the tanh GELU (a float rewrite, not quantization): FP32 with the same fusion is
  // measured too, so the part of the gain that is not int8 shows.
  const fused = (await loadModel(model)).model;
  const nGelu = fuseTanhGelu(fused, new Set());
  const l0 = load();
  const [f, q, fg] = await compareLatencyMany([model, out, serializeModel(fused)], { input_ids: val }, { batch: 1, threads: 1, runs: rounds * 6, rounds, warmup: 3 });
  rows.push(`moby-gpt.onnx  opTypes ["MatMul"], 32 calibration windows from train.txt, ${rep.quantized.length} MatMuls quantized`);
  rows.push(`  quantize time     ${qs.toFixed(2)} s  (peer ORT python: 2.51 s, 16 threads)`);
  rows.push(`  perplexity (val)  FP32 ${ppl[0]!.toFixed(4)}   ours ${ppl[1]!.toFixed(4)}   peer 4.027   ${check(ppl[1]! <= 4.027, '<= 4.027')}`);
  rows.push(`  latency, T=256, 1 thread, ${rounds} interleaved rounds x 6 runs (load ${l0} -> ${load()}):`);
  rows.push(latRow('FP32', f!, f!));
  rows.push(latRow('ours int8', q!, f!));
  rows.push(latRow(`FP32 + ${nGelu} fused GELU`, fg!, f!) + `   (ours vs this: CPU ${(q!.cpuMs / fg!.cpuMs).toFixed(3)}x)`);
  rows.push(`    peer (published, not run here) 0.57x   ${check(q!.cpuMs / f!.cpuMs <= 0.57, 'ours CPU-time ratio <= 0.57')}`);
  rows.push(`  size              ${(rep.sizeBytes.original / 1e6).toFixed(2)} MB -> ${(rep.sizeBytes.quantized / 1e6).toFixed(2)} MB (peer 8.5 MB)`);
}

try {
  console.log(`machine: ${describeHardware(detectHardware())}`);
  console.log('peer: no peer model is produced on this machine (ORT\'s quantizer needs Python onnxruntime, absent here);');
  console.log('      the peer ratios below are its published figures (../shared/reference/peer-and-ceilings.md), measured elsewhere.');
  console.log('verdict: on the process-CPU-time ratio (1 thread); wall ratios are shown but move with the machine\'s load.');
  if (which === 'all' || which === 'cnn') await cnn();
  if (which === 'all' || which === 'gpt') await gpt();
  console.log(rows.join('\n'));
  if (failed) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
