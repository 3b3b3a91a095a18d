// Sensitivity analysis: for every quantized node (its weight) and every quantized activation tensor,
// the output error when ONLY it is quantized and when ONLY it is left in float, beside the cumulative
// per-layer error (that tensor with everything before it quantized). Calibration (or the weight-only
// algorithm) runs once (engine/analysis/prepare.ts); every variant is an independent task run in the
// worker pool (engine/analysis/pool.ts).
import { compareModels } from '../eval/layer-error';
import { comparedTensorsFor } from '../eval/compared-tensors';
import type { ScoreSummary } from './report-types';
import type { OutputScores } from '../eval/output-scores';
import type { EvaluationInfo } from '../eval/eval-data';
import { subProgress, type WorkContext } from '../util/work-context';
import { prepareAnalysis, allQuantized, type AnalysisUnit, type PrepareOptions, type PreparedAnalysis } from './prepare';
import { buildVariantDetailed, type VariantTask } from './variant-task';
import { VariantPool, defaultConcurrency } from './pool';
import { badness, type TargetMetric } from './target';
import { withModelFolder } from '../runtime/session';
import { dirname, resolve } from 'node:path';

export type { ScoreSummary };

export interface SensitivityEntry {
  kind: AnalysisUnit['kind'];
  /** Node (weight) or tensor (activation). */
  name: string;
  opType?: string;
  params?: number;
  /** Cumulative: SQNR of this node's output tensor with the whole model quantized (weight units). */
  cumulativeSqnrDb?: number;
  /** Isolated: the model output when only this unit is quantized (everything else float). */
  onlyQuantized: ScoreSummary;
  /** The model output when only this unit is left in float (everything else quantized). */
  onlyFloat: ScoreSummary;
}

export interface SensitivityReport {
  model: string;
  recipe: unknown;
  evaluation: EvaluationInfo;
  calibrationSamples: number;
  /** The metric the entries are ranked by (worst first). */
  rankedBy: TargetMetric;
  /** FP32 task figures on the evaluation data, when it gives them. */
  fp32: { top1?: number; perplexity?: number };
  /** The model with every unit quantized as the recipe says. */
  allQuantized: ScoreSummary;
  entries: SensitivityEntry[];
  notices: string[];
  timing: { wallMs: number; cpuMs: number; tasks: number; workers: number; prepareMs: number };
}

export const summarize = (s: OutputScores): ScoreSummary => ({
  sqnrDb: s.sqnrDb,
  ...(s.undefinedReason ? { undefinedReason: s.undefinedReason } : {}),
  ...(s.top1Agreement !== undefined ? { top1Agreement: s.top1Agreement } : {}),
  ...(s.top1Quantized !== undefined ? { top1: s.top1Quantized } : {}),
  ...(s.perplexityQuantized !== undefined ? { perplexity: s.perplexityQuantized } : {}),
});

/** The two tasks of a unit: only it quantized, only it in float. */
export function unitTasks(p: PreparedAnalysis, u: AnalysisUnit): [VariantTask, VariantTask] {
  const all = allQuantized(p);
  const only: VariantTask = u.kind === 'weight'
    ? { id: `q:${u.kind}:${u.name}`, weights: { [u.name]: 'recipe' }, activations: [] }
    : { id: `q:${u.kind}:${u.name}`, weights: {}, activations: [u.name] };
  const weights: Record<string, 'recipe' | 'float'> = { ...all.weights };
  if (u.kind === 'weight') weights[u.name] = 'float';
  const floatOne: VariantTask = { id: `f:${u.kind}:${u.name}`, weights, activations: u.kind === 'activation' ? all.activations.filter((a) => a !== u.name) : all.activations };
  return [only, floatOne];
}

/** Score of the "only float" variant relative to all quantized: how much of the error the unit carries. */
export function responsibility(e: Pick<SensitivityEntry, 'onlyFloat'>, all: ScoreSummary, metric: TargetMetric): number {
  const b = (s: ScoreSummary) => badness({ sqnrDb: s.sqnrDb, cosine: 0, mse: 0, samples: 0, top1Quantized: s.top1, top1Fp32: 0, perplexityQuantized: s.perplexity, perplexityFp32: 0 }, metric);
  return b(all) - b(e.onlyFloat);
}

export interface SensitivityOptions {
  /** Rank by this metric (default sqnr; top1 / perplexity when the data gives them). */
  metric?: TargetMetric;
  /** Analyse only these units (default: all). */
  units?: AnalysisUnit[];
  concurrency?: number;
  ctx?: WorkContext;
  /** Skip the cumulative per-layer comparison (a quick pass for warnings). */
  cumulative?: boolean;
  /** A pool already holding the shared data (the mixed-precision search reuses its own). */
  pool?: VariantPool;
}

