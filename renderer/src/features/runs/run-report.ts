// Reading a run's result (the engine's QuantizeReport, stored as JSON) without trusting its shape:
// every field is checked, so an old or partial report shows what it has instead of crashing a view.
import type { Json } from '../../../../contract/ipc';
import type { LayerError, QuantizedNodeInfo, QuantizeReport, SkippedNode } from '../../../../contract/report';

/** A per-layer error row: the report's LayerError, node/opType '' when the report names none, NaN for a figure JSON carried as null. */
export type LayerErrorRow = Required<Pick<LayerError, 'tensor' | 'node' | 'opType' | 'sqnrDb' | 'cosine' | 'mse'>>;
export type QuantizedRow = Omit<QuantizedNodeInfo, 'algorithmErrors'>;
type Agreement = NonNullable<QuantizeReport['outputAgreement']>;
/** The parts of a quantize run's report (contract/report.ts) the run views draw, each checked. */
export interface RunReport {
  quantized: QuantizedRow[];
  skipped: SkippedNode[];
  layers: LayerErrorRow[];
  sizeBytes: QuantizeReport['sizeBytes'] | null;
  timingsMs: QuantizeReport['timingsMs'];
  metrics: NonNullable<QuantizeReport['metrics']>;
  outputAgreement: Partial<Pick<Agreement, 'sqnrDb' | 'cosine' | 'top1Agreement'>> | null;
  notices: string[];
  device: string;
  /** Which data every figure was measured on (the engine's one phrase, and its sample count). */
  evaluation: { description: string; samples: number; source: string } | null;
  /** Quality and data warnings: the message and the units named as most responsible. */
  warnings: { metric: string; message: string; culprits: string[] }[];
  /** What a recipe target chose: met or not, the achieved figure, every decision and the precision of each unit. */
  mixedPrecision: MixedPrecisionView | null;
}

export interface MixedPrecisionView {
  target: string;
  met: boolean;
  achieved: string;
  start: string;
  /** The pipeline's measurement of the written model, when it ran. */
  final: { met: boolean; description: string } | null;
  decisions: { step: string; name: string; kind: string; from: string; to: string; metricAfter: number; met: boolean; measuredOn: string }[];
  /** Units not at the recipe's precision: name -> precision. */
  raised: { name: string; kind: string; precision: string }[];
  quantizedWeights: number;
  weights: number;
}

type O = Record<string, Json>;
const isObj = (v: unknown): v is O => typeof v === 'object' && v !== null && !Array.isArray(v);
const s = (v: unknown, d = '') => (typeof v === 'string' ? v : d);
const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
const numRecord = (v: unknown): Record<string, number> => {
  const out: Record<string, number> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'number' && Number.isFinite(x)) out[k] = x;
  return out;
};

export function parseRunReport(result: Json | null | undefined): RunReport | null {
  if (!isObj(result)) return null;
  const arr = (k: string) => (Array.isArray(result[k]) ? (result[k] as Json[]).filter(isObj) : []);
  const size = isObj(result.sizeBytes) ? { original: n(result.sizeBytes.original), quantized: n(result.sizeBytes.quantized) } : null;
  const oa = isObj(result.outputAgreement) ? result.outputAgreement : null;
  const dev = isObj(result.device) ? s(result.device.used, s(result.device.requested)) : '';
  return {
    quantized: arr('quantized').map((q) => ({ node: s(q.node), opType: s(q.opType), weight: s(q.weight) || undefined, weightDtype: s(q.weightDtype) || undefined, granularity: s(q.granularity) || undefined, activationDtype: s(q.activationDtype) || undefined })),
    skipped: arr('skipped').map((q) => ({ node: s(q.node), opType: s(q.opType), reason: s(q.reason) })),
    layers: arr('layers').map((l) => ({ tensor: s(l.tensor), node: s(l.node), opType: s(l.opType), sqnrDb: n(l.sqnrDb), cosine: n(l.cosine), mse: n(l.mse) })),
    sizeBytes: size && Number.isFinite(size.original) ? size : null,
    timingsMs: numRecord(result.timingsMs),
    metrics: numRecord(result.metrics),
    outputAgreement: oa ? { sqnrDb: n(oa.sqnrDb), cosine: n(oa.cosine), top1Agreement: Number.isFinite(n(oa.top1Agreement)) ? n(oa.top1Agreement) : undefined } : null,
    notices: Array.isArray(result.notices) ? (result.notices as Json[]).filter((x): x is string => typeof x === 'string') : [],
    device: dev,
    evaluation: isObj(result.evaluation) && typeof result.evaluation.description === 'string'
      ? { description: result.evaluation.description, samples: n(result.evaluation.samples), source: s(result.evaluation.source) } : null,
    warnings: arr('warnings').filter((w) => typeof w.message === 'string').map((w) => ({
      metric: s(w.metric), message: s(w.message),
      culprits: Array.isArray(w.culprits) ? (w.culprits as Json[]).filter(isObj).map((c) => s(c.name)).filter(Boolean) : [],
    })),
    mixedPrecision: parseMixedPrecision(result.mixedPrecision),
  };
}

function describeTarget(t: unknown): string {
  if (!isObj(t)) return 'target';
  if (t.metric === 'sqnr') return `output SQNR ≥ ${n(t.min)} dB`;
  if (t.metric === 'top1') return `top-1 drop ≤ ${(100 * n(t.maxDrop)).toFixed(2)} points`;
  if (t.metric === 'perplexity') return `perplexity increase ≤ ${n(t.maxIncrease)}`;
  return s(t.metric, 'target');
}

function parseMixedPrecision(mp: unknown): MixedPrecisionView | null {
  if (!isObj(mp) || typeof mp.met !== 'boolean') return null;
  const list = (v: unknown) => (Array.isArray(v) ? (v as Json[]).filter(isObj) : []);
  const assignment = list(mp.assignment);
  const weights = assignment.filter((a) => a.kind === 'weight');
  return {
    target: describeTarget(mp.target),
    met: mp.met,
    achieved: isObj(mp.achieved) ? s(mp.achieved.description) : '',
    start: isObj(mp.start) ? s(mp.start.description) : '',
    final: isObj(mp.final) && typeof mp.final.met === 'boolean' ? { met: mp.final.met, description: s(mp.final.description) } : null,
    decisions: list(mp.decisions).map((d) => ({
      step: s(d.step), name: s(d.name), kind: s(d.kind), from: s(d.fromPrecision, s(d.from)), to: s(d.toPrecision, s(d.to)),
      metricAfter: n(d.metricAfter), met: d.met === true, measuredOn: s(d.measuredOn, 'variant'),
    })),
    raised: assignment.filter((a) => a.level !== 'recipe' && a.level !== 'quantized').map((a) => ({ name: s(a.name), kind: s(a.kind), precision: s(a.precision, s(a.level)) })),
    quantizedWeights: weights.filter((a) => a.level !== 'float').length,
    weights: weights.length,
  };
}

/** Metrics worth a column, in a stable order: accuracy-like first, then the rest alphabetically. */
export function metricKeys(reports: (RunReport | null)[]): string[] {
  const keys = new Set<string>();
  for (const r of reports) for (const k of Object.keys(r?.metrics ?? {})) keys.add(k);
  for (const k of [...keys]) if (/samples|count/i.test(k)) keys.delete(k);
  const rank = (k: string) => (/acc|top1/i.test(k) ? 0 : /perplex|ppl/i.test(k) ? 1 : /latency/i.test(k) ? 2 : 3);
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
