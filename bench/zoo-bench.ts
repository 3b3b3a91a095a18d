// `npm run bench:zoo`: every model of test/zoo/models.json through the default recipe (the real CLI),
// its task check on real inputs, output SQNR, size, quantize time, and latency vs FP32 measured in the
// same run (1 thread, interleaved rounds; median wall and process CPU). Prints a Markdown table.
// Entries the wreck guard keeps ("guard-keeps-task") also run with "guard": false (the fully quantized
// model), entries with a recipe target with that target. Ids as arguments run only those entries.
import { performance } from 'node:perf_hooks';
import { statSync } from 'node:fs';
import { zooEntries, zooAvailable, runZooEntry, cleanUp, modelPath } from '../test/zoo/zoo';
import { taskFor } from '../test/zoo/tasks';
import { createSession, ort } from '../engine/runtime/session';

async function latencyRatio(fp32: string, quantized: string, feeds: Record<string, InstanceType<typeof ort.Tensor>>, rounds = 7): Promise<{ wall: number; cpu: number }> {
  const a = await createSession(fp32, { device: 'cpu' }), b = await createSession(quantized, { device: 'cpu' });
  const time = async (s: typeof a) => { const c0 = process.cpuUsage(), t0 = performance.now(); for (let i = 0; i < 5; i++) await s.run(feeds); const c = process.cpuUsage(c0); return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 }; };
  await time(a); await time(b);
  const ra: number[] = [], rc: number[] = [];
  for (let i = 0; i < rounds; i++) { const x = await time(a), y = await time(b); ra.push(y.wall / x.wall); rc.push(y.cpu / x.cpu); }
  await a.release(); await b.release();
  const med = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1]!;
  return { wall: med(ra), cpu: med(rc) };
}

// `--recipe JSON`: run the named entries with that recipe only (e.g. a calibration method to compare).
const args = process.argv.slice(2);
const at = args.indexOf('--recipe');
const onlyRecipe: object | undefined = at >= 0 ? JSON.parse(args.splice(at, 2)[1] ?? '{}') : undefined;
const only = args;
const rows: string[] = ['| model | family | traits | exit | task (FP32 → quantized) | kept | output SQNR dB | guard | size | quantize s | latency wall / CPU |', '|---|---|---|---|---|---|---|---|---|---|---|'];
const recipes = (x: (typeof zooEntries)[number]): object[] => onlyRecipe ? [onlyRecipe] : [{}, ...(x.expect === 'guard-keeps-task' ? [{ guard: false }] : []), ...(x.target ? [{ target: x.target }] : [])];
for (const [e, recipe] of zooEntries.filter((x) => !only.length || only.includes(x.id)).flatMap((x) => recipes(x).map((r) => [x, r] as [typeof x, object]))) {
  if (!zooAvailable(e)) { rows.push(`| ${e.id} | ${e.family} | | not fetched (bash scripts/fetch-test-models.sh) | | | | | | | |`); continue; }
  const run = await runZooEntry(e, recipe);
  const label = Object.keys(recipe).length ? `${e.id} + ${Object.entries(recipe).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ')}` : e.id;
  // What the wreck guard did: the fully quantized run's figure and what it left in float.
  const g = run.report?.guard;
  const guard = g ? `${g.firstSqnrDb.toFixed(1)} dB → ${g.kept ? `${g.floatActivations.length} activation(s) + ${g.floatWeights.length} weight(s) float` : 'search failed'} (first run ${(g.firstRunMs / 1000).toFixed(1)} s)` : '—';
  let lat = '';
  if (run.exitCode === 0) {
    const cal = await taskFor(e).calibration();
    const s = await createSession(modelPath(e), { device: 'cpu' });
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    for (const [name, arr] of Object.entries(cal)) {
      const meta = s.inputMetadata?.find?.((m: { name: string }) => m.name === name) as { shape?: (number | string)[] } | undefined;
      const dtype = arr.dtype as 'float32';
      // A scalar (Silero's sample rate) as it is; otherwise the model's batch (its fixed sample dim, else
      // 1) along the sample axis: the first symbolic dim (Silero's LSTM state [2, N, 64]: axis 1), else 0.
      if (arr.shape.length === 0) { feeds[name] = new ort.Tensor(dtype, arr.data as Float32Array, []); continue; }
      const symbolic = meta?.shape?.findIndex((d) => typeof d !== 'number' || d < 0) ?? -1;
      const axis = symbolic >= 0 && symbolic < arr.shape.length ? symbolic : 0;
      const batch = axis === 0 && typeof meta?.shape?.[0] === 'number' && (meta.shape[0] as number) > 0 ? (meta.shape[0] as number) : 1;
      const outer = arr.shape.slice(0, axis).reduce((p, q) => p * q, 1), inner = arr.shape.slice(axis + 1).reduce((p, q) => p * q, 1);
      const src = arr.data as Float32Array, n = arr.shape[axis]!;
      const data = new (src.constructor as Float32ArrayConstructor)(outer * batch * inner);
      for (let o = 0; o < outer; o++) data.set(src.subarray(o * n * inner, (o * n + batch) * inner), o * batch * inner);
      feeds[name] = new ort.Tensor(dtype, data, arr.shape.map((d, i) => (i === axis ? batch : d)));
    }
    await s.release();
    const r = await latencyRatio(modelPath(e), run.quantizedPath, feeds).catch(() => undefined);
    lat = r ? `${r.wall.toFixed(3)} / ${r.cpu.toFixed(3)}` : 'n/a';
  }
  const size = run.exitCode === 0 ? `${(statSync(run.quantizedPath).size / statSync(modelPath(e)).size).toFixed(3)}×` : '';
  const t = run.task;
  rows.push(`| ${label} | ${e.family} | ${e.traits.join(', ')} | ${run.exitCode}${run.exitCode ? `: ${run.stderr.split('\n').find((l) => l.includes('error')) ?? ''}` : ''} | ${t ? `${t.fp32} → ${t.quantized} (${t.metric})` : ''} | ${t ? (t.kept ? 'yes' : '**no**') : ''} | ${run.report?.outputAgreement?.sqnrDb?.toFixed(1) ?? ''} | ${guard} | ${size} | ${run.seconds.toFixed(1)} | ${lat} |`);
  console.error(`${e.id}: done`);
  cleanUp(run);
}
console.log(`Model zoo, default recipe ({}, wreck guard on) and, where an entry names them, "guard": false and the recipe target, ${new Date().toISOString().slice(0, 10)}, onnxruntime-node CPU, 1 thread for latency (ratios quantized/FP32, median of 7 interleaved rounds of 5 runs at the model's batch).\n`);
console.log(rows.join('\n'));
