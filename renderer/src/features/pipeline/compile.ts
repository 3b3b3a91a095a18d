// Pipeline graph -> recipe (../shared/cli-contract.md), the one format the CLI, the job runner and
// this editor share. Validation explains every problem on the node that causes it, so the editor can
// draw the message there; a graph with any problem compiles to no recipe.
import { NODE_TYPES, nodeType, stageIndex, type Params } from './node-types';
import type { PipelineDoc, PipelineNode } from './pipeline-doc';

/** The recipe JSON exactly as the CLI contract writes it. */
export interface RecipeJson {
  weights: { dtype: string; scheme: string; granularity: 'tensor' | 'channel' | { group: number } };
  activations: null | { dtype: string; scheme: string; calibration: { method: string; percentile?: number } };
  algorithms: Record<string, string | number | boolean>[];
  opTypes: string[];
  exclude: string[];
  format: 'qdq' | 'matmulnbits';
  calibration: { samples: number; batchSize: number };
  /** format 'matmulnbits': how steps of several rows run (engine/export/int8-prefill.ts). */
  prefill?: 'int8' | 'matmulnbits';
}

export interface CompileOptions {
  evaluate: boolean;
  latency: boolean;
  exportFileName?: string;
}

export interface PipelineProblem {
  /** The node the message belongs on; undefined for a problem of the whole graph. */
  nodeId?: string;
  message: string;
}

export type CompileResult =
  | { ok: true; recipe: RecipeJson; options: CompileOptions; problems: [] }
  | { ok: false; problems: PipelineProblem[] };

