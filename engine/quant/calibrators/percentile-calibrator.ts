// Percentile: clip the extreme (100 - p)% of values.
// Symmetric: t = the p-th percentile of |x| (as ORT does), range [-t, t].
// Asymmetric: each tail gets half the clipped mass: [quantile((100-p)/200), quantile(1 - (100-p)/200)].
import { HistogramCalibrator, type CalibrationRange, type CalibrationTarget, type CalibratorOptions } from './calibrator';
import { foldAbs, quantile, type Histogram } from './histogram';
import { StudioError, quote } from '../../errors';

export class PercentileCalibrator extends HistogramCalibrator {
  readonly method = 'percentile' as const;
  readonly percentile: number;

  constructor(opts: CalibratorOptions = {}) {
    super(opts);
    const p = opts.percentile ?? 99.99;
    if (!(p > 0 && p <= 100)) throw new StudioError('BAD_ARGUMENT', `Percentile calibration of ${quote(this.name)}: percentile ${quote(p)} must be in (0, 100].`);
    this.percentile = p;
  }

  protected range(h: Histogram, target: CalibrationTarget): CalibrationRange {
    const p = this.percentile / 100;
    if (target.scheme === 'symmetric') {
      const t = quantile(foldAbs(h), p);
      return { min: -t, max: t };
    }
    const tail = (1 - p) / 2;
    return { min: quantile(h, tail), max: quantile(h, 1 - tail) };
  }
}
