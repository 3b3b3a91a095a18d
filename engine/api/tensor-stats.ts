// The numbers behind the range and histogram views: for one tensor, the float range each calibration
// method picks, and for each range the symmetric and the asymmetric integer grid — how much of the
// data they clip, how many codes they waste, and the error (MSE, SQNR) they cause. Weights are
// measured exactly on their values; activations on the calibrators' streaming histogram. The ranges
// come from the engine's calibrators (engine/quant/calibrators), the same ones a run uses.
import type { QuantChoice } from '../../contract/ipc';
import { qparamsForRange } from '../quant/math/qparams';
import type { WeightDType } from '../pipeline/recipe';
import { dtypeInfo } from '../core/dtypes';
import type { TensorHistogram } from '../quant/calibration/collectors';
import { createCalibrator, type Calibrator, type Histogram } from '../quant/calibrators';
import { minMaxPerParam } from '../quant/math/layout';
import { StudioError, quote, type StudioErrorCode } from '../errors';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type RangeMethod = 'minmax' | 'percentile' | 'entropy' | 'mse';
export const RANGE_METHODS: readonly RangeMethod[] = ['minmax', 'percentile', 'entropy', 'mse'];

/** Histogram of values over [min, max] (the renderer's plot and the estimates both read it). */
export function histogramOf(values: ArrayLike<number>, bins: number, min?: number, max?: number): TensorHistogram {
  let lo = min ?? Infinity, hi = max ?? -Infinity;
  if (min === undefined || max === undefined) for (let i = 0; i < values.length; i++) { const v = values[i]!; if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!(hi > lo)) hi = lo + 1e-12;
  const counts = new Float64Array(bins), k = bins / (hi - lo);
  for (let i = 0; i < values.length; i++) {
    let b = Math.floor((values[i]! - lo) * k);
    if (b >= bins) b = bins - 1; else if (b < 0) b = 0;
    counts[b]!++;
  }
  const edges = new Float64Array(bins + 1);
  for (let i = 0; i <= bins; i++) edges[i] = lo + ((hi - lo) * i) / bins;
  return { edges, counts };
}

/** Squared error of quantizing histogram mass with (scale, zp) on [qmin, qmax], at bin centres. */
function histogramError(h: TensorHistogram, scale: number, zp: number, qmin: number, qmax: number): { mse: number; clipped: number; power: number; total: number } {
  let se = 0, clipped = 0, power = 0, total = 0;
  const gLo = (qmin - zp) * scale, gHi = (qmax - zp) * scale;
  for (let b = 0; b < h.counts.length; b++) {
    const n = h.counts[b]!;
    if (!n) continue;
    const c = (h.edges[b]! + h.edges[b + 1]!) / 2;
    const q = Math.min(qmax, Math.max(qmin, Math.round(c / scale) + zp));
    const d = c - (q - zp) * scale;
    se += n * d * d;
    power += n * c * c;
    total += n;
    if (c < gLo - scale / 2 || c > gHi + scale / 2) clipped += n;
  }
  return { mse: total ? se / total : 0, clipped: total ? clipped / total : 0, power: total ? power / total : 0, total };
}

