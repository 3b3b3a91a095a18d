// Calibration method -> collector and range choice. MinMax and percentile read the streaming
// histogram collector; entropy and MSE come from engine/quant/calibrators once they land.
import type { ActivationSpec } from '../../pipeline/recipe';
import { MinMaxHistogramCollector, percentileRange, type RangeCollector } from './collectors';

export interface MethodHooks {
  makeCollector: (tensor: string) => RangeCollector;
  chooseRange: (tensor: string, c: RangeCollector) => { min: number; max: number };
  notice?: string;
}

export function calibrationMethod(spec: ActivationSpec): MethodHooks {
  const make = () => new MinMaxHistogramCollector();
  const { method, percentile } = spec.calibration;
  switch (method) {
    case 'minmax':
      return { makeCollector: make, chooseRange: (_t, c) => c.range() };
    case 'percentile':
      return { makeCollector: make, chooseRange: (_t, c) => { const r = c.range(); return percentileRange(c.histogram(), percentile, r.min, r.max); } };
    case 'entropy':
    case 'mse':
      return {
        makeCollector: make,
        chooseRange: (_t, c) => { const r = c.range(); return percentileRange(c.histogram(), 99.999, r.min, r.max); },
        notice: `Calibration method "${method}" is not wired in yet: ranges use the 99.999th percentile instead.`,
      };
  }
}
