// `npm run bench:llm` — RTN / GPTQ / AWQ / SmoothQuant on ../shared/models/moby-gpt*.onnx side by side:
// perplexity (val.txt, first 128 windows of 256 bytes, back to back), quantize time, file size and
// onnxruntime-node latency (1 thread) of one-token, 16-token and 256-token steps against FP32 measured in
// the same run. Calibration: windows of 256 bytes spread over train.txt. Also: the peer's RTN (ORT's
// min-max MatMulNBits at accuracy_level 0) as a row, each multi-token option's perplexity, and GPTQ vs RTN
// on another domain (Moby Dick calibration, Brown-corpus evaluation).
// Options: --cal N (calibration windows, default 128), --w8a8-cal N (default 32), --val N (default 128),
//          --skip-w8a8, --skip-latency, --reps N (latency rounds, default 60; ×5 for 1 and 16 tokens, ÷3 for 256).
import { readFileSync, statSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, loadavg, availableParallelism } from 'node:os';
import { createSession, ort } from '../engine/runtime/session';
import { loadModel, serializeModel } from '../engine/onnx/model-io';
import { parseRecipe } from '../engine/pipeline/recipe';
import { quantizeModel } from '../engine/pipeline/quantize';
import { quantizeWeightOnly } from '../engine/pipeline/stages/weights-phase';
import { ensureOpset, exportWeightOnly, fuseTransformerOps } from '../engine/export/matmulnbits';
import { pruneUnused } from '../engine/onnx/graph';
import { foldBiasIntoFastGelu, fuseTanhGelu } from '../engine/onnx/fusions/fast-gelu';
import { clone, ModelProtoSchema } from '../engine/onnx/proto';
import { rtnLayers, type WeightOnlyLayerResult } from '../engine/quant/algorithms/weight-only';
import { findLinearLayers, layerWeightNK } from '../engine/quant/algorithms/linear-layers';
import { addInt8PrefillPath } from '../engine/export/int8-prefill';
import { measureInputRanges } from '../engine/export/int8-prefill-check';
import type { NpyArray } from '../engine/data/npy';
import { textWindows, perplexity } from '../test/engine/quant/algorithms/lm-helpers';
import { models, sharedPath } from '../test/helpers/shared';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : dflt; };
const flag = (name: string) => args.includes(`--${name}`);
const CAL = opt('cal', 128), W8A8_CAL = opt('w8a8-cal', 32), VAL = opt('val', 128), REPS = opt('reps', 60);
const outDir = join(tmpdir(), `qstudio-llm-bench-${process.pid}`);
mkdirSync(outDir, { recursive: true });

const val = textWindows('val.txt', VAL);
const train = textWindows('train.txt', CAL);
const fp32Bytes = readFileSync(models.gpt);
const fp32Size = statSync(models.gpt).size;
const fp32Ppl = await perplexity(fp32Bytes, val);
const log = (s: string) => process.stderr.write(`${s}\n`);
log(`FP32 perplexity ${fp32Ppl.toFixed(4)} (${VAL} windows); calibration ${CAL} windows`);

interface Row { variant: string; seconds: number; cpuSeconds?: number; ppl: number; pplFloat?: number; sizeMB: number; bytes?: Uint8Array; results?: WeightOnlyLayerResult[] }
const rows: Row[] = [{ variant: 'FP32', seconds: 0, ppl: fp32Ppl, sizeMB: fp32Size / 1e6 }];
const { model, baseDir } = await loadModel(models.gpt);

async function weightOnly(label: string, dtype: 'int4' | 'int3', group: number, algorithms: unknown[], cal: NpyArray = train, evalOn: NpyArray = val): Promise<Row> {
  const recipe = parseRecipe({ weights: { dtype, scheme: 'symmetric', granularity: { group } }, activations: null, algorithms, opTypes: ['MatMul'], format: 'matmulnbits', calibration: { samples: CAL, batchSize: 16 } });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await quantizeWeightOnly({ model, baseDir, recipe, inputs: { input_ids: cal } });
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  const cpuSeconds = (cu.user + cu.system) / 1e6;
  const bytes = serializeModel(r.model);
  const ppl = await perplexity(bytes, evalOn);
  const row: Row = { variant: label, seconds, cpuSeconds, ppl, sizeMB: bytes.length / 1e6, bytes, results: r.results };
  log(`${label}: ppl ${ppl.toFixed(4)} in ${seconds.toFixed(1)} s (${r.notices.join(' | ')}) ${JSON.stringify(Object.fromEntries(Object.entries(r.timingsMs).map(([k, v]) => [k, Math.round(v)])))}`);
  return row;
}