/** Evaluate one range with one scheme: exactly on `values` when given, else on the histogram. */
export function evaluateChoice(
  method: RangeMethod, scheme: 'symmetric' | 'asymmetric', bits: number, range: { min: number; max: number },
  data: { values?: ArrayLike<number>; histogram: TensorHistogram; min: number; max: number },
): QuantChoice {
  const dtype = (scheme === 'symmetric' ? `int${bits}` : `uint${bits}`) as WeightDType;
  const { qmin, qmax } = dtypeInfo(dtype);
  const { scale, zeroPoint } = qparamsForRange(range.min, range.max, { dtype, scheme });
  let mse: number, clippedFraction: number, power: number;
  if (data.values) {
    const v = data.values, gLo = (qmin - zeroPoint) * scale, gHi = (qmax - zeroPoint) * scale;
    let se = 0, cl = 0, pw = 0;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      const q = Math.min(qmax, Math.max(qmin, Math.round(x / scale) + zeroPoint));
      const d = x - (q - zeroPoint) * scale;
      se += d * d; pw += x * x;
      if (x < gLo - scale / 2 || x > gHi + scale / 2) cl++;
    }
    mse = v.length ? se / v.length : 0; clippedFraction = v.length ? cl / v.length : 0; power = v.length ? pw / v.length : 0;
  } else {
    const e = histogramError(data.histogram, scale, zeroPoint, qmin, qmax);
    mse = e.mse; clippedFraction = e.clipped; power = e.power;
  }
  const loCode = Math.min(qmax, Math.max(qmin, Math.round(data.min / scale) + zeroPoint));
  const hiCode = Math.min(qmax, Math.max(qmin, Math.round(data.max / scale) + zeroPoint));
  const wastedCodes = qmax - qmin + 1 - (hiCode - loCode + 1);
  const sqnrDb = mse > 0 ? 10 * Math.log10(power / mse) : 200;
  return {
    method, scheme, dtype, rangeMin: range.min, rangeMax: range.max,
    gridMin: (qmin - zeroPoint) * scale, gridMax: (qmax - zeroPoint) * scale,
    scale, zeroPoint, qmin, qmax, clippedFraction, wastedCodes, mse, sqnrDb: Math.min(200, sqnrDb),
  };
}

/** One calibrator per method (engine/quant/calibrators), fed the same values. */
export function makeCalibrators(percentile: number, name = ''): Map<RangeMethod, Calibrator> {
  return new Map(RANGE_METHODS.map((m) => [m, createCalibrator(m, { name, percentile })]));
}

/** The calibrators' streaming histogram as edges + counts. */
export function toTensorHistogram(h: Histogram): TensorHistogram {
  const edges = new Float64Array(h.counts.length + 1);
  for (let i = 0; i <= h.counts.length; i++) edges[i] = h.lo + i * h.binWidth;
  return { edges, counts: h.counts };
}

/** Every method × both schemes: each calibrator picks its range for that scheme, then it is scored. */
export function quantChoices(cals: Map<RangeMethod, Calibrator>, data: { values?: ArrayLike<number>; histogram: TensorHistogram; min: number; max: number }, bits: number): QuantChoice[] {
  const out: QuantChoice[] = [];
  for (const m of RANGE_METHODS) {
    for (const s of ['symmetric', 'asymmetric'] as const) {
      const dtype = (s === 'symmetric' ? `int${bits}` : `uint${bits}`) as WeightDType;
      const r = cals.get(m)!.compute({ dtype, scheme: s });
      out.push(evaluateChoice(m, s, bits, r, data));
    }
  }
  return out;
}

/** Re-bin a histogram to `bins` bins for plotting. */
export function plotHistogram(h: TensorHistogram, bins = 200, range?: { min: number; max: number }): { lo: number; hi: number; counts: number[] } {
  const n = h.counts.length;
  const lo = range?.min ?? h.edges[0]!, hi = range && range.max > range.min ? range.max : Math.max(h.edges[n]!, lo + 1e-12);
  const counts = new Array<number>(bins).fill(0);
  for (let b = 0; b < n; b++) {
    if (!h.counts[b]) continue;
    const c = (h.edges[b]! + h.edges[b + 1]!) / 2;
    counts[Math.min(bins - 1, Math.max(0, Math.floor(((c - lo) / (hi - lo)) * bins)))]! += h.counts[b]!;
  }
  return { lo, hi, counts };
}

/** Mean and standard deviation from values or a histogram. */
export function moments(data: { values?: ArrayLike<number>; histogram: TensorHistogram }): { mean: number; std: number; count: number } {
  let s = 0, s2 = 0, n = 0;
  if (data.values) {
    const v = data.values;
    for (let i = 0; i < v.length; i++) { s += v[i]!; s2 += v[i]! * v[i]!; }
    n = v.length;
  } else {
    const h = data.histogram;
    for (let b = 0; b < h.counts.length; b++) { const c = (h.edges[b]! + h.edges[b + 1]!) / 2, k = h.counts[b]!; s += k * c; s2 += k * c * c; n += k; }
  }
  const mean = n ? s / n : 0;
  return { mean, std: n ? Math.sqrt(Math.max(0, s2 / n - mean * mean)) : 0, count: n };
}

