// What a quantization run produces besides the model file: stored with the run as JSON, sent over IPC
// as the run's result, printed by the CLI, drawn by the studio. The engine fills it (every algorithm adds
// to the same report: engine/pipeline/quantize.ts, engine/analysis for warnings and mixed precision,
// engine/eval for the evaluation data); the renderer reads it. Types only, so both sides import it
// without pulling the modules that compute the figures.
import type { Recipe, Target } from './recipe';

// ---------- evaluation data (engine/eval/eval-data.ts) ----------
export type EvaluationSource = 'eval-data' | 'held-out' | 'calibration';

/** Which samples every figure of a report was measured on. */
export interface EvaluationInfo {
  source: EvaluationSource;
  /** Samples every figure was measured on. */
  samples: number;
  /** Samples the evaluation data had (more than `samples` when the cap applied). */
  available: number;
  /** Samples left for calibration / training after a held-out split. */
  calibrationSamples?: number;
  /** One phrase for "measured on ...", e.g. "128 held-out samples of --data". */
  description: string;
}

// ---------- sensitivity, quality warnings, mixed precision (engine/analysis) ----------
/** The recipe's "target" (../shared/cli-contract.md): the recipe schema's own type. */
export type AccuracyTarget = Target;

export type TargetMetric = AccuracyTarget['metric'];

/** The figures of one variant a report keeps (NaN SQNR carries undefinedReason). */
export interface ScoreSummary {
  sqnrDb: number;
  undefinedReason?: string;
  top1Agreement?: number;
  top1?: number;
  perplexity?: number;
}

export type UnitKind = 'weight' | 'activation';
export type UnitLevel = 'recipe' | 'int8' | 'float' | 'quantized';

export interface Culprit {
  kind: UnitKind;
  name: string;
  opType?: string;
  /** Output SQNR with only this unit quantized. */
  onlyQuantizedSqnrDb: number;
  /** Output SQNR with everything but this unit quantized. */
  onlyFloatSqnrDb: number;
}

/**
 * A warning about what the run was given rather than what it produced: "calibration-tokens" — GPTQ had
 * fewer calibration tokens (`value`, the fewest any named layer saw) than a layer has inputs
 * (`threshold`, the widest such layer), so its Hessian is rank-deficient and the rounding fits the
 * calibration rows at the expense of new data. `layers`: the layers concerned.
 */
export interface DataWarning {
  metric: 'calibration-tokens';
  value: number;
  threshold: number;
  message: string;
  culprits: Culprit[];
  layers: { node: string; weight: string; width: number; tokens: number }[];
}

export interface QualityWarning {
  metric: TargetMetric;
  value: number;
  threshold: number;
  message: string;
  culprits: Culprit[];
  /** How many units the quick pass measured, of how many. */
  analysed?: { units: number; of: number; ms: number; samples: number };
}

export interface PrecisionDecision {
  /** 'no help': a raise tried on the exported model that did not improve it (left as it was).
   *  'latency': left float because its int8 form runs slower on onnxruntime's CPU provider (`reason` says why). */
  step: 'raise' | 'lower back' | 'kept' | 'no help' | 'latency';
  reason?: string;
  kind: UnitKind;
  name: string;
  opType?: string;
  from: UnitLevel;
  to: UnitLevel;
  /** The levels as precisions, e.g. "int4 (MatMulNBits bits=4)", "int8 (MatMulNBits bits=8)", "float (not quantized)". */
  fromPrecision?: string;
  toPrecision?: string;
  /** The target metric after this decision (SQNR dB, top-1 drop, perplexity increase). */
  metricAfter: number;
  met: boolean;
  /** 'export': measured on the candidate exported as the pipeline writes it (the search's last step); else on the search's variant. */
  measuredOn?: 'variant' | 'export';
}

