// The shared part of every analysis task, computed once: the float model as the pipeline would
// quantize it (Conv+BN folded, SmoothQuant applied), then either the activation ranges (one
// calibration run, QDQ recipes) or every layer's quantized weight (one GPTQ/AWQ/RTN run, weight-only
// recipes, plus an int8 round-to-nearest copy for the search's middle step), the evaluation split and
// the FP32 reference outputs. Tasks (engine/analysis/variant-task.ts) only mix these.
import { statSync } from 'node:fs';
import { loadModel, serializeModel } from '../onnx/model-io';
import { clone, ModelProtoSchema, type ModelProto } from '../onnx/proto';
import type { NpyArray } from '../data/npy';
import type { Recipe } from '../../contract/recipe';
import { validateInputs } from '../pipeline/validate-inputs';
import { foldConvBatchNorm } from '../export/qdq-fold-bn';
import { planQdq, dropUncalibrated, type QdqPlan } from '../export/qdq-plan';
import { runCalibration } from '../quant/calibration/run-calibration';
import { calibrationMethod } from '../quant/calibration/methods';
import { runSmoothQuant } from '../quant/algorithms/smoothquant';
import { quantizeWeightOnly } from '../pipeline/stages/weights-phase';
import { isWeightOnlyRecipe } from '../export/exporters';
import { rtnLayers, weightOnlyConfig, type WeightOnlyLayerResult } from '../quant/algorithms/weight-only';
import { layerWeightNK, weightToStored } from '../quant/algorithms/linear-layers';
import { tensorDims } from '../onnx/tensor';
import { runSize, wholeRuns } from '../runtime/batching';
import { splitEvaluation, type EvaluationInfo } from '../eval/eval-data';
import { subProgress, throwIfCancelled, type WorkContext } from '../util/work-context';
import { StudioError, quote } from '../errors';
import { referenceOutputs, type AnalysisShared } from './variant-task';

/** A quantizable unit: a layer's weight, or an activation tensor (qdq recipes with activations). */
export interface AnalysisUnit {
  kind: 'weight' | 'activation';
  /** Node name (weight) or tensor name (activation). */
  name: string;
  opType?: string;
  /** Parameters of the weight (weight units), for the size cost. */
  params?: number;
  /** The FP32 tensor the node writes (weight units), where its cumulative error is measured. */
  tensor?: string;
}

export interface PreparedAnalysis {
  shared: AnalysisShared;
  /** The FP32 model as loaded (the reference for cumulative per-layer error). */
  original: ModelProto;
  /** The prepared float model (as in shared.modelBytes). */
  prepared: ModelProto;
  units: AnalysisUnit[];
  evaluation: EvaluationInfo;
  calibrationSamples: number;
  notices: string[];
  timingsMs: Record<string, number>;
  /** The FP32 model's size on disk. */
  fp32Bytes: number;
  /** Weight-only: the rounded layers themselves (recipe dtype, and int8 by node), for exporting a candidate for real. */
  weightResults?: { recipe: WeightOnlyLayerResult[]; int8: Map<string, WeightOnlyLayerResult> };
}

export interface PrepareOptions {
  modelPath: string;
  recipe: Recipe;
  inputs: Record<string, NpyArray>;
  labels?: NpyArray;
  evalInputs?: Record<string, NpyArray>;
  evalLabels?: NpyArray;
  /** At most this many evaluation samples (default: the evaluation cap). */
  evalSamples?: number;
  inputSources?: Record<string, string>;
  /** How descriptions name the data (default "--data" / "--eval-data", as the CLI flags). */
  dataNames?: { data: string; eval: string };
  /** The inputs are already split: `inputs` calibrate, `evalInputs` (described by this) evaluate. */
  evaluationInfo?: EvaluationInfo;
  ctx?: WorkContext;
}

