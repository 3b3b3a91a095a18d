// What a quantization run produces besides the model file: stored with the run, printed by the CLI,
// plotted by the studio. Every algorithm adds to the same report.
import type { EvaluationInfo } from '../eval/eval-data';
import type { QualityWarning, MixedPrecisionReport } from '../analysis/report-types';

export interface LayerError {
  /** Tensor compared (an activation or a node output). */
  tensor: string;
  /** The node that produces it, when known. */
  node?: string;
  opType?: string;
  sqnrDb: number;
  cosine: number;
  mse: number;
  /** Set when SQNR/cosine have no value on the data (e.g. non-finite values). */
  undefinedReason?: string;
}

export interface QuantizedNodeInfo {
  node: string;
  opType: string;
  weight?: string;
  weightDtype?: string;
  granularity?: string;
  activationDtype?: string;
  /** Per-algorithm weight / output error, before and after (the per-layer report). */
  algorithmErrors?: { algorithm: string; weightErrorBefore?: number; weightErrorAfter?: number; outputErrorBefore?: number; outputErrorAfter?: number }[];
}

/** One calibrated activation: its observed and chosen range, its quantization and a small histogram. */
export interface ActivationRange {
  tensor: string;
  min: number;
  max: number;
  /** The range the calibration method chose (equals min/max for MinMax). */
  rangeMin: number;
  rangeMax: number;
  scale?: number;
  zeroPoint?: number;
  histogram: { edges: number[]; counts: number[] };
}

export interface QuantizeReport {
  modelPath: string;
  outputPath: string;
  recipe: unknown;
  quantized: QuantizedNodeInfo[];
  skipped: { node: string; opType: string; reason: string }[];
  timingsMs: Record<string, number>;
  sizeBytes: { original: number; quantized: number };
  layers: LayerError[];
  /** Output vs FP32 on `evaluation`; NaN figures carry `undefinedReason` / `top1AgreementUndefined`. */
  outputAgreement?: { sqnrDb: number; cosine: number; top1Agreement?: number; undefinedReason?: string; top1AgreementUndefined?: string; samples?: number };
  /** Which data every figure (output agreement, per-layer error, metrics) was measured on. */
  evaluation?: EvaluationInfo;
  /** "cumulative": each layer's error includes everything quantized before it. */
  layerErrorKind?: 'cumulative';
  /** Output error or task metric past its threshold, with the layers most responsible. */
  warnings?: QualityWarning[];
  /** What a recipe "target" chose, layer by layer (engine/analysis/mixed-precision.ts). */
  mixedPrecision?: MixedPrecisionReport;
  metrics?: Record<string, number>;
  notices: string[];
  device: { requested: string; used: string };
  /** Calibrated activation ranges with their histograms (for the studio's range plots). */
  activationRanges?: ActivationRange[];
}
