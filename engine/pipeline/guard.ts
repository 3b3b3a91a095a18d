// The wreck guard: what keeps the default recipe from shipping a model that no longer does its job.
// A W8A8 QDQ run without a "target" is measured as usual (worst output SQNR on the evaluation data).
// When that figure is below GUARD_TRIGGER_DB — a wreck, not just the warning's "visibly off" — the
// run is searched again with the recipe target {"metric":"sqnr","min":GUARD_TARGET_DB}
// (engine/analysis/mixed-precision.ts): the most responsible activation tensors and weights are left in
// float until the target holds, every decision reported. A run at or above the trigger costs nothing
// more (no search, no second calibration). `"guard": false` in the recipe turns it off.
//
// Why a search rather than another calibration method: on the zoo's wrecked models (BlazeFace
// full-range, PP-OCR detection, the openWakeWord melspectrogram) the damage comes from a few tensors
// whose range no uint8 grid can hold (a power spectrum spanning 1 ... 1e11; detector heads whose
// small scores are summed with large ones). Percentile calibration clips the large values instead of
// losing the small ones and loses the task either way (docs/measurements/zoo-2026-12-07.md).
import type { Recipe } from './recipe';
import type { GuardReport, MixedPrecisionReport, QuantizeReport } from '../../contract/report';
import type { WorkContext } from '../util/work-context';
import { recipeStages } from './stages/stage';
import { fmtSqnr } from '../analysis/report-format';
import { DIAGNOSIS_MEMORY_FACTOR } from '../eval/evaluate-run';
import { runMemoryBudget } from '../runtime/memory-budget';
import { formatGiB } from '../util/format-bytes';

/**
 * Below this worst output SQNR (dB) the fully quantized model counts as wrecked: the error is over
 * 10 % of the output's power. Lower than the warning's 20 dB on purpose. On the zoo every model that
 * lost its task was below it (BlazeFace full-range -4.4, PP-OCR detection 5.6, the melspectrogram 7.8),
 * while the two between 10 and 20 dB kept theirs (PP-OCR recognition 11.2, the openWakeWord embedding
 * 17.9) and a search there would only cost: on the embedding it took 170 s instead of 17 s and wrote
 * 0.94x FP32 instead of 0.31x for the same 16/16 wake decisions. Those still get the warning.
 */
export const GUARD_TRIGGER_DB = 10;
/**
 * What the guard's search must reach: well above the trigger and the warning. BlazeFace full-range
 * searched to 20 dB came back at 20.1 dB and still missed 1 face of 9; at 30 dB it kept 9 of 9, as did
 * the melspectrogram (16/16 clips).
 */
export const GUARD_TARGET_DB = 30;

export const guardTarget = (): GuardReport['target'] => ({ metric: 'sqnr', min: GUARD_TARGET_DB });

/**
 * Why the guard does not watch this run (undefined: it does). It watches W8A8 QDQ runs: weight-only
 * recipes are judged by perplexity and searched with an explicit target; QAT trains its own ranges.
 */
export function guardOff(recipe: Recipe, evaluate: boolean): string | undefined {
  if (recipe.guard === false) return 'turned off in the recipe ("guard": false)';
  if (recipe.target) return 'the recipe has its own "target"';
  if (recipe.activations === null) return 'weight-only recipe';
  if (recipe.format !== 'qdq') return `format ${recipe.format}`;
  if (recipeStages(recipe, 'training').length > 0) return 'a training stage calibrates its own plan';
  if (!evaluate) return 'no evaluation';
  return undefined;
}

/** Whether a fully quantized run's worst output SQNR sets the guard off (an undefined figure does not). */
export const guardTriggered = (sqnrDb: number | undefined): boolean => sqnrDb !== undefined && !Number.isNaN(sqnrDb) && sqnrDb < GUARD_TRIGGER_DB;

