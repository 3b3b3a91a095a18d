// MinMax: the exact extremes seen (ORT's default).
import { HistogramCalibrator, type CalibrationRange } from './calibrator';
import type { Histogram } from './histogram';

export class MinMaxCalibrator extends HistogramCalibrator {
  readonly method = 'minmax' as const;
  protected range(h: Histogram): CalibrationRange {
    return { min: h.min, max: h.max };
  }
}
