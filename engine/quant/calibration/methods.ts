// Calibration method -> per-tensor collector and range choice, on engine/quant/calibrators
// (MinMax, percentile, entropy as TensorRT does it, MSE). The collector also hands the runner the
// tensor's histogram (edges + counts) for the UI.
import type { ActivationSpec } from '../../../contract/recipe';
import { createCalibrator, type Calibrator } from '../calibrators';
import type { RangeCollector, TensorHistogram } from './collectors';

/** Histogram bins kept per tensor (even; the calibrators' symmetric layout). */
export const CALIBRATION_BINS = 4096;

export interface MethodHooks {
  makeCollector: (tensor: string) => RangeCollector;
  chooseRange: (tensor: string, c: RangeCollector) => { min: number; max: number };
  notice?: string;
}

export class CalibratorCollector implements RangeCollector {
  constructor(readonly calibrator: Calibrator) {}
  update(values: Float32Array): void { this.calibrator.update(values); }
  count(): number { return this.calibrator.count; }
  range(): { min: number; max: number } { const h = this.calibrator.histogram(); return { min: h.min, max: h.max }; }
  histogram(): TensorHistogram {
    const h = this.calibrator.histogram();
    const edges = new Float64Array(h.counts.length + 1);
    for (let i = 0; i < edges.length; i++) edges[i] = h.lo + i * h.binWidth;
    return { edges, counts: h.counts };
  }
}

export function calibrationMethod(spec: ActivationSpec): MethodHooks {
  const target = { dtype: spec.dtype, scheme: spec.scheme };
  return {
    makeCollector: (tensor) => new CalibratorCollector(createCalibrator(spec.calibration.method, { name: tensor, bins: CALIBRATION_BINS, percentile: spec.calibration.percentile })),
    chooseRange: (_t, c) => (c instanceof CalibratorCollector ? c.calibrator.compute(target) : c.range()),
  };
}