// The peer's setting: ORT's MatMul4BitsQuantizer RTN — min-max scale per block, MatMulNBits for every
// step, accuracy_level 0 (float compute), no fusions.
const linear = findLinearLayers(model, { opTypes: ['MatMul'], exclude: [] });
const floatWeights = new Map(linear.map((l) => [l, layerWeightNK(model, baseDir, l)]));
const peerLike = (bits: number, group: number) => exportWeightOnly(model, rtnLayers(floatWeights, { bits, symmetric: true, groupSize: group }), { format: 'matmulnbits', prefill: 'matmulnbits', accuracyLevel: 0, fuseTransformerOps: false, fuseGelu: false, mergeSharedInput: false, baseDir }).model;
const peerRtnBytes = serializeModel(peerLike(4, 32));
const peerRtn: Row = { variant: 'int4 g32 RTN as the peer does it (min-max scales, MatMulNBits every step, accuracy_level 0)', seconds: 0, ppl: await perplexity(peerRtnBytes, val), sizeMB: peerRtnBytes.length / 1e6 };
log(`peer-style RTN: ppl ${peerRtn.ppl.toFixed(4)}`);
const g32 = [
  await weightOnly('int4 g32 RTN (searched grid)', 'int4', 32, [{ name: 'rtn' }]),
  await weightOnly('int4 g32 AWQ', 'int4', 32, [{ name: 'awq' }]),
  await weightOnly('int4 g32 GPTQ', 'int4', 32, [{ name: 'gptq' }]),
];
const g64 = [
  await weightOnly('int3 g64 RTN', 'int3', 64, [{ name: 'rtn' }]),
  await weightOnly('int3 g64 AWQ', 'int3', 64, [{ name: 'awq' }]),
  await weightOnly('int3 g64 GPTQ', 'int3', 64, [{ name: 'gptq' }]),
];
// Same GPTQ at group 64 (ORT's int8-compute MatMulNBits kernel is faster at block 64 than 32 on short
// steps): a recipe choice, reported beside the group-32 export.
const g64int4 = await weightOnly('int4 g64 GPTQ', 'int4', 64, [{ name: 'gptq' }]);
// The same GPTQ g32 weights exported with MatMulNBits for every step (no int8 branch): the decode path's
// perplexity, and the latency of ORT's int4 kernels alone.
const nbitsOnlyBytes = serializeModel(exportWeightOnly(model, g32[2]!.results!, { format: 'matmulnbits', prefill: 'matmulnbits', baseDir }).model);
const nbitsOnly: Row = { variant: 'int4 g32 GPTQ, MatMulNBits for every step (no int8 branch)', seconds: g32[2]!.seconds, cpuSeconds: g32[2]!.cpuSeconds, ppl: await perplexity(nbitsOnlyBytes, val), sizeMB: nbitsOnlyBytes.length / 1e6, bytes: nbitsOnlyBytes };
rows.push(peerRtn, ...g32, nbitsOnly, g64int4, ...g64);

// Multi-token options for the same GPTQ g32 weights: how the int8 branch quantizes activations (one scale
// per step vs per row) and where its smoothing comes from (norm weights, data-free, vs the int4 model's
// measured input ranges). Perplexity windows are 256 tokens, i.e. the branch; latency below.
const calRanges = await measureInputRanges(exportWeightOnly(model, g32[2]!.results!, { format: 'matmulnbits', prefill: 'matmulnbits', baseDir }).model, { input_ids: train });
const multiToken: { label: string; ppl: number; bytes: Uint8Array }[] = [{ label: 'MatMulNBits for every step', ppl: nbitsOnly.ppl, bytes: nbitsOnlyBytes }];
for (const [label, activationScale, measured] of [
  ['int8 branch, one scale per step, norm-weight smoothing (the previous default)', 'tensor', false],
  ['int8 branch, one scale per step, measured smoothing', 'tensor', true],
  ['int8 branch, per-row scales, norm-weight smoothing', 'row', false],
  ['int8 branch, per-row scales, measured smoothing (the default)', 'row', true],
  ['int8 branch, per-row scales around each row\'s mid-range, measured smoothing', 'row-centered', true],
] as const) {
  const m = exportWeightOnly(model, g32[2]!.results!, { format: 'matmulnbits', prefill: 'matmulnbits', baseDir }).model;
  addInt8PrefillPath(m, { baseDir, activationScale, inputRanges: measured ? calRanges : undefined });
  const bytes = serializeModel(m);
  multiToken.push({ label, ppl: await perplexity(bytes, val), bytes });
  log(`${label}: ppl ${multiToken.at(-1)!.ppl.toFixed(4)}`);
}