/** The guard's account of a searched run, from its mixed-precision report. */
export function guardReport(firstSqnrDb: number, firstRunMs: number, guarded: Pick<QuantizeReport, 'mixedPrecision' | 'outputAgreement'>): GuardReport {
  const assignment = guarded.mixedPrecision?.assignment ?? [];
  const float = (kind: 'weight' | 'activation') => assignment.filter((a) => a.kind === kind && a.level === 'float').map((a) => a.name);
  return {
    thresholdDb: GUARD_TRIGGER_DB, firstSqnrDb, target: guardTarget(), kept: true, sqnrDb: guarded.outputAgreement?.sqnrDb,
    floatWeights: float('weight'), floatActivations: float('activation'), firstRunMs,
  };
}

/** The notice a guarded run leads with: what set it off, what it left in float, and how to turn it off. */
export function guardNotice(g: GuardReport, on: string, mp: MixedPrecisionReport | undefined): string {
  if (!g.kept) return `Guard: the fully quantized model's output SQNR ${fmtSqnr(g.firstSqnrDb)} on ${on} is below ${g.thresholdDb} dB, but the search for ${g.target.min} dB failed (${g.error}); the fully quantized model was written.`;
  const left = [...g.floatActivations.map((n) => `activation ${n}`), ...g.floatWeights.map((n) => `node ${n}`)];
  const listed = left.length ? `left ${left.length} unit(s) in float (${left.slice(0, 4).join(', ')}${left.length > 4 ? ', ...' : ''})` : 'left nothing in float';
  const reached = g.sqnrDb === undefined ? '' : ` -> ${fmtSqnr(g.sqnrDb)}`;
  const verdict = mp && !mp.met ? ` (${g.target.min} dB not reached: the best assignment found was written)` : '';
  return `Guard: the fully quantized model's output SQNR ${fmtSqnr(g.firstSqnrDb)} on ${on} is below ${g.thresholdDb} dB, so the run was searched again for ${g.target.min} dB and ${listed}${reached}${verdict}; every decision is listed under "Target". Set "guard": false in the recipe to keep the fully quantized model.`;
}

/**
 * The guard's search runs after the fully quantized run reached its evaluation (80 %): its own
 * progress is mapped into 85-99 % as stage "guard", never going back.
 */
export function guardProgress(ctx: WorkContext | undefined): WorkContext | undefined {
  if (!ctx) return ctx;
  let done = 0;
  return {
    ...ctx,
    onProgress: (e) => {
      if (e.stage === 'done') return;
      done = Math.max(done, Math.min(1, Math.max(0, e.fraction)));
      ctx.onProgress?.({ ...e, stage: 'guard', message: `guard: ${e.message ?? e.stage}`, fraction: 0.85 + 0.14 * done });
    },
  };
}

/**
 * Why the guard's search cannot run on a model of `modelBytes` (undefined: it can). The search prepares
 * an analysis of the whole model, as the quality warning's quick diagnosis does (every layer rounded
 * twice, with float copies: about DIAGNOSIS_MEMORY_FACTOR times the weights), and must stay within the
 * run's memory budget: on the 100 M-parameter LLaMA-style fixture (383 MiB, external data) W8A8's
 * search had reached a peak RSS of 1.54 GiB (4.1x the model) when it was stopped after 7 minutes; on a
 * 1 B-parameter model it would not fit a 24 GB machine.
 */
export function guardMemoryReason(modelBytes: number): string | undefined {
  const need = DIAGNOSIS_MEMORY_FACTOR * modelBytes, budget = runMemoryBudget(modelBytes);
  if (!modelBytes || need <= budget) return undefined;
  return `its search was not run: on this ${formatGiB(modelBytes, 1)} model it would hold about ${formatGiB(need, 1)}, over the run's memory budget of ${formatGiB(budget, 1)} ("qstudio analyze" measures the layers one by one; a recipe "target" then picks what stays float)`;
}

/** The notice of a triggered guard whose search did not run (guardMemoryReason). */
export function guardSkippedNotice(firstSqnrDb: number, on: string, reason: string): string {
  return `Guard: the fully quantized model's output SQNR ${fmtSqnr(firstSqnrDb)} on ${on} is below ${GUARD_TRIGGER_DB} dB, but ${reason}; the fully quantized model was written.`;
}
