// Pure helpers of the sensitivity view: the rows of an analysis report, their sort, and the one-click
// fix that leaves a node in float (its name appended to the pipeline's "Exclude nodes").
import type { QualityWarning } from '../../../../contract/report';

export interface ScoreSummary { sqnrDb: number | null; undefinedReason?: string; top1Agreement?: number; top1?: number; perplexity?: number }
export interface SensitivityRow {
  kind: 'weight' | 'activation';
  name: string;
  opType?: string;
  params?: number;
  cumulativeSqnrDb?: number | null;
  onlyQuantized: ScoreSummary;
  onlyFloat: ScoreSummary;
}
export interface SensitivityResult {
  rankedBy: 'sqnr' | 'top1' | 'perplexity';
  evaluation: { description: string; samples: number };
  calibrationSamples: number;
  allQuantized: ScoreSummary;
  fp32: { top1?: number; perplexity?: number };
  entries: SensitivityRow[];
  timing: { wallMs: number; cpuMs: number; tasks: number; workers: number };
}

export type SortKey = 'rank' | 'name' | 'isolated' | 'onlyFloat' | 'cumulative';

export function asSensitivityResult(v: unknown): SensitivityResult | undefined {
  const r = v as SensitivityResult | null;
  return r && typeof r === 'object' && Array.isArray(r.entries) && r.evaluation ? r : undefined;
}

/** SQNR sorts worst (lowest) first; JSON turns NaN/Infinity into null: null (undefined or exact) sorts last. */
const sqnr = (s: ScoreSummary | undefined | null) => (s && typeof s.sqnrDb === 'number' ? s.sqnrDb : Infinity);

export function sortRows(rows: SensitivityRow[], key: SortKey, descending: boolean): SensitivityRow[] {
  const ranked = rows.map((r, i) => ({ r, i }));
  const val = (x: { r: SensitivityRow; i: number }): number | string => {
    switch (key) {
      case 'rank': return x.i;
      case 'name': return x.r.name;
      case 'isolated': return sqnr(x.r.onlyQuantized);
      case 'onlyFloat': return -sqnr(x.r.onlyFloat);
      case 'cumulative': return typeof x.r.cumulativeSqnrDb === 'number' ? x.r.cumulativeSqnrDb : Infinity;
    }
  };
  ranked.sort((a, b) => {
    const va = val(a), vb = val(b);
    const c = typeof va === 'string' ? va.localeCompare(vb as string) : (va as number) - (vb as number);
    return (descending ? -c : c) || a.i - b.i;
  });
  return ranked.map((x) => x.r);
}

/** Heat of a row for colouring: 0 (harmless) .. 1 (isolated output SQNR at or below 10 dB). */
export function heat(row: SensitivityRow): number {
  const s = sqnr(row.onlyQuantized);
  if (!Number.isFinite(s)) return 0;
  return Math.max(0, Math.min(1, (50 - s) / 40));
}

export function fmtSqnr(s: ScoreSummary | null | undefined): string {
  if (!s) return '—';
  if (s.undefinedReason) return `undefined (${s.undefinedReason})`;
  if (typeof s.sqnrDb !== 'number') return 'exact';
  const extra = s.top1 !== undefined ? ` · top-1 ${(100 * s.top1).toFixed(1)} %` : s.perplexity !== undefined ? ` · ppl ${s.perplexity.toFixed(3)}` : '';
  return `${s.sqnrDb.toFixed(1)} dB${extra}`;
}

interface DocLike { nodes: { type: string; params: Record<string, unknown> }[] }

/** The pipeline with `node` added to the Quantization params node's exclude list (a new doc; unchanged if already there). */
export function withExcluded<D extends DocLike>(doc: D, node: string): { doc: D; changed: boolean } {
  const i = doc.nodes.findIndex((n) => n.type === 'quant-params');
  if (i < 0) return { doc, changed: false };
  const q = doc.nodes[i]!;
  const list = String(q.params.exclude ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (list.includes(node)) return { doc, changed: false };
  const nodes = doc.nodes.map((n, k) => (k === i ? { ...n, params: { ...n.params, exclude: [...list, node].join(', ') } } : n));
  return { doc: { ...doc, nodes }, changed: true };
}

export function excludedNodes(doc: DocLike | undefined): Set<string> {
  const q = doc?.nodes.find((n) => n.type === 'quant-params');
  return new Set(String(q?.params.exclude ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}

/** A quality warning as a quantize run's report carries it (contract/report.ts), the parts this view reads. */
export type RunWarning = Pick<QualityWarning, 'message'> & { culprits: Pick<QualityWarning['culprits'][number], 'name' | 'kind'>[] };

/** A quantize run's quality warnings (engine/analysis/warnings.ts), from its report. */
export function runWarnings(result: unknown): RunWarning[] {
  const w = (result as { warnings?: unknown } | null)?.warnings;
  return Array.isArray(w) ? w.filter((x): x is RunWarning => typeof x?.message === 'string') : [];
}
