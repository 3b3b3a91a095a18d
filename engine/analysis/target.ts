// The recipe's "target" (../shared/cli-contract.md): the accuracy a mixed-precision assignment must
// keep on the evaluation data, and how each metric is read off a variant's scores.
//   { "metric": "sqnr", "min": dB }            output SQNR vs FP32 >= min
//   { "metric": "top1", "maxDrop": fraction }  FP32 top-1 - quantized top-1 <= maxDrop (needs labels)
//   { "metric": "perplexity", "maxIncrease": x } quantized perplexity - FP32 perplexity <= x (token windows)
import { StudioError } from '../errors';
import { parseTargetContract, RecipeError } from '../../contract/recipe';
import type { OutputScores } from '../eval/output-scores';

import type { AccuracyTarget, TargetMetric } from './report-types';
export type { AccuracyTarget, TargetMetric };

/** The target validated by the recipe contract's own schema (contract/recipe.ts TargetSchema), as a StudioError('BAD_RECIPE') when it is wrong. */
export function parseTarget(v: unknown): AccuracyTarget {
  try {
    return parseTargetContract(v);
  } catch (e) {
    if (e instanceof RecipeError) throw new StudioError('BAD_RECIPE', e.message);
    throw e;
  }
}

/** The recipe's target, wherever the recipe parser put it (undefined: none). */
export function recipeTarget(recipe: unknown): AccuracyTarget | undefined {
  const t = (recipe as { target?: unknown } | undefined)?.target;
  return t === undefined || t === null ? undefined : parseTarget(t);
}

/** The metric's value: SQNR in dB, top-1 drop (fraction), perplexity increase; NaN when the data cannot give it. */
export function metricValue(s: OutputScores, metric: TargetMetric): number {
  switch (metric) {
    case 'sqnr': return s.sqnrDb;
    case 'top1': return s.top1Fp32 !== undefined && s.top1Quantized !== undefined ? s.top1Fp32 - s.top1Quantized : NaN;
    case 'perplexity': return s.perplexityFp32 !== undefined && s.perplexityQuantized !== undefined ? s.perplexityQuantized - s.perplexityFp32 : NaN;
  }
}

/** Higher is worse, for ranking: -SQNR, top-1 drop, perplexity increase (undefined ranks worst). */
export function badness(s: OutputScores, metric: TargetMetric): number {
  const v = metricValue(s, metric);
  if (Number.isNaN(v)) return Infinity;
  return metric === 'sqnr' ? -v : v;
}

export function meetsTarget(s: OutputScores, t: AccuracyTarget): boolean {
  const v = metricValue(s, t.metric);
  if (Number.isNaN(v)) return false;
  // A hair of tolerance: 0.9 - 0.895 is 0.0050000000000000044 in floating point.
  const eps = 1e-9;
  switch (t.metric) {
    case 'sqnr': return v >= t.min - eps;
    case 'top1': return v <= t.maxDrop + eps;
    case 'perplexity': return v <= t.maxIncrease + eps;
  }
}

/** Why a target cannot be measured on this data, or undefined when it can. */
export function targetUnmeasurable(s: OutputScores, t: AccuracyTarget): string | undefined {
  if (!Number.isNaN(metricValue(s, t.metric))) return undefined;
  switch (t.metric) {
    case 'sqnr': return `output SQNR is undefined on the evaluation data (${s.undefinedReason ?? 'no values'})`;
    case 'top1': return 'top-1 needs labels (--eval-labels, or --labels with a held-out split) and an output of class scores [N, classes]';
    case 'perplexity': return 'perplexity needs one int64 [N, T] token-window input and an output [N, T, vocabulary]';
  }
}

export const describeMetric = (s: OutputScores, metric: TargetMetric): string => {
  const v = metricValue(s, metric);
  if (Number.isNaN(v)) return 'undefined';
  if (metric === 'sqnr') return Number.isFinite(v) ? `output SQNR ${v.toFixed(1)} dB` : 'output SQNR exact (identical)';
  if (metric === 'top1') return `top-1 ${(100 * s.top1Quantized!).toFixed(2)} % (FP32 ${(100 * s.top1Fp32!).toFixed(2)} %, drop ${(100 * v).toFixed(2)} points)`;
  return `perplexity ${s.perplexityQuantized!.toFixed(4)} (FP32 ${s.perplexityFp32!.toFixed(4)}, +${v.toFixed(4)})`;
};

export const describeTarget = (t: AccuracyTarget): string =>
  t.metric === 'sqnr' ? `output SQNR >= ${t.min} dB` : t.metric === 'top1' ? `top-1 drop <= ${(100 * t.maxDrop).toFixed(2)} points` : `perplexity increase <= ${t.maxIncrease}`;
