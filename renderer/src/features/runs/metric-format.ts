// One place that turns a run report's metric keys (`top1Fp32`, `qatFinalLoss`, …) into what a person
// reads: a label, a unit and a formatted value. Every table and plot of the runs view goes through it,
// so a metric is named and scaled the same everywhere. Unknown keys get a readable label from their
// camelCase and a unit guessed from the name (ms, accuracy, perplexity), never the raw key.

export type MetricUnit = 'percent' | 'ms' | 's' | 'dB' | 'count' | 'ratio' | 'plain';

export interface MetricDef {
  label: string;
  unit: MetricUnit;
  /** Whether a higher value is better (for highlighting; undefined: neither). */
  higherIsBetter?: boolean;
  /** Digits after the point for the formatted value. */
  digits?: number;
}

/** Keys the engine writes into `QuantizeReport.metrics` (engine/pipeline/quantize.ts, engine/qat/index.ts). */
export const METRICS: Readonly<Record<string, MetricDef>> = {
  top1Fp32: { label: 'Top-1 accuracy, FP32', unit: 'percent', higherIsBetter: true, digits: 2 },
  top1Quantized: { label: 'Top-1 accuracy, quantized', unit: 'percent', higherIsBetter: true, digits: 2 },
  top1: { label: 'Top-1 accuracy', unit: 'percent', higherIsBetter: true, digits: 2 },
  top1Agreement: { label: 'Top-1 agreement with FP32', unit: 'percent', higherIsBetter: true, digits: 1 },
  perplexityFp32: { label: 'Perplexity, FP32', unit: 'plain', higherIsBetter: false, digits: 3 },
  perplexityQuantized: { label: 'Perplexity, quantized', unit: 'plain', higherIsBetter: false, digits: 3 },
  calibrationSamples: { label: 'Calibration samples', unit: 'count' },
  qatSteps: { label: 'QAT steps', unit: 'count' },
  qatResumedFrom: { label: 'QAT resumed from step', unit: 'count' },
  qatFirstLoss: { label: 'QAT first loss', unit: 'plain', higherIsBetter: false, digits: 4 },
  qatFinalLoss: { label: 'QAT final loss (last 10 steps)', unit: 'plain', higherIsBetter: false, digits: 4 },
  qatTrainMs: { label: 'QAT training time', unit: 's', digits: 1 },
  latencyFp32Ms: { label: 'Latency, FP32', unit: 'ms', higherIsBetter: false, digits: 2 },
  latencyQuantizedMs: { label: 'Latency, quantized', unit: 'ms', higherIsBetter: false, digits: 2 },
  outputSqnrDb: { label: 'Output SQNR', unit: 'dB', higherIsBetter: true, digits: 2 },
  meanLayerSqnrDb: { label: 'Mean layer SQNR', unit: 'dB', higherIsBetter: true, digits: 2 },
  speedup: { label: 'Speed-up vs FP32', unit: 'ratio', higherIsBetter: true, digits: 2 },
  /** Measured by runs.evaluate on the project's labels / text windows. */
  top1Measured: { label: 'Top-1 accuracy, quantized (measured)', unit: 'percent', higherIsBetter: true, digits: 2 },
  perplexityMeasured: { label: 'Perplexity, quantized (measured)', unit: 'plain', higherIsBetter: false, digits: 3 },
  sizeKiB: { label: 'Size', unit: 'plain', digits: 1 },
};

/** "qatFinalLoss" → "Qat final loss"; "top1Fp32" → "Top1 fp32"; snake_case and dots too. */
export function humanizeKey(key: string): string {
  const words = key
    .replace(/[_.-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .trim()
    .split(/\s+/)
    .map((w) => (/^[A-Z0-9]+$/.test(w) && w.length > 1 ? w : w.toLowerCase()));
  const s = words.join(' ');
  return s ? s[0]!.toUpperCase() + s.slice(1) : key;
}

/** The definition of a metric: from METRICS, else guessed from the key. */
export function metricDef(key: string): MetricDef {
  const known = METRICS[key];
  if (known) return known;
  const label = humanizeKey(key.replace(/Ms$/, '').replace(/Db$/i, ''));
  if (/ms$/i.test(key) || /latency|time/i.test(key)) return { label, unit: 'ms', higherIsBetter: /latency/i.test(key) ? false : undefined, digits: 2 };
  if (/db$/i.test(key) || /sqnr/i.test(key)) return { label, unit: 'dB', higherIsBetter: true, digits: 2 };
  if (/acc|top1|agreement/i.test(key)) return { label, unit: 'percent', higherIsBetter: true, digits: 2 };
  if (/perplex|ppl/i.test(key)) return { label, unit: 'plain', higherIsBetter: false, digits: 3 };
  if (/samples|count|steps|^n[A-Z]/.test(key)) return { label, unit: 'count' };
  if (/speedup|ratio/i.test(key)) return { label, unit: 'ratio', digits: 2 };
  return { label, unit: 'plain', digits: 4 };
}

/** Unit suffix for a column header ("Top-1 accuracy, FP32 (%)"). */
export function unitSuffix(unit: MetricUnit): string {
  return unit === 'percent' ? '%' : unit === 'ms' ? 'ms' : unit === 's' ? 's' : unit === 'dB' ? 'dB' : unit === 'ratio' ? '×' : '';
}

export function metricHeader(key: string): string {
  const d = metricDef(key);
  const u = unitSuffix(d.unit);
  return u ? `${d.label} (${u})` : d.label;
}

/** A value with its unit: accuracies are stored as fractions (0.93) and shown as "93.00 %". */
export function formatMetric(key: string, value: number | null | undefined, o: { withUnit?: boolean } = {}): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const d = metricDef(key);
  const withUnit = o.withUnit ?? true;
  const digits = d.digits ?? 3;
  const unit = (u: string, sep = ' ') => (withUnit ? `${sep}${u}` : '');
  switch (d.unit) {
    case 'percent': {
      // Fractions in [0, 1] are scaled; a value already above 1 is taken as a percentage.
      const pct = Math.abs(value) <= 1 ? value * 100 : value;
      return `${pct.toFixed(digits)}${unit('%')}`;
    }
    case 'ms': return `${value.toFixed(digits)}${unit('ms')}`;
    case 's': return `${(key.endsWith('Ms') ? value / 1000 : value).toFixed(digits)}${unit('s')}`;
    case 'dB': return `${value.toFixed(digits)}${unit('dB')}`;
    case 'count': return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(1);
    case 'ratio': return `${value.toFixed(digits)}${unit('×', '')}`;
    default: {
      if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5)) return value.toExponential(2);
      return String(+value.toFixed(digits));
    }
  }
}

/** The METRICS key for a runs.evaluate task metric ('top-1 accuracy' or 'perplexity'). */
export function evalMetricKey(name: string): string {
  return /accuracy|top-?1/i.test(name) ? 'top1Measured' : /perplex/i.test(name) ? 'perplexityMeasured' : name;
}
