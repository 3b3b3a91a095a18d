// `npm run bench:scale`: the engine on a ~1 B-parameter LLaMA-style model (test/fixtures/llama-scale.ts:
// hidden 2048, 16 layers, MLP 5632, vocab 32000, 3.8 GB FP32 in one external data file; seeded weights,
// generated once into .cache/llama-1b, never committed). Each recipe runs through the real CLI as a
// child process; the bench samples the child's resident memory (/proc/<pid>/status VmRSS, VmHWM) and
// prints wall time, peak RSS against the FP32 model's size, the report's stage timings and the output
// check, then the one-token / 16-token step latency of the int4 export against FP32 (1 thread,
// interleaved rounds). Options: --only rtn,gptq,awq,w8a8  --model-dir DIR  --small (a 4-layer, 512-wide
// variant for a quick look)  --int4 PATH (only the step latencies, of an int4 export already written,
// e.g. by a measured CLI run: `QSTUDIO_MEMORY_LOG=1 /usr/bin/time -v qstudio quantize …`).
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureLlamaScaleModel, LLAMA_1B, parameterCount, type LlamaScaleOptions } from '../test/fixtures/llama-scale';
import { writeNpy } from '../engine/data/npy';
import { createSession, ort } from '../engine/runtime/session';
import { sharedPath } from '../test/helpers/shared';

const args = process.argv.slice(2);
const opt = (k: string) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
const small = args.includes('--small');
const options: LlamaScaleOptions = small ? { ...LLAMA_1B, dim: 512, hidden: 1408, layers: 4, heads: 8, vocab: 32000 } : LLAMA_1B;
const root = resolve(opt('--model-dir') ?? join('.cache', small ? 'llama-scale-small' : 'llama-1b'));
const only = opt('--int4') ? [] : (opt('--only') ?? 'rtn,gptq,awq,w8a8').split(',');

const bytesOf = (dir: string, prefix: string) => readdirSync(dir).filter((f) => f.startsWith(prefix)).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
const gb = (b: number) => (b / 2 ** 30).toFixed(2);

async function runMeasured(argv: string[], stderrLog?: string): Promise<{ code: number; seconds: number; peakRss: number; stderr: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '', peak = 0;
  // The whole stderr goes to the run's log (QSTUDIO_MEMORY_LOG=1's per-stage lines, notices); the last
  // lines stay for the table.
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); if (stderrLog) appendFileSync(stderrLog, d); });
  const poll = setInterval(() => {
    try {
      const s = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) * 1024;
      if (hwm > peak) peak = hwm;
    } catch { /* exited */ }
  }, 250);
  const code: number = await new Promise((res) => child.on('exit', (c) => res(c ?? -1)));
  clearInterval(poll);
  return { code, seconds: (performance.now() - t0) / 1000, peakRss: peak, stderr };
}

async function stepRatio(fp32: string, quant: string, tokens: number, rounds = 5): Promise<{ ratio: number; fp32: number; quant: number }> {
  const a = await createSession(fp32, { device: 'cpu', threads: 1 } as never), b = await createSession(quant, { device: 'cpu', threads: 1 } as never);
  const feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: tokens }, (_, i) => BigInt((i * 31) % 256)), [1, tokens]) };
  const time = async (s: typeof a) => { const t = performance.now(); await s.run(feeds); return performance.now() - t; };
  await time(a); await time(b);
  const r: number[] = [], xs: number[] = [], ys: number[] = [];
  for (let i = 0; i < rounds; i++) { const x = await time(a), y = await time(b); r.push(y / x); xs.push(x); ys.push(y); }
  await a.release(); await b.release();
  const median = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1]!;
  return { ratio: median(r), fp32: median(xs), quant: median(ys) };
}