// Another domain: calibrate on the Moby Dick part of train.txt only (its first 1,061,205 bytes; the rest
// is the Brown corpus) and evaluate on Brown-corpus text (the last windows of train.txt, back to back).
const trainBytes = readFileSync(sharedPath('data', 'text', 'train.txt'));
const windowsAt = (start: number, end: number, count: number, spread: boolean): NpyArray => {
  const data = new BigInt64Array(count * 256);
  const stride = spread ? Math.floor((end - start - 256) / count) : 256;
  for (let w = 0; w < count; w++) for (let t = 0; t < 256; t++) data[w * 256 + t] = BigInt(trainBytes[start + w * stride + t]!);
  return { dtype: 'int64', shape: [count, 256], data };
};
const MOBY_END = 1_061_205;
const mobyCal = windowsAt(0, MOBY_END, CAL, true);
const brown = windowsAt(trainBytes.length - VAL * 256, trainBytes.length, VAL, false);
const crossDomain = {
  fp32: await perplexity(fp32Bytes, brown),
  peer: await perplexity(peerRtnBytes, brown),
  rtn: (await weightOnly('cross-domain RTN (searched grid)', 'int4', 32, [{ name: 'rtn' }], mobyCal, brown)).ppl,
  gptq: (await weightOnly('cross-domain GPTQ (Moby Dick calibration)', 'int4', 32, [{ name: 'gptq' }], mobyCal, brown)).ppl,
};

const w8a8Rows: { model: string; act: string; plain: number; sq: number; plainS: number; sqS: number }[] = [];
if (!flag('skip-w8a8')) {
  const cal = textWindows('train.txt', W8A8_CAL);
  for (const [mName, path] of [['moby-gpt', models.gpt], ['moby-gpt-outliers', models.gptOutliers]] as const) {
    for (const act of ['int8', 'uint8'] as const) {
      const res: number[] = [], secs: number[] = [];
      for (const algorithms of [[{ name: 'rtn' }], [{ name: 'smoothquant', alpha: 0.5 }]]) {
        const recipe = parseRecipe({ weights: { dtype: 'int8', scheme: 'symmetric', granularity: 'channel' }, activations: { dtype: act, scheme: act === 'int8' ? 'symmetric' : 'asymmetric', calibration: { method: 'minmax' } }, algorithms, opTypes: ['MatMul'], calibration: { samples: W8A8_CAL, batchSize: 16 } });
        const out = join(outDir, `w8a8-${mName}-${act}-${algorithms[0]!.name}.onnx`);
        const t0 = performance.now();
        await quantizeModel({ modelPath: path, outputPath: out, recipe, inputs: { input_ids: cal }, evaluate: false });
        secs.push((performance.now() - t0) / 1000);
        res.push(await perplexity(readFileSync(out), val));
      }
      w8a8Rows.push({ model: mName, act, plain: res[0]!, sq: res[1]!, plainS: secs[0]!, sqS: secs[1]! });
      log(`W8A8 ${mName} ${act}: plain ${res[0]!.toFixed(4)}, SmoothQuant α=0.5 ${res[1]!.toFixed(4)}`);
    }
  }
}

