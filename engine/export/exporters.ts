// The output formats, each in one shape (Netron's one-file-per-format, registered once):
// `{ id, takes, accepts(recipe), write(input) }`. The orchestrator (engine/pipeline/quantize.ts) picks
// the first exporter whose accepts() takes the recipe and prepares what its `takes` says:
// - 'calibrated-plan': the QDQ plan and the calibrated activation ranges (QDQ);
// - 'weight-results': the rounded weights of the weights phase (MatMulNBits, int4 QDQ).
// The writers themselves stay in their files (qdq-rewrite.ts, matmulnbits.ts); this is their entry.
import type { ModelProto } from '../onnx/proto';
import { clone, ModelProtoSchema } from '../onnx/proto';
import type { NpyArray } from '../data/npy';
import type { Recipe } from '../../contract/recipe';
import type { QuantizedNodeInfo } from '../../contract/report';
import { StudioError } from '../errors';
import { algorithmDecl } from '../../contract/algorithms';
import type { WeightOnlyLayerResult } from '../quant/algorithms/weight-only';
import type { QdqPlan } from './qdq-plan';
import { rewriteQdq } from './qdq-rewrite';
import { exportWeightOnly, type WeightOnlyExportOptions } from './matmulnbits';
import { chooseInt8Branch } from './int8-prefill-check';
import { int8PrefillNotice } from './int8-prefill';
import { allInitializers, isExternal } from '../onnx/external-data';
import { runMemoryBudget } from '../runtime/memory-budget';
import { formatGiB } from '../util/format-bytes';
import { externalDataInfo } from '../onnx/tensor';

export interface ExportInput {
  /** The float model as the stages left it (the QDQ writer edits it in place; the others copy it). */
  model: ModelProto;
  /** The untouched input model (the int8 branch check compares against it). */
  original: ModelProto;
  baseDir?: string;
  recipe: Recipe;
  /** takes 'calibrated-plan': the plan and each calibrated activation's range. */
  plan?: QdqPlan;
  ranges?: Map<string, { min: number; max: number }>;
  /** takes 'weight-results': every rounded layer. */
  weightResults?: WeightOnlyLayerResult[];
  /** Calibration samples (the int8 branch is checked on them). */
  inputs?: Record<string, NpyArray>;
  /** MatMulNBits accuracy_level (default 4) and export knobs beyond the recipe (tests, the bench). */
  accuracyLevel?: number;
  exportOptions?: Pick<WeightOnlyExportOptions, 'fuseTransformerOps' | 'prefill' | 'prefillMinRows' | 'mergeSharedInput' | 'fuseGelu'>;
}

export interface ExportOutput {
  model: ModelProto;
  notices: string[];
  /** Nodes the writer quantized (the weights phase reports its own for 'weight-results'). */
  quantized: QuantizedNodeInfo[];
  /** Activation tensor -> its dequantized name in the output model. */
  dequantized?: Map<string, string>;
}

export interface Exporter {
  id: string;
  /** The recipe "format" value it writes. */
  format: Recipe['format'];
  takes: 'calibrated-plan' | 'weight-results';
  accepts(recipe: Recipe): boolean;
  write(input: ExportInput): Promise<ExportOutput>;
}

/** Every algorithm of the recipe works on weights only (activations stay float): RTN, GPTQ, AWQ. */
export function isWeightOnlyRecipe(recipe: Recipe): boolean {
  return recipe.activations === null && recipe.algorithms.every((a) => algorithmDecl(a.name)?.phase === 'weights');
}

const qdq: Exporter = {
  id: 'qdq', format: 'qdq', takes: 'calibrated-plan',
  accepts: () => true,
  async write(i) {
    if (!i.plan) throw new StudioError('INTERNAL', 'The QDQ exporter needs a plan.');
    const res = rewriteQdq(i.model, i.plan, i.ranges ?? new Map(), i.recipe, i.baseDir);
    const notices = res.fusedGelu ? [`Fused ${res.fusedGelu} tanh-approximated GELU subgraph(s) (9 float ops each) into one Gelu node (opset ${res.opset}): onnxruntime does not fuse that spelling itself.`] : [];
    return { model: i.model, notices, quantized: res.quantized, dequantized: res.dequantized };
  },
};