export interface MixedPrecisionReport {
  target: AccuracyTarget;
  met: boolean;
  /** On the evaluation data, for the chosen assignment (the search's own figure). */
  achieved: ScoreSummary & { metric: number; description: string };
  /** The fully quantized model's figure, where the search started. */
  start: { metric: number; description: string };
  /** Per unit: the level chosen. */
  assignment: { kind: UnitKind; name: string; opType?: string; level: UnitLevel; precision?: string }[];
  decisions: PrecisionDecision[];
  /** Estimated weight bytes at the chosen levels vs all-float, and how many activation tensors stay float. */
  cost: { bytes: number; fp32Bytes: number; floatActivations: number };
  evaluation: { source: string; samples: number; description: string };
  evaluations: number;
  timing: { wallMs: number; cpuMs: number; workers: number };
  notices: string[];
  /** Lines for the CLI summary. */
  summary: string[];
  /** MatMulNBits recipes: the search's choice exported for real and scored (first), units raised after it, and the figure the export then gave. */
  exportCheck?: { first: number; metric: number; met: boolean; raised: number; /** Raises tried on the export (kept or not). */ tried?: number };
  /** The final model measured by the pipeline after export (filled in by the pipeline's evaluation). */
  final?: { metric: number; met: boolean; description: string };
  /** QDQ recipes: the chosen assignment's model against FP32 on onnxruntime's CPU provider (one evaluation batch; `method` says how). */
  latency?: { fp32Ms: number; quantizedMs: number; ratio: number; method: string };
}

/**
 * The wreck guard's account: the fully quantized model's worst output SQNR (`firstSqnrDb`, below
 * `thresholdDb`) made the run search again for `target`; `sqnrDb` is the written model's figure.
 * `kept` false: the guard's search failed and the fully quantized model was written (`error` says why).
 */
export interface GuardReport {
  thresholdDb: number;
  firstSqnrDb: number;
  target: Extract<AccuracyTarget, { metric: 'sqnr' }>;
  kept: boolean;
  sqnrDb?: number;
  floatWeights: string[];
  floatActivations: string[];
  /** Wall time of the fully quantized run the guard replaced. */
  firstRunMs: number;
  error?: string;
}

// ---------- the quantization report ----------
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

export interface SkippedNode { node: string; opType: string; reason: string }

export interface QuantizeReport {
  modelPath: string;
  outputPath: string;
  /** The recipe the run used (a recipe "target" replaces it with the chosen per-layer precision). */
  recipe: Recipe;
  quantized: QuantizedNodeInfo[];
  skipped: SkippedNode[];
  timingsMs: Record<string, number>;
  sizeBytes: { original: number; quantized: number };
  layers: LayerError[];
  /** Output vs FP32 on `evaluation`; NaN figures carry `undefinedReason` / `top1AgreementUndefined`. */
  outputAgreement?: { sqnrDb: number; cosine: number; top1Agreement?: number; undefinedReason?: string; top1AgreementUndefined?: string; samples?: number; /** The output SQNR/cosine are from when the model has several float outputs (the worst one). */ worstOutput?: string };
  /** Which data every figure (output agreement, per-layer error, metrics) was measured on. */
  evaluation?: EvaluationInfo;
  /** "cumulative": each layer's error includes everything quantized before it. */
  layerErrorKind?: 'cumulative';
  /** Output error or task metric past its threshold, with the layers most responsible; and warnings
   *  about the run's data (too few calibration tokens for a layer's width). */
  warnings?: (QualityWarning | DataWarning)[];
  /** What a recipe "target" chose, layer by layer (engine/analysis/mixed-precision.ts). */
  mixedPrecision?: MixedPrecisionReport;
  /** The wreck guard (engine/pipeline/guard.ts): set when it searched the run again; `mixedPrecision` then holds its decisions. */
  guard?: GuardReport;
  metrics?: Record<string, number>;
  notices: string[];
  device: { requested: string; used: string };
  /** Calibrated activation ranges with their histograms (for the studio's range plots). */
  activationRanges?: ActivationRange[];
}

// ---------- the report on the wire ----------
/**
 * A value after JSON.stringify / JSON.parse, as a run's stored result and its IPC answer carry it:
 * non-finite numbers (NaN SQNR of an exact layer, Infinity) arrive as null.
 */
export type OnTheWire<T> = T extends number ? number | null
  : T extends string | boolean | null | undefined ? T
  : T extends readonly (infer U)[] ? OnTheWire<U>[]
  : T extends object ? { [K in keyof T]: OnTheWire<T[K]> }
  : T;

/** A quantize run's result as the renderer receives it. Older runs may lack keys: read it field by field. */
export type QuantizeReportJson = OnTheWire<QuantizeReport>;
