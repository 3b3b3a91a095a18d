// The common face of every calibrator: stream batches in, get a clipping range out, and keep the
// tensor's histogram for the UI. Memory is fixed per tensor (one histogram), whatever the number
// of batches; nothing stores the samples.
import type { Scheme, CalibrationMethod } from '../../../contract/recipe';
import type { QDType } from '../math/qparams';
import { HistogramCollector, DEFAULT_HISTOGRAM_BINS, type Histogram } from './histogram';
import { StudioError, quote } from '../../errors';

export interface CalibrationTarget { dtype: QDType; scheme: Scheme }
export interface CalibrationRange { min: number; max: number }

export interface Calibrator {
  readonly method: CalibrationMethod;
  /** Tensor name, for messages. */
  readonly name: string;
  /** Finite values seen so far. */
  readonly count: number;
  update(values: ArrayLike<number>): void;
  /** Clipping range for the target dtype/scheme. For 'symmetric' the range is [-t, t]. */
  compute(target: CalibrationTarget): CalibrationRange;
  histogram(): Histogram;
}

export interface CalibratorOptions {
  /** Tensor name for messages and reports. */
  name?: string;
  /** Bins of the streaming histogram (even); default 16384. */
  bins?: number;
  /** percentile method: the kept percentage, e.g. 99.99. */
  percentile?: number;
}

/** Shared streaming part: exact min/max plus the histogram. Subclasses only choose the range. */
export abstract class HistogramCalibrator implements Calibrator {
  abstract readonly method: CalibrationMethod;
  readonly name: string;
  protected readonly hist: HistogramCollector;

  constructor(opts: CalibratorOptions = {}) {
    this.name = opts.name ?? '';
    this.hist = new HistogramCollector(opts.bins ?? DEFAULT_HISTOGRAM_BINS, this.name);
  }

  get count(): number { return this.hist.count; }

  update(values: ArrayLike<number>): void { this.hist.update(values); }

  histogram(): Histogram { return this.hist.snapshot(); }

  compute(target: CalibrationTarget): CalibrationRange {
    const h = this.hist.snapshot();
    if (h.count === 0) {
      throw new StudioError('BAD_DATA', `Calibration of tensor ${quote(this.name)} saw no finite values${h.nonFinite ? ` (${h.nonFinite} NaN/Infinity)` : ''}; cannot choose a range.`);
    }
    const r = this.range(h, target);
    return target.scheme === 'symmetric' ? symmetric(r) : r;
  }

  protected abstract range(h: Histogram, target: CalibrationTarget): CalibrationRange;
}

export function symmetric(r: CalibrationRange): CalibrationRange {
  const t = Math.max(Math.abs(r.min), Math.abs(r.max));
  return { min: -t, max: t };
}