// Latency: 1 thread, batch 1, T = 1, 16, 256; FP32 and the int4 exports alternate so load hits all alike.
async function session(bytes: Uint8Array) {
  return (await createSession(bytes, { device: 'cpu', threads: 1, optimization: 'all' })).session;
}
// FP32 with the export's graph fusions (FastGelu, MultiHeadAttention, SkipLayerNormalization) and nothing
// else: how much of the int4 export's ratio the fusions alone account for.
function fp32Fused(): Uint8Array {
  const m = clone(ModelProtoSchema, model);
  const g = m.graph!;
  fuseTanhGelu(g, baseDir); fuseTransformerOps(g, baseDir); foldBiasIntoFastGelu(g); pruneUnused(g);
  ensureOpset(m, 'com.microsoft', 1);
  return serializeModel(m);
}
// Each round runs every session once, in an order that rotates per round, so load and cache state hit all
// alike; sessions are created and warmed once per token count. Wall and process CPU time are taken per run
// (1 intra-op thread: ORT runs on this thread, so the CPU time is the inference's own, unaffected by
// waiting for a core); the table gives median wall, median CPU, and the paired ratio: the median over
// rounds of (variant run / FP32 run in the same round) — drift and load spikes that span a round cancel.
interface Lat { median: number; min: number; cpu: number; paired: number }
const latencyVariants: { label: string; bytes: () => Uint8Array | Promise<Uint8Array> }[] = [
  { label: 'FP32', bytes: () => fp32Bytes },
  { label: 'int4 g32 GPTQ export (MatMulNBits decode + int8 branch)', bytes: () => g32[2]!.bytes! },
  { label: 'same weights, MatMulNBits for every step', bytes: () => nbitsOnlyBytes },
  { label: 'same weights, int8 branch with one scale per step (previous default)', bytes: () => multiToken[1]!.bytes },
  { label: 'int4 g32 RTN, MatMulNBits accuracy_level 0, no fusions (like the peer)', bytes: async () => serializeModel((await quantizeWeightOnly({ model, baseDir, recipe: parseRecipe({ weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, opTypes: ['MatMul'], format: 'matmulnbits' }), accuracyLevel: 0, exportOptions: { prefill: 'matmulnbits', fuseTransformerOps: false, fuseGelu: false, mergeSharedInput: false } })).model) },
  { label: 'FP32 with the same graph fusions', bytes: fp32Fused },
];
const latency: { T: number; load: number; lat: Lat[] }[] = [];
if (!flag('skip-latency')) {
  const sessions = [];
  for (const v of latencyVariants) sessions.push(await session(await v.bytes()));
  const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]!; };
  for (const T of [1, 16, 256]) {
    const ids = new ort.Tensor('int64', (val.data as BigInt64Array).slice(0, T), [1, T]);
    const wall: number[][] = sessions.map(() => []), cpu: number[][] = sessions.map(() => []);
    // Short steps are cheap: 5× the rounds (300 by default) so the medians settle.
    const reps = T === 256 ? Math.max(10, Math.floor(REPS / 3)) : REPS * 5;
    for (const s of sessions) for (let i = 0; i < 5; i++) await s.run({ input_ids: ids }); // warm-up
    for (let i = 0; i < reps; i++) {
      for (let j = 0; j < sessions.length; j++) {
        const k = (i + j) % sessions.length;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await sessions[k]!.run({ input_ids: ids });
        wall[k]!.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu[k]!.push((c.user + c.system) / 1e3);
      }
    }
    latency.push({ T, load: loadavg()[0]!, lat: sessions.map((_, k) => ({ median: median(wall[k]!), min: Math.min(...wall[k]!), cpu: median(cpu[k]!), paired: median(wall[k]!.map((w, i) => w / wall[0]![i]!)) })) });
  }
  for (const s of sessions) await s.release();
}

