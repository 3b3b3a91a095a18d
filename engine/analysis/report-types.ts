// The shapes sensitivity analysis, quality warnings and mixed precision put into a quantization report.
// A leaf module (types only, no imports from the engine) so the report type can name them without an
// import cycle through the modules that compute them.

/** The recipe's "target" (../shared/cli-contract.md). */
export type AccuracyTarget =
  | { metric: 'sqnr'; min: number }
  | { metric: 'top1'; maxDrop: number }
  | { metric: 'perplexity'; maxIncrease: number };

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
  step: 'raise' | 'lower back' | 'kept';
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
  exportCheck?: { first: number; metric: number; met: boolean; raised: number };
  /** The final model measured by the pipeline after export (filled in by the pipeline's evaluation). */
  final?: { metric: number; met: boolean; description: string };
}