/** A weight's statistics for the Ranges view: range, moments, plot histogram, every method × scheme
 *  scored exactly on the values, and per-channel extremes along `channelAxis`. */
export interface WeightStatsInput { values: Float32Array; dims: number[]; channelAxis?: number; bits: number; percentile: number; name: string }
export interface WeightStatsResult {
  count: number; min: number; max: number; mean: number; std: number;
  histogram: { lo: number; hi: number; counts: number[] }; choices: QuantChoice[];
  perChannel: { axis: number; min: number[]; max: number[] } | null;
}

export function weightStats(i: WeightStatsInput): WeightStatsResult {
  // The work is bounded by the data actually held: dims that claim more than the values (a model
  // the loader would refuse) are never walked.
  const declared = i.dims.reduce((a, b) => a * b, 1);
  if (declared !== i.values.length) throw new StudioError('BAD_MODEL', `Tensor ${quote(i.name)} declares [${i.dims.join(', ')}] (${declared} values) but holds ${i.values.length}.`);
  const cals = makeCalibrators(i.percentile, i.name);
  for (const c of cals.values()) c.update(i.values);
  const h = cals.get('minmax')!.histogram();
  const { min, max } = h;
  const histogram = toTensorHistogram(h);
  const mo = moments({ values: i.values, histogram });
  let perChannel: WeightStatsResult['perChannel'] = null;
  if (i.channelAxis !== undefined && i.dims.length >= 2) {
    const r = minMaxPerParam(i.values, i.dims, i.channelAxis);
    perChannel = { axis: i.channelAxis, min: Array.from(r.min), max: Array.from(r.max) };
  }
  return {
    count: i.values.length, min, max, mean: mo.mean, std: mo.std, histogram: plotHistogram(histogram, 200, { min, max }),
    choices: quantChoices(cals, { values: i.values, histogram, min, max }, i.bits), perChannel,
  };
}

/** From this many values on, weight statistics run in a worker thread: a large weight takes seconds
 *  (four calibrators, eight exact scorings), which on the host's main thread would stall every other
 *  request and the WebSocket. Below it, a worker's start-up costs more than the work. */
export const WEIGHT_STATS_WORKER_MIN = 1 << 20;

/** weightStats off the main thread for large weights (the values are transferred, not copied). Where a
 *  worker cannot be started (a bundle without the TypeScript loader), it runs here instead. */
export async function weightStatsOffThread(i: WeightStatsInput, minValues = WEIGHT_STATS_WORKER_MIN): Promise<WeightStatsResult & { thread: 'worker' | 'main' }> {
  if (i.values.length < minValues) return { ...weightStats(i), thread: 'main' };
  let worker: Worker;
  try {
    const shim = fileURLToPath(new URL('../jobs/worker-shim.mjs', import.meta.url));
    if (!existsSync(shim)) return { ...weightStats(i), thread: 'main' };
    const target = new URL('./tensor-stats-worker.ts', import.meta.url).href;
    const copy = i.values.slice(); // the caller may keep using its array; the copy is moved to the worker
    worker = new Worker(shim, { workerData: { __target: target, input: { ...i, values: copy } }, transferList: [copy.buffer], name: 'tensor-stats' });
  } catch {
    return { ...weightStats(i), thread: 'main' };
  }
  return await new Promise((resolve, reject) => {
    let settled = false;
    worker.once('message', (m: { ok: boolean; result?: WeightStatsResult; error?: { code: string; message: string } }) => {
      settled = true;
      void worker.terminate();
      if (m.ok) resolve({ ...m.result!, thread: 'worker' });
      else reject(new StudioError((m.error?.code ?? 'INTERNAL') as StudioErrorCode, m.error?.message ?? 'tensor statistics failed'));
    });
    worker.once('error', (e) => { if (!settled) { settled = true; reject(new StudioError('INTERNAL', `Tensor statistics for ${quote(i.name)} failed in a worker: ${e.message}`, { cause: e })); } });
    worker.once('exit', (code) => { if (!settled) { settled = true; reject(new StudioError('INTERNAL', `Tensor statistics worker for ${quote(i.name)} exited (code ${code}) without a result.`)); } });
  });
}
