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

// ---- one-click fixes beyond "leave in float": raise a weight to int8, switch the rounding algorithm ----

interface FlowDoc extends DocLike { nodes: { id: string; type: string; params: Record<string, unknown>; position: { x: number; y: number } }[]; edges: { id: string; source: string; target: string }[] }

const listParam = (v: unknown) => String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const NARROW = ['int4', 'uint4', 'int3'];

/**
 * Whether "raise to int8" applies to this pipeline: weight-only MatMulNBits below 8 bits stores a layer
 * at bits=8 beside the others ("int8Layers"). Otherwise the reason, for the button's place.
 */
export function int8Fix(doc: DocLike | undefined): { ok: true } | { ok: false; why: string } {
  const q = doc?.nodes.find((n) => n.type === 'quant-params');
  const out = doc?.nodes.find((n) => n.type === 'quantized-model');
  if (!q) return { ok: false, why: 'the pipeline has no Quantization params node' };
  const wd = String(q.params.weightDtype ?? 'int8');
  if (q.params.activationDtype !== 'none' || out?.params.format !== 'matmulnbits') {
    return { ok: false, why: wd === 'int8' || wd === 'uint8'
      ? `int8 is already this recipe's weight dtype (${wd}); the next step up is "Leave in float"`
      : `a QDQ model has one weight dtype (${wd} here): leave the layer in float, or set the whole recipe to int8` };
  }
  if (!NARROW.includes(wd)) return { ok: false, why: `the weights are already ${wd}` };
  return { ok: true };
}

export function int8LayerNames(doc: DocLike | undefined): Set<string> {
  return new Set(listParam(doc?.nodes.find((n) => n.type === 'quant-params')?.params.int8Layers));
}

/** The pipeline with `node` stored at 8 bits (its name added to the params node's int8 list). */
export function withInt8Layer<D extends DocLike>(doc: D, node: string): { doc: D; changed: boolean } {
  const i = doc.nodes.findIndex((n) => n.type === 'quant-params');
  if (i < 0) return { doc, changed: false };
  const list = listParam(doc.nodes[i]!.params.int8Layers);
  if (list.includes(node)) return { doc, changed: false };
  const nodes = doc.nodes.map((n, k) => (k === i ? { ...n, params: { ...n.params, int8Layers: [...list, node].join(', ') } } : n));
  return { doc: { ...doc, nodes }, changed: true };
}

export const ROUNDING_ALGORITHMS = ['rtn', 'gptq', 'awq'] as const;
export type Rounding = (typeof ROUNDING_ALGORITHMS)[number];

/** The algorithm choosing the weights: a GPTQ or AWQ node, else round-to-nearest. */
export function currentRounding(doc: DocLike | undefined): Rounding {
  return (doc?.nodes.find((n) => n.type === 'gptq' || n.type === 'awq')?.type as Rounding | undefined) ?? 'rtn';
}

/**
 * The pipeline with another weight-rounding algorithm (recipe-wide: the engine rounds every layer with
 * one). GPTQ <-> AWQ swaps the node in place (its parameters back to defaults); to RTN the node goes
 * and its neighbours are joined; from RTN a node goes in just before the Quantized model node.
 */
export function withRounding<D extends FlowDoc>(doc: D, to: Rounding, defaults: (type: string) => Record<string, unknown>): { doc: D; changed: boolean } {
  const from = currentRounding(doc);
  if (from === to) return { doc, changed: false };
  const node = doc.nodes.find((n) => n.type === from);
  if (node && to !== 'rtn') {
    return { doc: { ...doc, nodes: doc.nodes.map((n) => (n === node ? { ...n, type: to, params: defaults(to) } : n)) }, changed: true };
  }
  if (node) {
    const ins = doc.edges.filter((e) => e.target === node.id).map((e) => e.source);
    const outs = doc.edges.filter((e) => e.source === node.id).map((e) => e.target);
    const kept = doc.edges.filter((e) => e.source !== node.id && e.target !== node.id);
    const joined = ins.flatMap((s) => outs.map((t) => ({ id: `${s}->${t}`, source: s, target: t }))).filter((e) => !kept.some((k) => k.source === e.source && k.target === e.target));
    return { doc: { ...doc, nodes: doc.nodes.filter((n) => n !== node), edges: [...kept, ...joined] }, changed: true };
  }
  const out = doc.nodes.find((n) => n.type === 'quantized-model');
  if (!out) return { doc, changed: false };
  let id = to as string;
  for (let k = 2; doc.nodes.some((n) => n.id === id); k++) id = `${to}-${k}`;
  const added = { id, type: to, params: defaults(to), position: { x: out.position.x + 160, y: out.position.y - 70 } };
  const edges = doc.edges.flatMap((e) => (e.target === out.id ? [{ ...e, id: `${e.source}->${id}`, target: id }] : [e]));
  edges.push({ id: `${id}->${out.id}`, source: id, target: out.id });
  return { doc: { ...doc, nodes: [...doc.nodes, added] as D['nodes'], edges }, changed: true };
}