const matmulnbits: Exporter = {
  id: 'matmulnbits', format: 'matmulnbits', takes: 'weight-results',
  accepts: (r) => r.format === 'matmulnbits' && isWeightOnlyRecipe(r),
  async write(i) {
    const results = i.weightResults ?? [];
    if (results.some((r) => r.config.bits > 8)) throw new StudioError('BAD_RECIPE', 'Recipe format: "matmulnbits" takes 2- to 8-bit weights.');
    const notices: string[] = [];
    const opts = { prefill: i.recipe.prefill, ...i.exportOptions, format: 'matmulnbits', baseDir: i.baseDir, accuracyLevel: i.accuracyLevel } as const;
    let wantBranch = (opts.prefill ?? 'int8') === 'int8';
    // Export once with MatMulNBits for every step; the int8 branch goes onto a copy, which stays only if
    // calibration samples say it costs no more accuracy than MatMulNBits.
    let exported = exportWeightOnly(i.model, results, wantBranch ? { ...opts, prefill: 'matmulnbits' } : opts);
    if (wantBranch && opts.prefill === undefined) {
      // The default branch is dropped where opening it would not fit the memory budget.
      const tooBig = int8BranchMemoryReason(exported.model, initializerBytes(i.original));
      if (tooBig) { wantBranch = false; notices.push(tooBig); }
    }
    if (wantBranch) {
      // The int8 branch (per layer where needed) only where calibration samples say it keeps the int4
      // model's accuracy (engine/export/int8-prefill-check.ts).
      const choice = await chooseInt8Branch(i.original, exported.model, i.inputs, { minRows: opts.prefillMinRows, baseDir: i.baseDir });
      notices.push(...choice.notices);
      if (choice.model && choice.branch) exported = { model: choice.model, notices: [...exported.notices, int8PrefillNotice(choice.branch)] };
    }
    return { model: exported.model, notices: [...notices, ...exported.notices], quantized: [] };
  },
};

/**
 * The int8 branch stores no int8 weights: onnxruntime derives them from the int4 data when it opens the
 * model (constant folding through Cast/Div/Concat/Mul/Round chains), and holds every intermediate of
 * that folding until it finishes: opening moby-gpt's RTN export (7.45 M weights) peaked 340 MiB above
 * the process with the branch, 37 MiB without (48 B per weight); a 51 M-weight LLaMA-style export
 * peaked 4.1 GiB in the whole run (docs/measurements/scale-2026-12-07.md). The default branch stays only
 * while that fits the run's memory budget (engine/runtime/memory-budget.ts).
 */
export const INT8_BRANCH_OPEN_BYTES_PER_WEIGHT = 48;

export function int8BranchMemoryReason(matmulNBitsOnly: ModelProto, fp32Bytes: number): string | undefined {
  let weights = 0;
  for (const n of matmulNBitsOnly.graph!.node) {
    if (n.opType !== 'MatMulNBits' || n.domain !== 'com.microsoft') continue;
    const at = (k: string) => Number(n.attribute.find((a) => a.name === k)?.i ?? 0);
    weights += at('N') * at('K');
  }
  const cost = INT8_BRANCH_OPEN_BYTES_PER_WEIGHT * weights, budget = runMemoryBudget(fp32Bytes);
  if (cost <= budget) return undefined;
  return `Every step runs MatMulNBits (no int8 branch for multi-row steps): onnxruntime would need about ${formatGiB(cost, 1)} to derive the branch's int8 weights when opening the model (${(weights / 1e6).toFixed(0)} M weights), over the memory budget of ${formatGiB(budget, 1)}; set "prefill": "int8" in the recipe to add it anyway.`;
}

/** Bytes of a model's initializers as stored (external data by its recorded length). */
function initializerBytes(model: ModelProto): number {
  let total = 0;
  for (const t of allInitializers(model)) total += isExternal(t) ? (externalDataInfo(t).length ?? 0) : t.rawData.length;
  return total;
}

const int4Qdq: Exporter = {
  id: 'int4-qdq', format: 'qdq', takes: 'weight-results',
  // A weight-only recipe whose weights GPTQ/AWQ chose: blocked DequantizeLinear (opset 21) before the
  // float MatMul. Weight-only RTN in "qdq" goes through the QDQ planner instead.
  accepts: (r) => r.format === 'qdq' && isWeightOnlyRecipe(r) && r.algorithms.some((a) => algorithmDecl(a.name)?.roundsWeights),
  async write(i) {
    const exported = exportWeightOnly(i.model, i.weightResults ?? [], { ...i.exportOptions, format: 'qdq', baseDir: i.baseDir, accuracyLevel: i.accuracyLevel });
    return { model: exported.model, notices: exported.notices, quantized: [] };
  },
};

const exporters: Exporter[] = [matmulnbits, int4Qdq, qdq];

/** Add an export format; it is tried before the built-ins, so a narrower accepts() wins. */
export function registerExporter(e: Exporter): () => void {
  if (exporters.some((x) => x.id === e.id)) throw new StudioError('INTERNAL', `Exporter '${e.id}' is registered twice.`);
  exporters.unshift(e);
  return () => { const k = exporters.indexOf(e); if (k >= 0) exporters.splice(k, 1); };
}

/** The exporter that writes this recipe. */
export function exporterFor(recipe: Recipe): Exporter {
  return exporters.find((e) => e.accepts(recipe))!;
}

/** The weight-results exporter of a format (the weight-only path called directly: tests, the bench). */
export function weightResultsExporter(format: Recipe['format']): Exporter {
  const e = exporters.find((x) => x.takes === 'weight-results' && x.format === format);
  if (!e) throw new StudioError('BAD_RECIPE', `Recipe format: no weight-only writer for ${JSON.stringify(format)}.`);
  return e;
}
