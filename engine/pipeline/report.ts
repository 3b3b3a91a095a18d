// What a quantization run produces besides the model file: stored with the run, printed by the CLI,
// plotted by the studio. Every algorithm adds to the same report.

export interface LayerError {
  /** Tensor compared (an activation or a node output). */
  tensor: string;
  /** The node that produces it, when known. */
  node?: string;
  opType?: string;
  sqnrDb: number;
  cosine: number;
  mse: number;
}

export interface QuantizedNodeInfo {
  node: string;
  opType: string;
  weight?: string;
  weightDtype?: string;
  granularity?: string;
  activationDtype?: string;
  /** Per-algorithm weight / output error, before and after (issue 4's per-layer report). */
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
  outputAgreement?: { sqnrDb: number; cosine: number; top1Agreement?: number };
  metrics?: Record<string, number>;
  notices: string[];
  device: { requested: string; used: string };
  /** Calibrated activation ranges with their histograms (for the studio's range plots). */
  activationRanges?: ActivationRange[];
}
