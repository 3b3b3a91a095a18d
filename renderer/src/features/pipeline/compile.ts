// Pipeline graph -> recipe (../shared/cli-contract.md), the one format the CLI, the job runner and
// this editor share. Validation explains every problem on the node that causes it, so the editor can
// draw the message there; a graph with any problem compiles to no recipe. The judge of the recipe is
// the engine's own schema (contract/recipe.ts): what the editor's friendlier checks below do not catch,
// the schema does, and its message goes on the node that owns the key.
import { NODE_TYPES, defaultParams, nodeType, stageIndex, type Params } from './node-types';
import type { PipelineDoc, PipelineNode } from './pipeline-doc';
import { algorithmDecl, algorithmDecls, paramShapes, PHASES } from '../../../../contract/algorithms';
import { DEFAULT_RECIPE, recipeProblem, type ActivationDType, type AlgorithmInput, type CalibrationMethod, type RecipeInput, type Scheme } from '../../../../contract/recipe';

/** The recipe JSON exactly as the CLI contract writes it (the contract's own type). */
export type RecipeJson = Omit<RecipeInput, 'activations' | 'algorithms'> & Required<Pick<RecipeInput, 'weights' | 'opTypes' | 'exclude' | 'format' | 'calibration'>> & {
  algorithms: AlgorithmInput[];
  activations: null | { dtype: ActivationDType; scheme: Scheme; calibration: { method: CalibrationMethod; percentile?: number } };
};

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

  // The common conflicts in the editor's words, on the node whose setting conflicts (the recipe schema
  // below catches the rest).
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
  if (problems.length === 0) {
    const why = recipeProblem(buildRecipe(doc));
    if (why) problems.push({ nodeId: nodeOfRecipeProblem(doc, why), message: why });
  }
  return problems;
}

/** The node whose setting a recipe message names (`Recipe weights.dtype: ...` -> the params node). */
function nodeOfRecipeProblem(doc: PipelineDoc, message: string): string | undefined {
  const id = (type: string) => doc.nodes.find((n) => n.type === type)?.id;
  const alg = /^Recipe algorithm '"([^"]+)"'/.exec(message)?.[1] ?? /^Recipe algorithms\[(\d+)\]/.exec(message)?.[1];
  if (alg !== undefined) {
    const name = /^\d+$/.test(alg) ? buildRecipe(doc).algorithms[Number(alg)]?.name : alg;
    return name === 'qat' ? id('qat-forward') : name ? id(name) : undefined;
  }
  const key = /^Recipe ([A-Za-z$]+)(?:\.([A-Za-z]+))?/.exec(message);
  if (!key) return undefined;
  if (key[1] === 'activations' && key[2] === 'calibration') return id('calibrate');
  if (key[1] === 'calibration') return id('data');
  if (key[1] === 'format' || key[1] === 'prefill') return id('quantized-model');
  if (key[1] === 'target') return id('target');
  return id('quant-params');
}

function num(p: Params, key: string, dflt: number): number {
  const v = p[key];
  return typeof v === 'number' ? v : dflt;
}

