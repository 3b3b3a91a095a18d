// Which samples measure a quantization, apart from the ones that calibrated (or trained) it.
// With evaluation data given (CLI --eval-data / --eval-labels, a pipeline's evaluation dataset) every
// figure is measured on it; without, the last HELD_OUT_FRACTION of the given data is held out (at
// least one sample) and calibration uses the rest. Evaluation uses every evaluation sample up to
// EVAL_SAMPLE_CAP (the summary says how many); only a single-sample dataset is evaluated on its own
// calibration sample, and then the description says so.
import type { NpyArray } from '../data/npy';
import { sliceSamples, sampleCount, isConstantInput, fixedRunSize, markFixedRunSize } from '../runtime/batching';
import { StudioError } from '../errors';
import type { EvaluationInfo } from '../../contract/report';

/** The share of --data held out for evaluation when no evaluation data is given. */
export const HELD_OUT_FRACTION = 0.2;
/** At most this many evaluation samples are run (the rest are not: the summary states the count). */
export const EVAL_SAMPLE_CAP = 512;

export type { EvaluationSource, EvaluationInfo } from '../../contract/report';

export interface EvaluationData {
  inputs: Record<string, NpyArray>;
  labels?: NpyArray;
  info: EvaluationInfo;
}

export interface EvaluationSplit {
  /** What calibration (and QAT training) may use. */
  calibration: { inputs: Record<string, NpyArray>; labels?: NpyArray };
  evaluation?: EvaluationData;
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/**
 * Split `inputs`/`labels` into calibration and evaluation parts, or take `evalInputs` as the
 * evaluation data. `dataName` / `evalName` say where each came from in descriptions ("--data").
 */
export function splitEvaluation(o: {
  inputs: Record<string, NpyArray>; labels?: NpyArray;
  evalInputs?: Record<string, NpyArray>; evalLabels?: NpyArray;
  dataName?: string; evalName?: string; cap?: number;
}): EvaluationSplit {
  const cap = o.cap ?? EVAL_SAMPLE_CAP;
  const dataName = o.dataName ?? '--data', evalName = o.evalName ?? '--eval-data';
  if (o.evalInputs && Object.keys(o.evalInputs).length) {
    const available = sampleCount(o.evalInputs);
    if (o.evalLabels && o.evalLabels.shape[0]! < available) {
      throw new StudioError('BAD_DATA', `Evaluation labels hold ${o.evalLabels.shape[0]} label(s) for ${available} evaluation sample(s) in ${evalName}: give one label per sample.`);
    }
    const samples = Math.min(available, cap);
    return {
      calibration: { inputs: o.inputs, labels: o.labels },
      evaluation: { inputs: o.evalInputs, labels: o.evalLabels, info: { source: 'eval-data', samples, available, description: `${plural(samples, 'sample')} of ${evalName}${samples < available ? ` (the first ${samples} of ${available}: the evaluation cap)` : ''}` } },
    };
  }
  if (o.evalLabels) throw new StudioError('BAD_ARGUMENT', `Evaluation labels were given without evaluation data: pass ${evalName} INPUT=FILE.npy beside them.`);
  const n = sampleCount(o.inputs);
  if (n === 0) return { calibration: { inputs: o.inputs, labels: o.labels } };
  if (n === 1) {
    return {
      calibration: { inputs: o.inputs, labels: o.labels },
      evaluation: { inputs: o.inputs, labels: o.labels, info: { source: 'calibration', samples: 1, available: 1, calibrationSamples: 1, description: `the only sample of ${dataName}, which also calibrated (nothing could be held out)` } },
    };
  }
  const held = Math.max(1, Math.round(n * HELD_OUT_FRACTION));
  const keep = n - held;
  // Inputs fed whole to every run stay whole; a slice keeps the run size the model fixes.
  const part = (a: NpyArray, s: number, e: number) => {
    if (isConstantInput(a)) return a;
    const x = sliceSamples(a, s, e), k = fixedRunSize({ a });
    if (k) markFixedRunSize(x, k);
    return x;
  };
  const calibration: Record<string, NpyArray> = {}, evaluation: Record<string, NpyArray> = {};
  for (const [k, a] of Object.entries(o.inputs)) { calibration[k] = part(a, 0, keep); evaluation[k] = part(a, keep, n); }
  const labels = o.labels && o.labels.shape[0]! >= n ? [sliceSamples(o.labels, 0, keep), sliceSamples(o.labels, keep, n)] : undefined;
  if (o.labels && !labels) throw new StudioError('BAD_DATA', `Labels hold ${o.labels.shape[0]} label(s) for ${n} sample(s) in ${dataName}: give one label per sample.`);
  const samples = Math.min(held, cap);
  return {
    calibration: { inputs: calibration, labels: labels?.[0] },
    evaluation: {
      inputs: evaluation, labels: labels?.[1],
      info: { source: 'held-out', samples, available: held, calibrationSamples: keep, description: `${plural(samples, 'held-out sample')} of ${dataName} (its last ${Math.round(HELD_OUT_FRACTION * 100)} %; the other ${keep} are left for calibration${samples < held ? `; the first ${samples} of ${held} held out: the evaluation cap` : ''})` },
    },
  };
}
