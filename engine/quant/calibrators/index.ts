// createCalibrator(method, opts): the one way the calibration runner makes a per-tensor calibrator.
import type { CalibrationMethod } from '../../../contract/recipe';
import type { Calibrator, CalibratorOptions } from './calibrator';
import { MinMaxCalibrator } from './minmax-calibrator';
import { PercentileCalibrator } from './percentile-calibrator';
import { EntropyCalibrator } from './entropy-calibrator';
import { MseCalibrator } from './mse-calibrator';
import { StudioError, quote } from '../../errors';

export type { Calibrator, CalibratorOptions, CalibrationTarget, CalibrationRange } from './calibrator';
export { HistogramCollector, foldAbs, halfHistogram, rebin, quantile, plotHistogram, DEFAULT_HISTOGRAM_BINS, type Histogram } from './histogram';
export { MinMaxCalibrator, PercentileCalibrator, EntropyCalibrator, MseCalibrator };
export { entropyThreshold } from './entropy-calibrator';

export function createCalibrator(method: CalibrationMethod, opts: CalibratorOptions = {}): Calibrator {
  switch (method) {
    case 'minmax': return new MinMaxCalibrator(opts);
    case 'percentile': return new PercentileCalibrator(opts);
    case 'entropy': return new EntropyCalibrator(opts);
    case 'mse': return new MseCalibrator(opts);
    default:
      throw new StudioError('BAD_ARGUMENT', `Unknown calibration method ${quote(method)} for tensor ${quote(opts.name ?? '')} (known: minmax, percentile, entropy, mse).`);
  }
}
