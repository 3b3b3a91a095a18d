// Quality warnings: when the quantized model's output error or task metric crosses a threshold, say so
// and name the layers/tensors most responsible, found by a quick, time-bounded isolated sensitivity
// pass (engine/analysis/sensitivity.ts) over the candidates.
//
// Thresholds (documented in docs/sensitivity.md):
//   output SQNR below WARN_SQNR_DB (20 dB: the output error is over 1 % of its power, where class
//   scores, boxes and spectra visibly move), top-1 drop above WARN_TOP1_DROP (1 point), perplexity
//   increase above WARN_PERPLEXITY_INCREASE (1 % of the FP32 perplexity).
import type { NpyArray } from '../data/npy';
import type { Recipe } from '../../contract/recipe';
import type { OutputScores } from '../eval/output-scores';
import type { EvaluationData } from '../eval/eval-data';
import type { WorkContext } from '../util/work-context';
import { prepareAnalysis, type AnalysisUnit } from './prepare';
import { sensitivityFromPrepared, type SensitivityEntry } from './sensitivity';
import { fmtSqnr } from './report-format';
import type { Culprit, QualityWarning } from './report-types';

export const WARN_SQNR_DB = 20;
export const WARN_TOP1_DROP = 0.01;
export const WARN_PERPLEXITY_INCREASE = 0.01;
/** The quick diagnosis stops starting new variants after this long. */
export const DIAGNOSIS_BUDGET_MS = 60_000;
/** Name at most this many culprits. */
export const CULPRITS = 3;

export type { Culprit, QualityWarning };

/** The thresholds the scores cross (empty: no warning). */
export function crossedThresholds(s: OutputScores): Omit<QualityWarning, 'message' | 'culprits'>[] {
  const out: Omit<QualityWarning, 'message' | 'culprits'>[] = [];
  if (!Number.isNaN(s.sqnrDb) && s.sqnrDb < WARN_SQNR_DB) out.push({ metric: 'sqnr', value: s.sqnrDb, threshold: WARN_SQNR_DB });
  if (s.top1Fp32 !== undefined && s.top1Quantized !== undefined && s.top1Fp32 - s.top1Quantized > WARN_TOP1_DROP) out.push({ metric: 'top1', value: s.top1Fp32 - s.top1Quantized, threshold: WARN_TOP1_DROP });
  if (s.perplexityFp32 !== undefined && s.perplexityQuantized !== undefined && s.perplexityQuantized - s.perplexityFp32 > WARN_PERPLEXITY_INCREASE * s.perplexityFp32) out.push({ metric: 'perplexity', value: s.perplexityQuantized - s.perplexityFp32, threshold: WARN_PERPLEXITY_INCREASE * s.perplexityFp32 });
  return out;
}

function describe(c: Omit<QualityWarning, 'message' | 'culprits'>, on: string): string {
  if (c.metric === 'sqnr') return `output SQNR ${fmtSqnr(c.value)} on ${on} is below ${c.threshold} dB: the quantized model's output is visibly off`;
  if (c.metric === 'top1') return `top-1 drops by ${(100 * c.value).toFixed(2)} points on ${on} (threshold ${(100 * c.threshold).toFixed(0)} point)`;
  return `perplexity rises by ${c.value.toFixed(4)} on ${on} (threshold ${c.threshold.toFixed(4)}, 1 % of FP32)`;
}

/**
 * Warnings for a finished run: if a threshold is crossed, re-prepare the analysis (one calibration)
 * and measure units with a time bound, then name the worst. `unitOrder` puts the likeliest culprits
 * first (e.g. by cumulative error) so a bounded pass still sees them.
 */
export async function qualityWarnings(scores: OutputScores, o: {
  modelPath: string; recipe: Recipe; calibration: Record<string, NpyArray>; evaluation: EvaluationData;
  budgetMs?: number; concurrency?: number; ctx?: WorkContext; unitOrder?: (u: AnalysisUnit[]) => AnalysisUnit[];
  /** Why the quick sensitivity pass must not run (e.g. it would not fit the run's memory budget): the
   *  warnings are given without culprits, with this reason. */
  skipDiagnosis?: string;
}): Promise<QualityWarning[]> {
  const crossed = crossedThresholds(scores);
  if (crossed.length === 0) return [];
  const t0 = performance.now();
  const budget = o.budgetMs ?? DIAGNOSIS_BUDGET_MS;
  let entries: SensitivityEntry[] = [];
  let analysed: QualityWarning['analysed'];
  let failure = o.skipDiagnosis ? ` (${o.skipDiagnosis})` : '';
  if (!o.skipDiagnosis) try {
    // Quick means quick: GPTQ/AWQ would run again in full, so the pass ranks weight-only layers by
    // round-to-nearest at the same bits (the ranking, not the figures, is what it is for).
    const quickRecipe = o.recipe.activations === null && o.recipe.algorithms.some((a) => a.name === 'gptq' || a.name === 'awq')
      ? { ...o.recipe, algorithms: [{ name: 'rtn' as const }] } : o.recipe;
    const p = await prepareAnalysis({
      modelPath: o.modelPath, recipe: { ...quickRecipe, target: undefined } as Recipe, inputs: o.calibration, evalInputs: o.evaluation.inputs, evalLabels: o.evaluation.labels,
      evaluationInfo: o.evaluation.info, evalSamples: Math.min(o.evaluation.info.samples, 64), ctx: o.ctx,
    });
    let units = o.unitOrder ? o.unitOrder(p.units) : p.units;
    // Bound the pass: estimate one variant from the preparation's reference run, keep what fits.
    const perVariant = Math.max(1, p.timingsMs.reference ?? 1000) * 1.5;
    const fit = Math.max(CULPRITS, Math.floor((budget - (performance.now() - t0)) / (2 * perVariant)) * Math.max(1, o.concurrency ?? 1));
    units = units.slice(0, fit);
    const metric = crossed[0]!.metric;
    const r = await sensitivityFromPrepared(p, { units, metric, concurrency: o.concurrency, cumulative: false, ctx: o.ctx });
    // r.entries is worst first by isolated error (alone quantized), ties by what leaving it float repairs.
    entries = r.entries;
    analysed = { units: units.length, of: p.units.length, ms: performance.now() - t0, samples: p.shared.samples };
  } catch (e) {
    failure = ` (the quick sensitivity pass failed: ${(e as Error).message})`;
  }
  const culprits: Culprit[] = entries.slice(0, CULPRITS).map((e) => ({ kind: e.kind, name: e.name, ...(e.opType ? { opType: e.opType } : {}), onlyQuantizedSqnrDb: e.onlyQuantized.sqnrDb, onlyFloatSqnrDb: e.onlyFloat.sqnrDb }));
  const named = culprits.map((c) => `${c.kind === 'weight' ? 'node' : 'activation'} ${c.name} (left in float: output ${fmtSqnr(c.onlyFloatSqnrDb)}; alone quantized: ${fmtSqnr(c.onlyQuantizedSqnrDb)})`).join('; ');
  const scope = analysed ? ` (quick pass on ${analysed.samples} of those samples${analysed.units < analysed.of ? `, ${analysed.units} of ${analysed.of} units` : ''})` : '';
  return crossed.map((c) => ({
    ...c, culprits, ...(analysed ? { analysed } : {}),
    message: `${describe(c, o.evaluation.info.description)}.${named ? ` Most responsible${scope}: ${named}. Exclude them, raise them to int8/float, or set a recipe "target" to choose per-layer precision automatically.` : failure}`,
  }));
}