export async function prepareAnalysis(o: PrepareOptions): Promise<PreparedAnalysis> {
  const timingsMs: Record<string, number> = {};
  const t0 = performance.now();
  const { recipe, ctx } = o;
  const notices: string[] = [];
  const loaded = await loadModel(o.modelPath);
  if (Object.keys(o.inputs).length === 0) throw new StudioError('BAD_ARGUMENT', `Analysis of ${quote(o.modelPath)} needs data: pass --data INPUT=FILE.npy (calibration, and evaluation unless --eval-data is given).`);
  validateInputs(loaded.model, o.inputs, o.modelPath, o.inputSources);
  if (o.evalInputs && Object.keys(o.evalInputs).length) validateInputs(loaded.model, o.evalInputs, o.modelPath);
  if (recipe.algorithms.some((a) => a.name === 'qat')) notices.push('QAT is not simulated by the analysis: the figures are those of post-training quantization with the same recipe.');
  const split = splitEvaluation({ inputs: o.inputs, labels: o.labels, evalInputs: o.evalInputs, evalLabels: o.evalLabels, cap: o.evalSamples, dataName: o.dataNames?.data, evalName: o.dataNames?.eval });
  const evaluation = split.evaluation!;
  if (o.evaluationInfo) evaluation.info = { ...o.evaluationInfo, samples: evaluation.info.samples };
  const cal = split.calibration.inputs;
  const model = clone(ModelProtoSchema, loaded.model);
  foldConvBatchNorm(model, loaded.baseDir);
  for (const alg of recipe.algorithms) {
    if (alg.name !== 'smoothquant') continue;
    const sq = await runSmoothQuant(model, loaded.baseDir, alg, recipe, cal, subProgress(ctx, 'smoothquant', 0, 0.05));
    notices.push(...sq.notices);
  }
  const weightOnly = isWeightOnlyRecipe(recipe);
  let ranges: AnalysisShared['ranges'] = [];
  let layers: AnalysisShared['layers'] = [];
  const units: AnalysisUnit[] = [];
  let calibrationSamples = 0;
  let weightResults: PreparedAnalysis['weightResults'];
  throwIfCancelled(ctx);
  if (weightOnly) {
    // Only the rounded weights are used (variants substitute them into the float graph): the export is
    // kept plain — no fusions, merges or int8 branch, whose check alone runs sessions.
    const wo = await quantizeWeightOnly({
      model, baseDir: loaded.baseDir, recipe: { ...recipe, prefill: 'matmulnbits' }, inputs: cal, ctx: subProgress(ctx, 'quantize', 0.05, 0.3),
      exportOptions: { prefill: 'matmulnbits', fuseTransformerOps: false, mergeSharedInput: false, fuseGelu: false },
    });
    const cfg = weightOnlyConfig(recipe.weights);
    const ws = new Map(wo.results.map((r) => [r.layer, layerWeightNK(model, loaded.baseDir, r.layer)]));
    const int8 = new Map(rtnLayers(ws, { ...cfg, bits: 8 }).map((r) => [r.layer, r]));
    weightResults = { recipe: wo.results, int8: new Map([...int8].map(([l, r]) => [l.nodes[0]!.name, r])) };
    layers = wo.results.map((r) => {
      const init = model.graph!.initializer.find((t) => t.name === r.layer.weight)!;
      return {
        node: r.layer.nodes[0]!.name, nodes: r.layer.nodes.map((n) => n.name), weight: r.layer.weight, dims: tensorDims(init),
        recipe: weightToStored(r.layer, r.qw.dequantized), int8: weightToStored(r.layer, int8.get(r.layer)!.qw.dequantized),
      };
    });
    // Tied weights (a Gather reads the same initializer) would change the Gather too: leave them out.
    const tied = wo.results.filter((r) => r.layer.sharedWith.length).map((r) => r.layer.nodes[0]!.name);
    if (tied.length) { layers = layers.filter((l) => !tied.includes(l.node)); notices.push(`Left out of the analysis: ${tied.join(', ')} (weight shared with another op).`); }
    for (const l of layers) units.push({ kind: 'weight', name: l.node, opType: wo.results.find((r) => r.layer.weight === l.weight)!.layer.opType, params: l.recipe.length, tensor: model.graph!.node.find((n) => n.name === l.node)?.output[0] });
    calibrationSamples = recipe.algorithms.some((a) => a.name === 'gptq' || a.name === 'awq') ? Math.min(recipe.calibration.samples, Object.values(cal)[0]?.shape[0] ?? 0) : 0;
  } else {
    const plan = planQdq(clone(ModelProtoSchema, model), recipe, o.modelPath);
    if (plan.targets.length === 0) throw new StudioError('BAD_RECIPE', `Nothing to quantize in ${quote(o.modelPath)} with this recipe.`);
    if (recipe.activations) {
      const m = calibrationMethod(recipe.activations);
      const c = await runCalibration(model, plan.calibrate, cal, {
        samples: recipe.calibration.samples, batchSize: recipe.calibration.batchSize, device: 'cpu',
        makeCollector: m.makeCollector, chooseRange: m.chooseRange, ctx: subProgress(ctx, 'calibrate', 0.05, 0.3),
      });
      calibrationSamples = c.samplesUsed;
      ranges = [...c.stats].map(([t, s]) => [t, { min: s.rangeMin, max: s.rangeMax }]);
      dropUncalibrated(plan, new Set(c.stats.keys()));
    }
    addQdqUnits(plan, model, units);
  }
  timingsMs.prepare = performance.now() - t0;
  const t1 = performance.now();
  const modelBytes = serializeModel(model);
  // Variants score whole batches against these reference batches, so a model with a fixed batch axis
  // gets batches of exactly its size (and whole runs of them); the fixed-size marks on the arrays do
  // not survive the copy into the worker threads, so the size is settled here.
  const batchSize = runSize(evaluation.inputs, Math.max(1, Math.min(16, recipe.calibration.batchSize)));
  const samples = wholeRuns(evaluation.inputs, evaluation.info.samples);
  const reference = await referenceOutputs(modelBytes, evaluation.inputs, samples, batchSize, loaded.baseDir);
  timingsMs.reference = performance.now() - t1;
  const { size } = statSync(o.modelPath);
  return {
    shared: { modelBytes, baseDir: loaded.baseDir, recipe, mode: weightOnly ? 'weight-only' : 'qdq', ranges, layers, evalInputs: evaluation.inputs, evalLabels: evaluation.labels, samples, batchSize, reference },
    original: loaded.model, prepared: model, units, evaluation: evaluation.info, calibrationSamples, notices, timingsMs, fp32Bytes: size, weightResults,
  };
}

function addQdqUnits(plan: QdqPlan, model: ModelProto, units: AnalysisUnit[]): void {
  const inits = new Map(model.graph!.initializer.map((t) => [t.name, t]));
  for (const t of plan.targets) {
    if (t.weightInput === undefined) continue; // a MatMul of two activations: its inputs are activation units
    const w = t.weightInput !== undefined ? inits.get(t.node.input[t.weightInput]!) : undefined;
    const params = w ? tensorDims(w).reduce((a, b) => a * b, 1) : 0;
    units.push({ kind: 'weight', name: t.node.name, opType: t.node.opType, params, tensor: (t.foldedRelu ?? t.node).output[0] });
  }
  for (const tensor of plan.activations.keys()) units.push({ kind: 'activation', name: tensor });
}

/** Every unit at the recipe's precision: the fully quantized model as a task. */
export function allQuantized(p: PreparedAnalysis): { weights: Record<string, 'recipe'>; activations: string[] } {
  const weights: Record<string, 'recipe'> = {};
  for (const u of p.units) if (u.kind === 'weight') weights[u.name] = 'recipe';
  return { weights, activations: p.units.filter((u) => u.kind === 'activation').map((u) => u.name) };
}