const f = (x: number, d = 4) => x.toFixed(d);
console.log(`\n## moby-gpt.onnx weight-only, MatMul, symmetric; export: MatMulNBits accuracy_level 4 for one-row steps, the int8 QGEMM branch for more rows (perplexity windows are 256 tokens: that branch) (calibration ${CAL} windows; FP32 ppl ${f(fp32Ppl)})`);
// CPU seconds (all threads of this process): on a shared, loaded machine wall time overstates the work.
console.log(`(machine load average ${loadavg().map((x) => x.toFixed(1)).join(' / ')} on ${availableParallelism()} cores)`);
console.log('| variant | quantize s (wall) | CPU s | perplexity | excess over FP32 | size MB | size / FP32 |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.variant} | ${r.variant === 'FP32' ? '–' : f(r.seconds, 1)} | ${r.cpuSeconds === undefined ? '–' : f(r.cpuSeconds, 1)} | ${f(r.ppl)} | ${f(r.ppl - fp32Ppl)} | ${f(r.sizeMB, 2)} | ${f(r.sizeMB / (fp32Size / 1e6), 3)} |`);
const ex = (r: Row) => r.ppl - fp32Ppl;
// The peer's best int4 on moby-gpt (../shared/reference/peer-and-ceilings.md): HQQ block 64, 4.018 against its FP32 3.998.
const PEER_BEST_EXCESS = 4.018 - 3.998;
console.log(`\nint4 g32 (default export): RTN ${f(g32[0]!.ppl)} vs the peer's RTN ${f(peerRtn.ppl)} (target ≤); AWQ ${f(g32[1]!.ppl)} (target ≤ peer RTN); GPTQ ${f(g32[2]!.ppl)}, excess ${f(ex(g32[2]!))} = ${f(ex(g32[2]!) / PEER_BEST_EXCESS, 3)}× the peer's best int4 excess (target ≤ 0.7); GPTQ time ${f(g32[2]!.seconds, 1)} s wall / ${f(g32[2]!.cpuSeconds!, 1)} s CPU (target ≤ 30 s)`);
console.log(`int4 g64: GPTQ ${f(g64int4.ppl)} (latency column below)`);
console.log(`\n## Multi-token options (GPTQ int4 g32 weights; 256-token perplexity windows run the branch; 16-/256-token latency in the table below for the default and the previous default)`);
console.log('| option | perplexity | − MatMulNBits-every-step |');
console.log('|---|---|---|');
for (const m of multiToken) console.log(`| ${m.label} | ${f(m.ppl)} | ${f(m.ppl - nbitsOnly.ppl)} |`);
console.log(`\n## Another domain: calibrated on Moby Dick (train.txt's first ${MOBY_END} bytes), evaluated on ${VAL} Brown-corpus windows (the end of train.txt)`);
console.log(`FP32 ${f(crossDomain.fp32)}; peer-style RTN ${f(crossDomain.peer)}; RTN (searched grid) ${f(crossDomain.rtn)}; GPTQ ${f(crossDomain.gptq)} (target: GPTQ ≤ RTN)`);
console.log(`int3 g64: GPTQ excess / RTN excess = ${f(ex(g64[2]!) / ex(g64[0]!), 3)} (target ≤ 0.6)`);
if (w8a8Rows.length) {
  console.log(`\n## W8A8 (int8 symmetric per-channel weights, per-tensor MinMax activations on every MatMul, ${W8A8_CAL} calibration windows)`);
  console.log('| model | activations | plain ppl | SmoothQuant α=0.5 ppl | plain s | SmoothQuant s |');
  console.log('|---|---|---|---|---|---|');
  for (const r of w8a8Rows) console.log(`| ${r.model} | ${r.act} | ${f(r.plain)} | ${f(r.sq)} | ${f(r.plainS, 1)} | ${f(r.sqS, 1)} |`);
  for (const act of ['int8', 'uint8']) {
    const o = w8a8Rows.find((r) => r.model === 'moby-gpt' && r.act === act)!;
    const x = w8a8Rows.find((r) => r.model === 'moby-gpt-outliers' && r.act === act)!;
    console.log(`${act}: outliers plain ${f(x.plain)} (expect > 5); outliers+SQ − plain original = ${f(x.sq - o.plain)} (target ≤ 0.01); SQ cost on original = ${f(o.sq - o.plain)} (target ≤ 0.003)`);
  }
}
if (latency.length) {
  console.log('\n## Latency, onnxruntime-node CPU, 1 thread, batch 1 (interleaved rounds; ratio = variant / FP32: median wall / median CPU / paired)');
  console.log(`| tokens | load | FP32 ms (wall / CPU) | ${latencyVariants.slice(1).map((v) => v.label).join(' | ')} |`);
  console.log(`|---|---|---|${latencyVariants.slice(1).map(() => '---').join('|')}|`);
  for (const l of latency) {
    const b = l.lat[0]!;
    console.log(`| ${l.T} | ${f(l.load, 1)} | ${f(b.median, 3)} / ${f(b.cpu, 3)} | ${l.lat.slice(1).map((x) => `${f(x.median / b.median, 3)} / ${f(x.cpu / b.cpu, 3)} / ${f(x.paired, 3)}`).join(' | ')} |`);
  }
  console.log('targets: 1 token ≤ 0.5×, 16 tokens ≤ 0.8× FP32');
}
