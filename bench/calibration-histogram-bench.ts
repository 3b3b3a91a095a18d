// Should calibration's histogram collection run through the native addon? (It does now, for the
// calibrators' collector: the section below times that one too.) Measures the per-batch
// update of the engine's MinMaxHistogramCollector (TypeScript: min/max pass, then binning) against the
// same two steps through native-kernels (minMaxSync + histogramSync into the collector's bins), on real
// activations: every Conv/Relu output of the shared Fashion-MNIST CNN on real test images. Checks the
// native counts equal the TypeScript counts bin for bin first. Run: node bin/run-ts.mjs bench/calibration-histogram-bench.ts
import { performance } from 'node:perf_hooks';
import { MinMaxHistogramCollector } from '../engine/quant/calibration/collectors';
import * as nk from '../native-kernels/lib/index';
import { cnnActivations } from '../test/engine/quant/calibrators/fmnist-activations';

const BATCHES = 8, BATCH = 64, BINS = 2048, ROUNDS = 5;

function tsUpdate(c: MinMaxHistogramCollector, v: Float32Array): void { c.update(v); }

/** The collector's update with both passes native (same range logic, same bin formula). */
class NativeCollector {
  lo = Infinity; hi = -Infinity; hLo = 0; hHi = 0; n = 0; counts = new Float64Array(BINS);
  constructor(private readonly threads: number) {}
  update(v: Float32Array): void {
    const { min, max } = nk.minMaxSync(v, undefined, { threads: this.threads });
    const lo = Math.min(this.lo, min[0]!), hi = Math.max(this.hi, max[0]!);
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return;
    if (this.n === 0) { this.hLo = lo; this.hHi = hi > lo ? hi : lo + 1e-12; }
    else if (lo < this.hLo || hi > this.hHi) throw new Error('widening is not part of this measurement (first batch sets the range)');
    this.lo = lo; this.hi = hi;
    nk.histogramSync(v, { min: this.hLo, max: this.hHi, counts: this.counts }, { threads: this.threads });
    this.n += v.length;
  }
}

const batches = await cnnActivations(BATCHES, BATCH);
const names = Object.keys(batches[0]!);
const elems = names.reduce((a, n) => a + batches[0]![n]!.length, 0);
console.log(`native addon: ${nk.nativeAvailable()}; ${names.length} tensors, ${elems} floats per batch of ${BATCH} images, ${BATCHES} batches, ${ROUNDS} rounds (best of)`);

// Equality: one collector per tensor fed every batch; the range is set by a first pass over all batches
// so neither side widens (widening re-bins and is the same code either way).
let equal = true;
for (const n of names) {
  const all = new Float32Array(batches.length * batches[0]![n]!.length);
  batches.forEach((b, i) => all.set(b[n]!, i * b[n]!.length));
  const t = new MinMaxHistogramCollector(BINS); t.update(all);
  const x = new NativeCollector(1); x.update(all);
  const th = t.histogram().counts;
  for (let b = 0; b < BINS; b++) if (th[b] !== x.counts[b]) { equal = false; console.log(`differs: ${n} bin ${b}: ts ${th[b]} native ${x.counts[b]}`); break; }
}
console.log(`counts equal bin for bin on all ${names.length} tensors: ${equal}`);

function time(make: () => { update(v: Float32Array): void }): number {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const cs = new Map(names.map((n) => [n, make()]));
    const t0 = performance.now();
    for (const b of batches) for (const n of names) cs.get(n)!.update(b[n]!);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}
// Widening (re-binning) exists in the TypeScript collector only; to time the same work, every batch
// carries the tensor's overall min and max in its first two values, so the first batch sets the final range.
for (const n of names) {
  let lo = Infinity, hi = -Infinity;
  for (const b of batches) for (const v of b[n]!) { if (v < lo) lo = v; if (v > hi) hi = v; }
  for (const b of batches) { const a = b[n]!; a[0] = lo; a[1] = hi; }
}
const ts = time(() => { const c = new MinMaxHistogramCollector(BINS); return { update: (v) => tsUpdate(c, v) }; });
const n1 = time(() => new NativeCollector(1));
const n0 = time(() => new NativeCollector(0));
console.log(`TypeScript collector: ${ts.toFixed(1)} ms for ${BATCHES} batches`);
console.log(`native, 1 thread:     ${n1.toFixed(1)} ms (${(ts / n1).toFixed(2)}x)`);
console.log(`native, all threads:  ${n0.toFixed(1)} ms (${(ts / n0).toFixed(2)}x)`);

// The collector calibration runs now (engine/quant/calibrators/histogram.ts, every method): its
// TypeScript passes against the native kernels it uses when the addon loads (same counts: the test
// native-histogram.test.ts), wall and process CPU time, interleaved rounds, median.
{
  const { HistogramCollector, nativeHistogramKernels } = await import('../engine/quant/calibrators/histogram');
  const { loadNativeKernels } = await import('../engine/runtime/native');
  await loadNativeKernels();
  const kernels = nativeHistogramKernels();
  if (kernels) {
    const med = (a: number[]) => a.slice().sort((x, y) => x - y)[a.length >> 1]!;
    const run = (k: typeof kernels | null) => {
      const c0 = process.cpuUsage(), t0 = performance.now();
      const cs = names.map((n) => new HistogramCollector(4096, n, k));
      for (const b of batches) names.forEach((n, i) => cs[i]!.update(b[n]!));
      const c = process.cpuUsage(c0);
      return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1e3 };
    };
    const ts: { wall: number; cpu: number }[] = [], nat: { wall: number; cpu: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) { ts.push(run(null)); nat.push(run(kernels)); }
    const [tw, tc, nw, nc] = [med(ts.map((x) => x.wall)), med(ts.map((x) => x.cpu)), med(nat.map((x) => x.wall)), med(nat.map((x) => x.cpu))];
    console.log(`calibrators' HistogramCollector (4096 bins): TypeScript ${tw.toFixed(0)} ms wall / ${tc.toFixed(0)} ms CPU, native ${nw.toFixed(0)} ms wall (${(tw / nw).toFixed(2)}x) / ${nc.toFixed(0)} ms CPU (${(tc / nc).toFixed(2)}x), median of ${ROUNDS}`);
  }
}

// What share of a whole calibration run is the collector: runCalibration on the same CNN and tensors
// (512 real images, batches of 64) with the engine's collector and with one that only counts values.
const { runCalibration } = await import('../engine/quant/calibration/run-calibration');
const { loadModel } = await import('../engine/onnx/model-io');
const { fmnistImages } = await import('../test/engine/quant/calibrators/fmnist-activations');
const { models } = await import('../test/helpers/shared');
const { model } = await loadModel(models.cnn);
const inputs = { image: { dtype: 'float32' as const, shape: [512, 1, 28, 28], data: fmnistImages(512) } };
async function calib(noop: boolean): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await runCalibration(model, names, inputs, {
      samples: 512, batchSize: 64, device: 'cpu',
      ...(noop ? { makeCollector: () => { let n = 0; return { update: (v: Float32Array) => { n += v.length; }, range: () => ({ min: 0, max: 1 }), histogram: () => ({ edges: new Float64Array(2), counts: new Float64Array(1) }), count: () => n }; } } : {}),
    });
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}
const full = await calib(false), bare = await calib(true);
console.log(`runCalibration, 512 images, ${names.length} tensors: ${full.toFixed(0)} ms with the TypeScript collector, ${bare.toFixed(0)} ms with a counting-only collector (collector share ${((1 - bare / full) * 100).toFixed(0)} %)`);