const t0 = performance.now();
const model = await ensureLlamaScaleModel(root, options);
const fp32Bytes = bytesOf(root, 'model.onnx');
console.log(`# Scale benchmark — LLaMA-style ${(parameterCount(options) / 1e9).toFixed(2)} B parameters (hidden ${options.dim}, ${options.layers} layers, MLP ${options.hidden}, vocab ${options.vocab}), FP32 ${gb(fp32Bytes)} GiB with external data; model ready in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

// Calibration and evaluation tokens: bytes of the shared corpus (the model is seeded, so the text only
// gives realistic token statistics), 32 windows of 128 = 4,096 tokens; evaluation from val.txt.
const text = (f: string) => readFileSync(sharedPath('data', 'text', f));
const windows = (buf: Uint8Array, n: number, T: number, from = 0) => ({ dtype: 'int64' as const, shape: [n, T], data: BigInt64Array.from({ length: n * T }, (_, i) => BigInt(buf[from + i]!)) });
const work = join(root, 'runs');
if (only.length) {
  // Recipes are measured one at a time (a 1 B run needs the machine to itself): each run replaces only
  // its own folder, so earlier runs' outputs stay for the step latencies.
  mkdirSync(work, { recursive: true });
  await writeNpy(join(work, 'cal.npy'), windows(text('train.txt'), 32, 128, 1 << 20));
  await writeNpy(join(work, 'eval.npy'), windows(text('val.txt'), 8, 128));
}

const recipes: Record<string, object> = {
  rtn: { weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, format: 'matmulnbits', algorithms: [{ name: 'rtn' }] },
  gptq: { weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, format: 'matmulnbits', algorithms: [{ name: 'gptq' }] },
  awq: { weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, format: 'matmulnbits', algorithms: [{ name: 'awq' }] },
  w8a8: {},
};
const rows = ['| recipe | exit | wall s | peak RSS GiB | peak / FP32 size | output size GiB | stages (s) | note |', '|---|---|---|---|---|---|---|---|'];
let int4Out: string | undefined = opt('--int4');
for (const name of only) {
  const dir = join(work, name); rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'recipe.json'), JSON.stringify(recipes[name]));
  const out = join(dir, 'model.onnx'), report = join(dir, 'report.json');
  const r = await runMeasured([resolve('bin/qstudio.mjs'), 'quantize', model, '-o', out, '--recipe', join(dir, 'recipe.json'), '--data', `input_ids=${join(work, 'cal.npy')}`, '--eval-data', `input_ids=${join(work, 'eval.npy')}`, '--report', report], join(dir, 'stderr.log'));
  const rep = existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')) as { timingsMs?: Record<string, number>; outputAgreement?: { sqnrDb?: number } } : undefined;
  const stages = Object.entries(rep?.timingsMs ?? {}).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)}`).join(', ');
  const size = r.code === 0 ? bytesOf(dir, 'model.onnx') : 0;
  if (r.code === 0 && name === 'rtn') int4Out = out;
  rows.push(`| ${name} | ${r.code} | ${r.seconds.toFixed(0)} | ${gb(r.peakRss)} | ${(r.peakRss / fp32Bytes).toFixed(2)}× | ${r.code === 0 ? gb(size) : ''} | ${stages} | ${r.code === 0 ? `output SQNR ${rep?.outputAgreement?.sqnrDb?.toFixed(1) ?? '?'} dB` : r.stderr.split('\n').filter((l) => /error/i.test(l)).slice(-1)[0]?.slice(0, 200) ?? ''} |`);
  console.error(`${name}: exit ${r.code}, ${r.seconds.toFixed(0)} s, peak ${gb(r.peakRss)} GiB`);
}
if (only.length) console.log(rows.join('\n'));
if (int4Out) {
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  for (const tokens of [1, 16]) {
    const r = await stepRatio(model, int4Out, tokens);
    console.log(`int4 (RTN g32, MatMulNBits) ${tokens}-token step: ${r.quant.toFixed(0)} ms vs FP32 ${r.fp32.toFixed(0)} ms (medians) — ratio ${r.ratio.toFixed(3)}×, 1 thread, median of 5 interleaved; load average ${load()}`);
  }
}