export async function sensitivityFromPrepared(p: PreparedAnalysis, o: SensitivityOptions = {}): Promise<SensitivityReport> {
  const t0 = performance.now(), c0 = process.cpuUsage();
  const units = o.units ?? p.units;
  const all = allQuantized(p);
  const allTask: VariantTask = { id: 'all', ...all };
  const tasks: VariantTask[] = [allTask, ...units.flatMap((u) => unitTasks(p, u))];
  const pool = o.pool ?? new VariantPool(p.shared, Math.min(tasks.length, o.concurrency ?? defaultConcurrency()));
  let results;
  try {
    results = await pool.run(tasks, { ctx: o.ctx, onResult: (_r, done, total) => o.ctx?.onProgress?.({ stage: 'analyze', fraction: done / total, message: `${done}/${total} variants` }) });
  } finally {
    if (!o.pool) await pool.close();
  }
  const byId = new Map(results.map((r) => [r.id, r.scores]));
  const allScores = byId.get('all')!;
  const metric: TargetMetric = o.metric ?? 'sqnr';
  let cumulative = new Map<string, number>();
  if (o.cumulative !== false) cumulative = await cumulativeErrors(p, units, o.ctx);
  const entries: SensitivityEntry[] = units.map((u) => ({
    kind: u.kind, name: u.name, ...(u.opType ? { opType: u.opType } : {}), ...(u.params ? { params: u.params } : {}),
    ...(cumulative.has(u.name) ? { cumulativeSqnrDb: cumulative.get(u.name)! } : {}),
    onlyQuantized: summarize(byId.get(`q:${u.kind}:${u.name}`)!),
    onlyFloat: summarize(byId.get(`f:${u.kind}:${u.name}`)!),
  }));
  const allSummary = summarize(allScores);
  const isolatedBadness = (e: SensitivityEntry) => badness({ sqnrDb: e.onlyQuantized.sqnrDb, cosine: 0, mse: 0, samples: 0, top1Quantized: e.onlyQuantized.top1, top1Fp32: allScores.top1Fp32, perplexityQuantized: e.onlyQuantized.perplexity, perplexityFp32: allScores.perplexityFp32 }, metric);
  // Worst first: the largest isolated error; ties (e.g. exact) by how much leaving it in float helps.
  // A task metric often ties (top-1 unchanged by one layer): then output SQNR decides, isolated first.
  const sq = (x: number) => (Number.isNaN(x) ? -Infinity : x);
  entries.sort((a, b) => isolatedBadness(b) - isolatedBadness(a) || responsibility(b, allSummary, metric) - responsibility(a, allSummary, metric)
    || sq(a.onlyQuantized.sqnrDb) - sq(b.onlyQuantized.sqnrDb) || sq(b.onlyFloat.sqnrDb) - sq(a.onlyFloat.sqnrDb));
  const cpu = process.cpuUsage(c0);
  return {
    model: '', recipe: p.shared.recipe, evaluation: p.evaluation, calibrationSamples: p.calibrationSamples, rankedBy: metric,
    fp32: { ...(allScores.top1Fp32 !== undefined ? { top1: allScores.top1Fp32 } : {}), ...(allScores.perplexityFp32 !== undefined ? { perplexity: allScores.perplexityFp32 } : {}) },
    allQuantized: allSummary, entries, notices: [...p.notices],
    // CPU of this process: worker threads are threads of it, so their time is included.
    timing: { wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, tasks: tasks.length, workers: pool.inProcess ? 1 : pool.size, prepareMs: p.timingsMs.prepare ?? 0 },
  };
}

/** Cumulative per-layer SQNR: each weight unit's output tensor in the fully quantized model vs FP32. */
async function cumulativeErrors(p: PreparedAnalysis, units: AnalysisUnit[], ctx?: WorkContext): Promise<Map<string, number>> {
  const { model: quantized, dequantized } = buildVariantDetailed(p.shared, { id: 'all', ...allQuantized(p) });
  const nodes = units.filter((u) => u.kind === 'weight' && u.tensor).map((u) => ({ node: u.name, opType: u.opType ?? '', tensor: u.tensor! }));
  const tensors = comparedTensorsFor(p.original, quantized, nodes, dequantized);
  const cmp = await compareModels(p.original, quantized, tensors, p.shared.evalInputs, { samples: p.shared.samples, offset: 0, batchSize: p.shared.batchSize, device: 'cpu', ctx: subProgress(ctx, 'analyze', 0.95, 1) });
  return new Map(cmp.layers.map((l) => [l.node ?? l.tensor, l.sqnrDb]));
}

/** `qstudio analyze`: prepare once, then every unit's two variants in the pool. Sessions made from
 *  bytes during the analysis read external data from the model's own folder. */
export function analyzeSensitivity(o: PrepareOptions & SensitivityOptions): Promise<SensitivityReport> {
  return withModelFolder(dirname(resolve(o.modelPath)), () => analyzeSensitivityInFolder(o));
}

async function analyzeSensitivityInFolder(o: PrepareOptions & SensitivityOptions): Promise<SensitivityReport> {
  const t0 = performance.now(), c0 = process.cpuUsage();
  const p = await prepareAnalysis({ ...o, ctx: subProgress(o.ctx, 'prepare', 0, 0.3) });
  const r = await sensitivityFromPrepared(p, { ...o, ctx: subProgress(o.ctx, 'analyze', 0.3, 1) });
  const cpu = process.cpuUsage(c0);
  r.model = o.modelPath;
  r.timing = { ...r.timing, wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
  return r;
}
