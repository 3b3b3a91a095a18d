// The engine's one entry for a whole quantization run (CLI, job runner, tests):
// load -> validate data -> fold Conv+BN -> algorithms before calibration -> plan -> calibrate ->
// weight algorithms -> QDQ rewrite -> check that ORT loads it -> write atomically -> evaluate -> report.
// A QAT recipe skips the pipeline's calibration: QAT calibrates the plan it trains (engine/qat) and that
// calibration goes into the report instead. Progress: plan 5 %, calibration 5-50 % (QAT: its calibration
// 5-15 %, training 15-50 %), export 55 %, evaluation 80 %. SmoothQuant runs in 0-5 %; weight-only
// (GPTQ/AWQ/RTN to MatMulNBits) runs in 5-90 %, then export 90 %, evaluation 95 %.
import { stat, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clone, ModelProtoSchema, type ModelProto } from '../onnx/proto';
import { loadModel, saveModel, serializeModel, PROTOBUF_LIMIT } from '../onnx/model-io';
import { hasExternalData, allInitializers } from '../onnx/external-data';
import type { NpyArray } from '../data/npy';
import type { ActivationSpec, Recipe } from './recipe';
import type { QuantizeReport } from './report';
import { assertFiniteInputs } from '../data/finite';
import { validateInputs } from './validate-inputs';
import { createSession, withModelFolder } from '../runtime/session';
import { sampleCount } from '../runtime/batching';
import { runCalibration } from '../quant/calibration/run-calibration';
import type { TensorStats, CalibrationResult } from '../quant/calibration/run-calibration';
import { calibrationMethod } from '../quant/calibration/methods';
import { summarizeHistogram } from '../quant/calibration/histogram-summary';
import { rangeParams } from '../export/qdq-params';
import { foldConvBatchNorm } from '../export/qdq-fold-bn';
import { planQdq, dropUncalibrated, type QdqPlan } from '../export/qdq-plan';
import { rewriteQdq } from '../export/qdq-rewrite';
import { splitEvaluation } from '../eval/eval-data';
import { evaluateRun, evaluatedNodes } from '../eval/evaluate-run';
import { throwIfCancelled, subProgress, type WorkContext } from '../jobs/progress';
import { StudioError, quote } from '../errors';
import { runQatStage } from '../qat';
import { runSmoothQuant } from '../quant/algorithms/smoothquant';
import { quantizeWeightOnly, isWeightOnlyRecipe } from '../quant/algorithms/run-weight-only';
import { runBiasCorrection } from '../quant/algorithms/bias-correction';

export interface QuantizeOptions {
  modelPath: string;
  outputPath: string;
  recipe: Recipe;
  /** Sample-major arrays, one per model input (axis 0 = sample). */
  inputs: Record<string, NpyArray>;
  labels?: NpyArray;
  ctx?: WorkContext;
  /** Where each input's data came from, for error messages. */
  inputSources?: Record<string, string>;
  /** Per-layer and output comparison after export (default true). */
  evaluate?: boolean;
  /** Evaluation data apart from the calibration data (CLI --eval-data / --eval-labels); without it a
   *  held-out split of `inputs` (engine/eval/eval-data.ts). */
  evalInputs?: Record<string, NpyArray>;
  evalLabels?: NpyArray;
}

/** What every stage (and every algorithm plugged in below) works on. */
export interface PipelineState {
  /** The float model being transformed (algorithms may edit its weights in place). */
  model: ModelProto;
  /** The untouched FP32 model, for comparisons. */
  original: ModelProto;
  baseDir: string;
  recipe: Recipe;
  inputs: Record<string, NpyArray>;
  labels?: NpyArray;
  report: QuantizeReport;
  ctx?: WorkContext;
  plan?: QdqPlan;
  stats?: Map<string, TensorStats>;
  /** The activation calibration run: the pipeline's, or the one QAT ran on its own plan. */
  calibration?: CalibrationResult;
  /** Set by an algorithm that writes the output model itself (e.g. MatMulNBits export, QAT). */
  exported?: ModelProto;
  /** Activation tensor -> its dequantized name in the output model. */
  dequantized?: Map<string, string>;
}

