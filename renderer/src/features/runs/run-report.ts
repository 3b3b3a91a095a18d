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