const QAT_TYPES = ['qat-forward', 'qat-backward', 'qat-update'];
const splitList = (v: unknown) => String(v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

function isLoopEdge(from: PipelineNode | undefined, to: PipelineNode | undefined): boolean {
  return from?.type === 'qat-update' && to?.type === 'qat-forward';
}

/** Check the graph; return every problem, each attached to the node that should change. */
export function validatePipeline(doc: PipelineDoc): PipelineProblem[] {
  const problems: PipelineProblem[] = [];
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  const on = (n: PipelineNode, message: string) => problems.push({ nodeId: n.id, message });

  for (const n of doc.nodes) {
    const t = nodeType(n.type);
    if (!t) { on(n, `Unknown node type '${n.type}'.`); continue; }
    if (t.unique && doc.nodes.filter((m) => m.type === n.type && m.id < n.id).length > 0) on(n, `Only one '${t.title}' node is allowed; remove this one.`);
    for (const p of t.parameters) {
      if (p.visible && !p.visible(n.params)) continue;
      const v = n.params[p.key] ?? p.default;
      if (p.kind === 'number') {
        if (typeof v !== 'number' || !Number.isFinite(v)) on(n, `${p.label}: '${String(v)}' is not a number.`);
        else if (p.int && !Number.isInteger(v)) on(n, `${p.label}: '${v}' must be a whole number.`);
        else if (p.min !== undefined && v < p.min) on(n, `${p.label}: '${v}' is below ${p.min}.`);
        else if (p.max !== undefined && v > p.max) on(n, `${p.label}: '${v}' is above ${p.max}.`);
      } else if (p.kind === 'select' && !p.options?.includes(String(v))) {
        on(n, `${p.label}: '${String(v)}' is not one of ${p.options?.join(', ')}.`);
      }
    }
  }
  for (const e of doc.edges) {
    const s = byId.get(e.source), t = byId.get(e.target);
    if (!s || !t) { problems.push({ message: `An edge points at a node that no longer exists (${e.source} → ${e.target}).` }); continue; }
    if (e.source === e.target) { on(t, 'A node cannot feed itself.'); continue; }
    const ts = nodeType(t.type), ss = nodeType(s.type);
    if (!ts || !ss) continue;
    if (isLoopEdge(s, t)) continue;
    if (ss.sink) on(s, `'${ss.title}' is an end point: nothing can follow it.`);
    if (ts.source) on(t, `'${ts.title}' is where a pipeline starts: nothing can feed it.`);
    else if (stageIndex(ts.stage) < stageIndex(ss.stage)) on(t, `'${ts.title}' cannot come after '${ss.title}': move it upstream.`);
  }

  const models = doc.nodes.filter((n) => n.type === 'model');
  if (models.length === 0) problems.push({ message: 'Add an FP32 model node: every pipeline starts from the float model.' });
  if (!doc.nodes.some((n) => n.type === 'quant-params')) problems.push({ message: 'Add a Quantization params node: it says which integer types to use.' });
  if (!doc.nodes.some((n) => n.type === 'quantized-model')) problems.push({ message: 'Add a Quantized model node: it is what the pipeline produces.' });

  // Upstream sets, following forward edges only (the QAT loop's back-edge does not count).
  const incoming = new Map<string, string[]>();
  for (const e of doc.edges) {
    if (isLoopEdge(byId.get(e.source), byId.get(e.target))) continue;
    incoming.set(e.target, [...(incoming.get(e.target) ?? []), e.source]);
  }
  const upstreamTypes = (id: string): Set<string> => {
    const seen = new Set<string>(), types = new Set<string>(), stack = [...(incoming.get(id) ?? [])];
    while (stack.length) {
      const cur = stack.pop()!;
      if (seen.has(cur)) continue;
      seen.add(cur);
      const n = byId.get(cur);
      if (n) types.add(n.type);
      stack.push(...(incoming.get(cur) ?? []));
    }
    return types;
  };
  for (const n of doc.nodes) {
    const t = nodeType(n.type);
    if (!t || t.source) continue;
    if (!(incoming.get(n.id)?.length)) { on(n, `'${t.title}' is not connected: drag an edge into it from the node before it.`); continue; }
    const up = upstreamTypes(n.id);
    if (!up.has('model')) on(n, `'${t.title}' is not fed by the FP32 model.`);
    for (const r of t.requires ?? []) if (!up.has(r.type)) on(n, `Needs '${nodeType(r.type)?.title}' upstream: ${r.why}.`);
  }

  // Semantics that mirror the engine's recipe checks, shown on the node whose setting conflicts.
  const params = doc.nodes.find((n) => n.type === 'quant-params');
  const qmodel = doc.nodes.find((n) => n.type === 'quantized-model');
  const weightOnly = params?.params.activationDtype === 'none';
  const wd = String(params?.params.weightDtype ?? 'int8');
  if (qmodel && qmodel.params.format === 'matmulnbits') {
    if (!['int4', 'uint4', 'int3'].includes(wd)) on(qmodel, `MatMulNBits needs 4-bit or 3-bit weights, but the params node says '${wd}'.`);
    if (params && !weightOnly) on(qmodel, "MatMulNBits is weight-only: set Activation dtype to 'none' in the params node.");
  }
  if (params && !weightOnly && !doc.nodes.some((n) => n.type === 'calibrate')) on(params, "Quantized activations need a Calibrate node upstream (or set Activation dtype to 'none').");
  const sq = doc.nodes.find((n) => n.type === 'smoothquant');
  if (sq && weightOnly) on(sq, 'SmoothQuant balances weights against quantized activations; with weight-only params it does nothing. Remove it or quantize activations.');
  for (const alg of doc.nodes.filter((n) => n.type === 'gptq' || n.type === 'awq')) {
    if (doc.nodes.some((n) => n.type === (alg.type === 'gptq' ? 'awq' : 'gptq')) && alg.type === 'awq') on(alg, 'GPTQ and AWQ both choose the weights: keep one of them.');
  }
  const qat = doc.nodes.filter((n) => QAT_TYPES.includes(n.type));
  if (qat.length > 0) {
    for (const missing of QAT_TYPES.filter((t) => !qat.some((n) => n.type === t))) {
      on(qat[0]!, `The fine-tuning loop is incomplete: add '${nodeType(missing)?.title}'.`);
    }
  }
  return problems;
}

function num(p: Params, key: string, dflt: number): number {
  const v = p[key];
  return typeof v === 'number' ? v : dflt;
}

/** Validate and, when the graph is sound, produce the recipe and run options. */
export function compilePipeline(doc: PipelineDoc): CompileResult {
  const problems = validatePipeline(doc);
  if (problems.length) return { ok: false, problems };
  const find = (type: string) => doc.nodes.find((n) => n.type === type);
  const params = find('quant-params')!.params;
  const data = find('data')?.params;
  const cal = find('calibrate')?.params;
  const qmodel = find('quantized-model')!.params;

  const granularity = params.granularity === 'group' ? { group: num(params, 'groupSize', 32) } : (params.granularity as 'tensor' | 'channel');
  const activations: RecipeJson['activations'] = params.activationDtype === 'none' ? null : {
    dtype: String(params.activationDtype),
    scheme: String(params.activationScheme),
    calibration: cal?.method === 'percentile'
      ? { method: 'percentile', percentile: num(cal, 'percentile', 99.99) }
      : { method: String(cal?.method ?? 'minmax') },
  };

  // Order matters to the engine: SmoothQuant rewrites before calibration, QAT runs last.
  const algorithms: RecipeJson['algorithms'] = [];
  const sq = find('smoothquant');
  if (sq) algorithms.push({ name: 'smoothquant', alpha: num(sq.params, 'alpha', 0.5), ...(sq.params.search ? { search: true } : {}) });
  const gptq = find('gptq');
  if (gptq) algorithms.push({ name: 'gptq', damp: num(gptq.params, 'damp', 0.01), actOrder: Boolean(gptq.params.actOrder), blockSize: num(gptq.params, 'blockSize', 128) });
  const awq = find('awq');
  if (awq) algorithms.push({ name: 'awq', gridSize: num(awq.params, 'gridSize', 20), clip: Boolean(awq.params.clip) });
  if (!gptq && !awq && !find('qat-forward')) algorithms.push({ name: 'rtn' });
  if (find('bias-correction')) algorithms.push({ name: 'bias-correction' });
  const fwd = find('qat-forward');
  if (fwd) {
    algorithms.push({
      name: 'qat',
      steps: num(fwd.params, 'steps', 300),
      batchSize: num(fwd.params, 'batchSize', 64),
      lr: num(find('qat-update')!.params, 'lr', 1e-4),
      learnScales: Boolean(find('qat-backward')!.params.learnScales),
    });
  }

  const recipe: RecipeJson = {
    weights: { dtype: String(params.weightDtype), scheme: String(params.weightScheme), granularity },
    activations,
    algorithms,
    opTypes: splitList(params.opTypes),
    exclude: splitList(params.exclude),
    format: qmodel.format === 'matmulnbits' ? 'matmulnbits' : 'qdq',
    calibration: { samples: num(data ?? {}, 'samples', 512), batchSize: num(data ?? {}, 'batchSize', 32) },
    ...(qmodel.format === 'matmulnbits' ? { prefill: qmodel.prefill === 'matmulnbits' ? 'matmulnbits' as const : 'int8' as const } : {}),
  };
  const ev = find('evaluate');
  const ex = find('export');
  return {
    ok: true,
    recipe,
    options: { evaluate: Boolean(ev), latency: Boolean(ev?.params.latency), ...(ex ? { exportFileName: String(ex.params.fileName) } : {}) },
    problems: [],
  };
}

/** Problems grouped by node id ('' = the whole graph), for drawing them on the canvas. */
export function problemsByNode(problems: PipelineProblem[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const p of problems) m.set(p.nodeId ?? '', [...(m.get(p.nodeId ?? '') ?? []), p.message]);
  return m;
}

export const PALETTE = NODE_TYPES.filter((t) => !t.source);