const progress = (ctx: WorkContext | undefined, stage: string, fraction: number, message: string) => ctx?.onProgress?.({ stage, fraction, message });

/** Every session of the run made from bytes reads external data from the model's own folder. */
export function quantizeModel(o: QuantizeOptions): Promise<QuantizeReport> {
  return withModelFolder(dirname(resolve(o.modelPath)), () => quantizeModelInFolder(o));
}

async function quantizeModelInFolder(o: QuantizeOptions): Promise<QuantizeReport> {
  const t0 = performance.now();
  const { recipe, ctx } = o;
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    const s = performance.now();
    try { return await f(); } finally { timings[name] = (timings[name] ?? 0) + performance.now() - s; }
  };

  progress(ctx, 'load', 0, `loading ${o.modelPath}`);
  const loaded = await timed('load', () => loadModel(o.modelPath));
  // ORT must accept the input model: catches unsupported ops and broken graphs with ORT's own words.
  await timed('load', async () => { const s = await createSession(serializeModel(loaded.model), { device: 'cpu', source: o.modelPath, optimization: 'disabled' }); await s.release(); });
  // Weight-only recipes need no data; anything given is still checked.
  const validated = recipe.activations !== null || Object.keys(o.inputs).length > 0 ? validateInputs(loaded.model, o.inputs, o.modelPath, o.inputSources) : undefined;
  // NaN/Inf data would calibrate NaN scales and report meaningless metrics: refused here, for every caller.
  assertFiniteInputs(o.inputs, o.inputSources);
  // Every figure is measured apart from calibration/training: on --eval-data, else on a held-out split.
  const { calibration: calibrationData, evaluation } = splitEvaluation(o);
  o = { ...o, inputs: calibrationData.inputs, labels: calibrationData.labels };

  const report: QuantizeReport = {
    modelPath: o.modelPath, outputPath: o.outputPath, recipe, quantized: [], skipped: [], timingsMs: timings,
    sizeBytes: { original: (await stat(o.modelPath)).size, quantized: 0 }, layers: [], notices: [],
    device: { requested: recipe.device, used: 'cpu' },
  };
  report.notices.push(...(validated?.notices ?? []));
  const st: PipelineState = { model: clone(ModelProtoSchema, loaded.model), original: loaded.model, baseDir: loaded.baseDir, recipe, inputs: o.inputs, labels: o.labels, report, ctx };

  const folded = foldConvBatchNorm(st.model, st.baseDir);
  if (folded.length) report.notices.push(`Folded ${folded.length} BatchNormalization node(s) into the Conv before them.`);

  // ---- algorithms that transform the float model before calibration (llm: smoothquant) ----
  let smoothErrors: { node: string; weightErrorBefore: number; weightErrorAfter: number; outputErrorBefore: number; outputErrorAfter: number }[] = [];
  for (const alg of recipe.algorithms) {
    throwIfCancelled(ctx);
    switch (alg.name) {
      case 'rtn': break; // the default: round-to-nearest in the QDQ writer
      case 'smoothquant': {
        // llm: float-equivalent smoothing before calibration; the usual int8 calibration + QDQ follow.
        const sq = await timed('smoothquant', () => runSmoothQuant(st.model, st.baseDir, alg, recipe, o.inputs, subProgress(ctx, 'smoothquant', 0, 0.05)));
        report.notices.push(...sq.notices);
        smoothErrors = sq.layerErrors;
        break;
      }
      case 'gptq':
      case 'awq':
      case 'qat':
      case 'bias-correction':
        break; // dispatched below in their own stage
    }
  }
  // llm: weight-only gptq / awq / rtn (activations null) with MatMulNBits or int4 QDQ export.
  const weightOnly = isWeightOnlyRecipe(recipe) && (recipe.format === 'matmulnbits' || recipe.algorithms.some((a) => a.name === 'gptq' || a.name === 'awq'));
  for (const alg of recipe.algorithms) {
    if ((alg.name === 'gptq' || alg.name === 'awq') && !weightOnly) throw new StudioError('BAD_RECIPE', `Recipe algorithm ${quote(alg.name)} is weight-only: set "activations": null.`);
    if (alg.name === 'bias-correction' && (!recipe.activations || recipe.format !== 'qdq')) throw new StudioError('BAD_RECIPE', `Recipe algorithm ${quote(alg.name)} corrects the int32 biases of a QDQ model with quantized activations: it needs "activations" set and "format": "qdq".`);
    if (alg.name === 'bias-correction' && recipe.algorithms.some((a) => a.name === 'qat')) throw new StudioError('BAD_RECIPE', `Recipe algorithms ${quote('bias-correction')} and ${quote('qat')} do not combine: QAT trains the weights and biases it exports.`);
  }
  if (weightOnly) {
    const wo = await timed('quantize', () => quantizeWeightOnly({ model: st.model, baseDir: st.baseDir, recipe, inputs: o.inputs, ctx: subProgress(ctx, 'quantize', 0.05, 0.9) }));
    Object.assign(timings, wo.timingsMs);
    st.exported = wo.model;
    report.quantized.push(...wo.quantized);
    report.notices.push(...wo.notices);
  }

  // Weight-only runs already reported 5-90 % from inside their algorithms: later stages must not go back.
  if (!weightOnly) progress(ctx, 'plan', 0.05, 'planning');
  st.plan = planQdq(st.model, recipe, o.modelPath);
  report.skipped.push(...st.plan.skipped);
  if (st.plan.targets.length === 0) {
    throw new StudioError('BAD_RECIPE', `Nothing to quantize in ${quote(o.modelPath)}: no node of type ${recipe.opTypes.map((t) => quote(t)).join(', ')} is left after "exclude"${st.plan.skipped.length ? ` (skipped: ${st.plan.skipped.slice(0, 3).map((s) => `${s.node}: ${s.reason}`).join('; ')})` : ''}.`);
  }

  // QAT calibrates its own plan (engine/qat): calibrating here too would be a second, unused pass.
  const qat = recipe.algorithms.some((a) => a.name === 'qat');
  if (recipe.activations && !qat) {
    const m = calibrationMethod(recipe.activations);
    if (m.notice) report.notices.push(m.notice);
    const cal = await timed('calibrate', () => runCalibration(st.model, st.plan!.calibrate, o.inputs, {
      samples: recipe.calibration.samples, batchSize: recipe.calibration.batchSize, device: recipe.device,
      makeCollector: m.makeCollector, chooseRange: m.chooseRange,
      ctx: { ...ctx, onProgress: (e) => progress(ctx, 'calibrate', 0.05 + 0.45 * e.fraction, e.message ?? '') },
    }));
    st.stats = cal.stats;
    st.calibration = cal;
    const uncal = dropUncalibrated(st.plan, new Set(cal.stats.keys()));
    if (uncal.length) report.notices.push(`${uncal.length} node(s) sit where the calibration data never went (an If branch it did not take): their activations stay float, weights are still quantized (${uncal.slice(0, 3).join(', ')}${uncal.length > 3 ? ', ...' : ''}).`);
    report.device.used = cal.provider;
    reportCalibration(report, recipe.activations, cal);
  }

  // ---- bias correction (ptq): the float biases the QDQ writer quantizes absorb the mean shift of weight rounding ----
  if (recipe.activations && recipe.algorithms.some((a) => a.name === 'bias-correction')) {
    throwIfCancelled(ctx);
    const bc = await timed('bias-correction', () => runBiasCorrection({
      model: st.model, baseDir: st.baseDir, plan: st.plan!, recipe, inputs: o.inputs, device: recipe.device, ctx: subProgress(ctx, 'bias-correction', 0.5, 0.55),
    }));
    report.notices.push(...bc.notices);
  }

  // ---- weight algorithms (llm: gptq/awq edit weights or export MatMulNBits; qat: trains) go here ----
  for (const alg of recipe.algorithms) if (alg.name === 'qat') await timed('qat', () => runQatStage(st, alg, { outputPath: o.outputPath }));
  if (qat && recipe.activations && st.calibration) reportCalibration(report, recipe.activations, st.calibration);

  throwIfCancelled(ctx);
  progress(ctx, 'export', weightOnly ? 0.9 : 0.55, weightOnly ? 'checking and writing the model' : 'writing QDQ graph');
  let out: ModelProto;
  if (st.exported) out = st.exported;
  else {
    out = st.model;
    const ranges = new Map<string, { min: number; max: number }>();
    for (const [t, s] of st.stats ?? []) ranges.set(t, { min: s.rangeMin, max: s.rangeMax });
    const res = await timed('export', () => rewriteQdq(out, st.plan!, ranges, recipe, st.baseDir));
    report.quantized.push(...res.quantized);
    st.dequantized = res.dequantized;
    if (res.fusedGelu) report.notices.push(`Fused ${res.fusedGelu} tanh-approximated GELU subgraph(s) (9 float ops each) into one Gelu node (opset ${res.opset}): onnxruntime does not fuse that spelling itself.`);
    // llm: SmoothQuant's per-layer before/after errors beside the nodes the QDQ writer quantized.
    for (const e of smoothErrors) {
      const q = report.quantized.find((x) => x.node === e.node);
      if (q) (q.algorithmErrors ??= []).push({ algorithm: 'smoothquant', weightErrorBefore: e.weightErrorBefore, weightErrorAfter: e.weightErrorAfter, outputErrorBefore: e.outputErrorBefore, outputErrorAfter: e.outputErrorAfter });
    }
  }
  // An output with external data (or too big for one protobuf) is checked from its saved path, as
  // users will open it; a small one is checked from bytes before anything is written.
  const checkFromPath = hasExternalData(out) || allInitializers(out).reduce((n, t) => n + t.rawData.length, 0) > PROTOBUF_LIMIT / 2;
  const bytes = checkFromPath ? undefined : serializeModel(out);
  await timed('export', async () => {
    const fail = (e: unknown) => new StudioError('INTERNAL', `The quantized model does not load in onnxruntime, so nothing was written to ${quote(o.outputPath)}: ${(e as Error).message}`, { cause: e });
    if (bytes) {
      const s = await createSession(bytes, { device: 'cpu', source: 'the quantized model' }).catch((e) => { throw fail(e); });
      await s.release();
    }
    await saveModel(out, o.outputPath, { baseDir: st.baseDir });
    if (!bytes) {
      const s = await createSession(o.outputPath, { device: 'cpu', source: o.outputPath }).catch(async (e) => {
        await rm(o.outputPath, { force: true }); await rm(`${o.outputPath}.data`, { force: true });
        throw fail(e);
      });
      await s.release();
    }
  });
  report.sizeBytes.quantized = (await stat(o.outputPath)).size + (hasExternalData(out) || !bytes ? await stat(`${o.outputPath}.data`).then((x) => x.size, () => 0) : 0);

  if (o.evaluate !== false && evaluation) {
    progress(ctx, 'evaluate', weightOnly ? 0.95 : 0.8, `comparing FP32 and quantized on ${evaluation.info.description}`);
    await timed('evaluate', () => evaluateRun(report, {
      original: loaded.model, quantized: out, nodes: evaluatedNodes(st.plan), dequantized: st.dequantized, evaluation, batchSize: recipe.calibration.batchSize, device: recipe.device, ctx,
    }));
  }
  timings.total = performance.now() - t0;
  progress(ctx, 'done', 1, 'done');
  return report;
}

/** What a calibration run adds to the report: its notice, sample count and per-tensor ranges. */
function reportCalibration(report: QuantizeReport, activations: ActivationSpec, cal: CalibrationResult): void {
  if (cal.notice) report.notices.push(cal.notice);
  report.metrics = { ...report.metrics, calibrationSamples: cal.samplesUsed };
  report.activationRanges = [...cal.stats].map(([tensor, s]) => {
    const p = rangeParams(s.rangeMin, s.rangeMax, activations.dtype, activations.scheme, tensor);
    return { tensor, min: s.min, max: s.max, rangeMin: s.rangeMin, rangeMax: s.rangeMax, scale: p.scale, zeroPoint: p.zeroPoint, histogram: summarizeHistogram(s.histogram, s.min, s.max) };
  });
}