/** The recipe a graph draws (no checks: validatePipeline judges the graph and this recipe). */
export function buildRecipe(doc: PipelineDoc): RecipeJson {
  const find = (type: string) => doc.nodes.find((n) => n.type === type);
  const params = find('quant-params')?.params ?? {};
  const data = find('data')?.params;
  const cal = find('calibrate')?.params;
  const qmodel = find('quantized-model')?.params ?? {};
  const target = find('target');

  const granularity = params.granularity === 'group' ? { group: num(params, 'groupSize', 32) } : (params.granularity as 'tensor' | 'channel');
  const activations: RecipeJson['activations'] = params.activationDtype === 'none' ? null : {
    dtype: String(params.activationDtype) as ActivationDType,
    scheme: String(params.activationScheme) as Scheme,
    calibration: cal?.method === 'percentile'
      ? { method: 'percentile', percentile: num(cal, 'percentile', 99.99) }
      : { method: String(cal?.method ?? 'minmax') as CalibrationMethod },
  };

  // One entry per algorithm node, in the order the engine runs them (phase, then declared order);
  // QAT's three loop nodes make one entry. RTN stands in when nothing else chooses the weights.
  const algorithms: AlgorithmInput[] = [];
  const present = algorithmDecls().filter((d) => (d.phase === 'training' ? find(`${d.name}-forward`) : find(d.name)));
  const choosesWeights = present.some((d) => d.roundsWeights || d.phase === 'training');
  const entries = [...present, ...(choosesWeights ? [] : [algorithmDecl('rtn')!])]
    .filter((d, i, all) => all.indexOf(d) === i)
    .sort((x, y) => PHASES.indexOf(x.phase) - PHASES.indexOf(y.phase) || (x.order ?? 100) - (y.order ?? 100));
  for (const d of entries) {
    if (d.name === 'qat') {
      algorithms.push({
        name: 'qat',
        steps: num(find('qat-forward')!.params, 'steps', 600),
        batchSize: num(find('qat-forward')!.params, 'batchSize', 64),
        lr: num(find('qat-update')?.params ?? {}, 'lr', 1e-4),
        learnScales: Boolean(find('qat-backward')?.params.learnScales),
      });
      continue;
    }
    const node = find(d.name);
    const entry: AlgorithmInput = { name: d.name };
    for (const p of paramShapes(d)) {
      const ui = d.ui?.[p.key];
      if (!ui || !node) continue;
      const v = node.params[p.key] ?? p.default;
      const value = p.kind === 'number' ? (typeof v === 'number' ? v : (p.default as number)) : p.kind === 'boolean' ? Boolean(v) : String(v);
      if (ui.omitAtDefault && value === p.default) continue;
      entry[p.key] = value;
    }
    algorithms.push(entry);
  }

  return {
    weights: { dtype: String(params.weightDtype) as 'int8', scheme: String(params.weightScheme) as 'symmetric', granularity },
    activations,
    algorithms,
    opTypes: splitList(params.opTypes),
    exclude: splitList(params.exclude),
    // Weight-only only (the field is hidden otherwise, and a QDQ model has one weight dtype).
    ...(params.activationDtype === 'none' && splitList(params.int8Layers).length ? { int8Layers: splitList(params.int8Layers) } : {}),
    format: qmodel.format === 'matmulnbits' ? 'matmulnbits' : 'qdq',
    calibration: { samples: num(data ?? {}, 'samples', DEFAULT_RECIPE.calibration.samples), batchSize: num(data ?? {}, 'batchSize', DEFAULT_RECIPE.calibration.batchSize) },
    ...(qmodel.format === 'matmulnbits' ? { prefill: qmodel.prefill === 'matmulnbits' ? 'matmulnbits' as const : 'int8' as const } : {}),
    ...(target ? { target: compileTarget(target.params) } : {}),
  };
}

/** The Target node as the recipe's "target": its metric and that metric's one threshold. */
function compileTarget(p: Params): NonNullable<RecipeJson['target']> {
  const d = (key: string) => defaultParams('target')[key] as number;
  // "size" is the engine's default: written only when the user chose latency.
  const prefer = p.prefer === 'latency' ? { prefer: 'latency' as const } : {};
  if (p.metric === 'top1') return { metric: 'top1', maxDrop: num(p, 'maxDrop', d('maxDrop')), ...prefer };
  if (p.metric === 'perplexity') return { metric: 'perplexity', maxIncrease: num(p, 'maxIncrease', d('maxIncrease')), ...prefer };
  return { metric: 'sqnr', min: num(p, 'min', d('min')), ...prefer };
}

/** Validate and, when the graph is sound, produce the recipe and run options. */
export function compilePipeline(doc: PipelineDoc): CompileResult {
  const problems = validatePipeline(doc);
  if (problems.length) return { ok: false, problems };
  const find = (type: string) => doc.nodes.find((n) => n.type === type);
  const ev = find('evaluate');
  const ex = find('export');
  return {
    ok: true,
    recipe: buildRecipe(doc),
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
