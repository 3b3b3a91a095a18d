// The shapes sensitivity analysis, quality warnings and mixed precision put into a quantization report
// live with the report in contract/report.ts (the renderer reads them over IPC); the analysis modules
// import them from here. To change a shape, edit contract/report.ts.
export type {
  AccuracyTarget, TargetMetric, ScoreSummary, UnitKind, UnitLevel, Culprit, QualityWarning, PrecisionDecision, MixedPrecisionReport,
} from '../../contract/report';
