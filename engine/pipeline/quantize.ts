// The engine's one entry for a whole quantization run (CLI, job runner, tests):
// load -> validate data -> fold Conv+BN -> stages before calibration -> (weight-only: weights phase) ->
// plan -> calibrate -> stages after calibration -> training stages -> export -> check that ORT loads it
// -> write atomically -> evaluate -> report. The recipe's algorithms run through the stage registry
// (./stages/, declared in contract/algorithms.ts) phase by phase, and the output is written by the
// exporter whose accepts() takes the recipe (engine/export/exporters.ts); this file names no algorithm.
// A training stage (QAT) skips the pipeline's calibration: it calibrates the plan it trains and that
// calibration goes into the report instead. Progress: plan 5 %, calibration 5-50 % (QAT: its calibration
// 5-15 %, training 15-50 %), export 55 %, evaluation 80 %. SmoothQuant runs in 0-5 %; weight-only
// (GPTQ/AWQ/RTN to MatMulNBits) runs in 5-90 %, then export 90 %, evaluation 95 %.
import { stat, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clone, ModelProtoSchema, type ModelProto } from '../onnx/proto';
import { loadModel, saveModel, serializeModel, PROTOBUF_LIMIT } from '../onnx/model-io';
import { hasExternalData, allInitializers, externalDataBytes } from '../onnx/external-data';
import type { NpyArray } from '../data/npy';
import type { ActivationSpec, Recipe } from './recipe';
import type { QuantizeReport } from '../../contract/report';
import { assertFiniteInputs } from '../data/finite';
import { validateInputs } from './validate-inputs';
import { checkModelSupport } from './model-support';
import { createSession, withModelFolder } from '../runtime/session';
import { sampleCount } from '../runtime/batching';
import { runCalibration } from '../quant/calibration/run-calibration';
import type { TensorStats, CalibrationResult } from '../quant/calibration/run-calibration';
import { calibrationMethod } from '../quant/calibration/methods';
import { summarizeHistogram } from '../quant/calibration/histogram-summary';
import { rangeParams } from '../quant/math/qdq-params';
import { foldConvBatchNorm } from '../export/qdq-fold-bn';
import { planQdq, dropUncalibrated, type QdqPlan } from '../export/qdq-plan';
import { splitEvaluation } from '../eval/eval-data';
import { evaluateRun, evaluatedNodes } from '../eval/evaluate-run';
import { mixedPrecisionFor, applyPrecision, recordFinal } from '../analysis/mixed-precision';
import { throwIfCancelled, subProgress, type WorkContext } from '../util/work-context';
import { StudioError, quote } from '../errors';
import { quantizeWeightOnly, quantizedNodeInfo } from './stages/weights-phase';
import { recipeStages, stageProgress, type StageInput, type StageResult } from './stages/stage';
import { exporterFor } from '../export/exporters';
import { guardOff, guardTriggered, guardTarget, guardReport, guardNotice, guardProgress, guardMemoryReason, guardSkippedNotice } from './guard';
import type { Phase } from '../../contract/algorithms';
import './stages/builtin';
import { formatGiB } from '../util/format-bytes';

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
  /** How the evaluation description names the data (default "--data" / "--eval-data", the CLI flags). */
  dataName?: string;
  evalName?: string;
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
  return withModelFolder(dirname(resolve(o.modelPath)), () => quantizeGuarded(o));
}

/**
 * The wreck guard (./guard.ts): a watched run whose worst output SQNR falls below the trigger is run
 * again with the guard's target; the second run overwrites the first's output atomically. If that
 * search fails, the fully quantized model (already written) stays and the report says why.
 */
async function quantizeGuarded(o: QuantizeOptions): Promise<QuantizeReport> {
  if (guardOff(o.recipe, o.evaluate !== false)) return quantizeModelInFolder(o);
  const t0 = performance.now();
  // The first run's "done" waits: the guard may still have work to do.
  let done: Parameters<NonNullable<WorkContext['onProgress']>>[0] | undefined;
  const firstCtx: WorkContext | undefined = o.ctx && { ...o.ctx, onProgress: (e) => { if (e.stage === 'done') done = e; else o.ctx!.onProgress?.(e); } };
  const first = await quantizeModelInFolder({ ...o, ctx: firstCtx }, { skipDiagnosis: guardTriggered });
  const firstSqnr = first.outputAgreement?.sqnrDb;
  if (!guardTriggered(firstSqnr)) { if (done) o.ctx?.onProgress?.(done); return first; }
  const firstRunMs = performance.now() - t0;
  const on = first.evaluation?.description ?? 'the evaluation data';
  const tooBig = guardMemoryReason(first.sizeBytes.original);
  if (tooBig) {
    first.guard = { ...guardReport(firstSqnr!, firstRunMs, {}), kept: false, sqnrDb: firstSqnr, error: tooBig };
    first.notices.unshift(guardSkippedNotice(firstSqnr!, on, tooBig));
    if (done) o.ctx?.onProgress?.(done);
    return first;
  }
  let out: QuantizeReport;
  try {
    out = await quantizeModelInFolder({ ...o, recipe: { ...o.recipe, target: guardTarget() }, ctx: guardProgress(o.ctx) });
    out.guard = guardReport(firstSqnr!, firstRunMs, out);
    // The recipe the user gave: the guard's target is its own (report.guard), not the user's.
    const { target: _t, ...recipe } = out.recipe;
    out.recipe = recipe;
  } catch (e) {
    if (e instanceof StudioError && e.code === 'CANCELLED') throw e;
    out = first;
    out.guard = { ...guardReport(firstSqnr!, firstRunMs, {}), kept: false, sqnrDb: firstSqnr, error: (e as Error).message };
  }
  out.notices.unshift(guardNotice(out.guard, on, out.guard.kept ? out.mixedPrecision : undefined));
  out.timingsMs.guardFirstRun = firstRunMs;
  out.timingsMs.total = performance.now() - t0;
  o.ctx?.onProgress?.({ stage: 'done', fraction: 1, message: 'done' });
  return out;
}

async function quantizeModelInFolder(o: QuantizeOptions, guard: { skipDiagnosis?: (sqnrDb: number) => boolean } = {}): Promise<QuantizeReport> {
  const t0 = performance.now();
  const { ctx } = o;
  let { recipe } = o; // a recipe "target" replaces it with the chosen per-layer precision
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
    const s = performance.now();
    try { return await f(); } finally { timings[name] = (timings[name] ?? 0) + performance.now() - s; memoryLog(name); }
  };

  progress(ctx, 'load', 0, `loading ${o.modelPath}`);
  const loaded = await timed('load', () => loadModel(o.modelPath));
  // ORT must accept the input model: catches unsupported ops and broken graphs with ORT's own words.
  // A model with external data is opened from its path (as users will), not re-serialized around it.
  await timed('load', async () => { const s = await createSession(hasExternalData(loaded.model) ? o.modelPath : serializeModel(loaded.model), { device: 'cpu', source: o.modelPath, optimization: 'disabled' }); await s.release(); });
  // Weight-only recipes need no data; anything given is still checked.
  const validated = recipe.activations !== null || Object.keys(o.inputs).length > 0 ? validateInputs(loaded.model, o.inputs, o.modelPath, o.inputSources) : undefined;
  // Already-quantized models and float types the writers cannot handle: refused before any calibration.
  const supportNotices = checkModelSupport(loaded.model, recipe.opTypes, recipe.activations !== null, o.modelPath);
  // NaN/Inf data would calibrate NaN scales and report meaningless metrics: refused here, for every caller.
  assertFiniteInputs(o.inputs, o.inputSources);
  // Evaluation data is checked like --data, and a transformer export's auxiliary inputs (mask, positions,
  // empty cache) are derived from its token ids the same way: tokens-only --eval-data must run too.
  if (o.evalInputs && Object.keys(o.evalInputs).length) validateInputs(loaded.model, o.evalInputs, o.modelPath);
  if (o.evalInputs) assertFiniteInputs(o.evalInputs, {}, 'evaluation');
  // Every figure is measured apart from calibration/training: on --eval-data, else on a held-out split.
  const { calibration: calibrationData, evaluation } = splitEvaluation(o);
  o = { ...o, inputs: calibrationData.inputs, labels: calibrationData.labels };
  const mixed = await mixedPrecisionFor(o, recipe, evaluation, ctx, timed);
  if (mixed) recipe = mixed.recipe;

  const report: QuantizeReport = {
    modelPath: o.modelPath, outputPath: o.outputPath, recipe, quantized: [], skipped: [], timingsMs: timings,
    sizeBytes: { original: (await stat(o.modelPath)).size + await externalDataBytes(loaded.model, loaded.baseDir), quantized: 0 }, layers: [], notices: [],
    device: { requested: recipe.device, used: 'cpu' },
  };
  report.notices.push(...(validated?.notices ?? []), ...supportNotices);
  const st: PipelineState = { model: clone(ModelProtoSchema, loaded.model), original: loaded.model, baseDir: loaded.baseDir, recipe, inputs: o.inputs, labels: o.labels, report, ctx };

  const folded = foldConvBatchNorm(st.model, st.baseDir);
  if (folded.length) report.notices.push(`Folded ${folded.length} BatchNormalization node(s) into the Conv before them.`);

  // ---- the recipe's stages, phase by phase (engine/pipeline/stages/: each returns what it did) ----
  const stageInput = (extra: Partial<StageInput> = {}): StageInput => ({
    model: st.model, original: st.original, baseDir: st.baseDir, recipe, inputs: o.inputs, labels: o.labels, ctx, outputPath: o.outputPath, plan: st.plan, ...extra,
  });
  const pendingErrors: NonNullable<StageResult['algorithmErrors']> = [];
  const apply = (r: StageResult) => {
    report.notices.push(...(r.notices ?? []));
    if (r.metrics) report.metrics = { ...report.metrics, ...r.metrics };
    if (r.deviceUsed) report.device.used = r.deviceUsed;
    if (r.calibration) st.calibration = r.calibration;
    if (r.algorithmErrors) pendingErrors.push(...r.algorithmErrors);
    if (r.exported) {
      st.exported = r.exported.model;
      st.plan = r.exported.plan;
      st.dequantized = r.exported.dequantized;
      report.quantized.push(...r.exported.quantized);
    }
  };
  const runPhase = async (phase: Phase) => {
    for (const { stage, spec } of recipeStages(recipe, phase)) {
      throwIfCancelled(ctx);
      const span = stageProgress(stage);
      const stageCtx = span === 'whole-run' ? ctx : subProgress(ctx, spec.name, span[0], span[1]);
      apply(await timed(spec.name, () => stage.run(stageInput({ ctx: stageCtx }), spec)));
    }
  };
  // llm: float-equivalent transforms before calibration (SmoothQuant).
  await runPhase('before-calibration');

  // The exporter decides what the run prepares: rounded weights (weight-only: MatMulNBits, int4 QDQ)
  // or a calibrated QDQ plan.
  const exporter = exporterFor(recipe);
  const weightOnly = exporter.takes === 'weight-results';
  if (weightOnly) {
    // In a helper, not inline: an async function's locals stay reachable until it returns, and the
    // rounded layers (a byte per weight) must be let go before the export check and the evaluation.
    await (async () => {
      // A target search hands over the model it exported and scored: written == measured (rounding again
      // with its float layers excluded would give GPTQ other inputs, so other weights).
      const written = mixed?.written;
      const wo = written
        ? { model: written.model, quantized: quantizedNodeInfo(written.results, recipe), notices: written.notices, timingsMs: {} }
        : await timed('quantize', () => quantizeWeightOnly({ model: st.model, baseDir: st.baseDir, recipe, inputs: o.inputs, bitsByWeight: mixed?.weightBits, ctx: subProgress(ctx, 'quantize', 0.05, 0.9) }));
      Object.assign(timings, wo.timingsMs);
      st.exported = wo.model;
      report.quantized.push(...wo.quantized);
      report.notices.push(...wo.notices);
      if ('warnings' in wo && wo.warnings.length) report.warnings = [...(report.warnings ?? []), ...wo.warnings];
    })();
  }

  // Weight-only runs already reported 5-90 % from inside their algorithms: later stages must not go back.
  if (!weightOnly) progress(ctx, 'plan', 0.05, 'planning');
  st.plan = planQdq(st.model, recipe, o.modelPath);
  if (mixed) applyPrecision(st.plan, mixed);
  report.skipped.push(...st.plan.skipped);
  const floatActs = st.plan.floatActivations ?? [];
  if (floatActs.length) report.notices.push(`${floatActs.length} activation(s) stay float (${floatActs.slice(0, 2).map((f) => `${quote(f.tensor)}: ${f.reason}`).join('; ')}${floatActs.length > 2 ? '; ...' : ''}).`);
  if (st.plan.targets.length === 0) {
    throw new StudioError('BAD_RECIPE', `Nothing to quantize in ${quote(o.modelPath)}: no node of type ${recipe.opTypes.map((t) => quote(t)).join(', ')} is left after "exclude"${st.plan.skipped.length ? ` (skipped: ${st.plan.skipped.slice(0, 3).map((s) => `${s.node}: ${s.reason}`).join('; ')})` : ''}.`);
  }

  // A training stage (QAT) calibrates its own plan: calibrating here too would be a second, unused pass.
  const trains = recipeStages(recipe, 'training').length > 0;
  if (recipe.activations && !trains) {
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

  // ptq: stages that see the calibrated plan before the QDQ writer (bias correction).
  if (recipe.activations) await runPhase('after-calibration');

  // qat: trains and writes the output model itself.
  await runPhase('training');
  if (trains && recipe.activations && st.calibration) reportCalibration(report, recipe.activations, st.calibration);

  throwIfCancelled(ctx);
  progress(ctx, 'export', weightOnly ? 0.9 : 0.55, weightOnly ? 'checking and writing the model' : 'writing QDQ graph');
  let out: ModelProto;
  if (st.exported) out = st.exported;
  else {
    const ranges = new Map<string, { min: number; max: number }>();
    for (const [t, s] of st.stats ?? []) ranges.set(t, { min: s.rangeMin, max: s.rangeMax });
    const res = await timed('export', () => exporter.write({ model: st.model, original: st.original, baseDir: st.baseDir, recipe, plan: st.plan, ranges, inputs: o.inputs }));
    out = res.model;
    report.quantized.push(...res.quantized);
    st.dequantized = res.dequantized;
    report.notices.push(...res.notices);
    // llm: per-layer before/after errors of the stages (SmoothQuant) beside the nodes the writer quantized.
    for (const e of pendingErrors) {
      const q = report.quantized.find((x) => x.node === e.node);
      if (q) (q.algorithmErrors ??= []).push(e.error);
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
  // Saved with external data: from here on the output is its graph with every tensor read from the
  // written file, so the new weights held in memory since the export are let go before the evaluation
  // opens the FP32 model (on a 1 B-parameter model they were a third of its size again).
  let quantizedDir: string | undefined;
  if (!bytes) { out = (await timed('export', () => loadModel(o.outputPath))).model; quantizedDir = dirname(resolve(o.outputPath)); st.exported = out; }
  memoryLog('export');

  if (mixed) report.mixedPrecision = mixed.report;
  if (o.evaluate !== false && evaluation) {
    progress(ctx, 'evaluate', weightOnly ? 0.95 : 0.8, `comparing FP32 and quantized on ${evaluation.info.description}`);
    await timed('evaluate', () => evaluateRun(report, {
      original: loaded.model, quantized: out, quantizedDir, nodes: evaluatedNodes(st.plan), dequantized: st.dequantized, evaluation, batchSize: recipe.calibration.batchSize, device: recipe.device, ctx,
      // With a target, its own report says what was chosen and whether it holds: no second diagnosis.
      // A target's verdict is read off the written model as it runs (not the copy with compared outputs).
      plainOutputs: Boolean(mixed),
      diagnose: mixed ? undefined : { modelPath: o.modelPath, recipe, calibration: o.inputs, modelBytes: report.sizeBytes.original, unless: guard.skipDiagnosis },
    }));
    recordFinal(report);
  }
  timings.total = performance.now() - t0;
  progress(ctx, 'done', 1, 'done');
  return report;
}

/**
 * QSTUDIO_MEMORY_LOG=1: one stderr line per finished stage with the process's resident memory (now and
 * its peak) and V8's heap / off-heap buffers, to see which stage holds what on large models.
 */
function memoryLog(stage: string): void {
  if (!process.env.QSTUDIO_MEMORY_LOG) return;
  const m = process.memoryUsage();
  let peak = '';
  // VmHWM is in kB.
  try { peak = ` peak ${formatGiB(Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024)}`; } catch { /* not Linux */ }
  process.stderr.write(`memory after ${stage}: rss ${formatGiB(m.rss)}${peak}, heap ${formatGiB(m.heapUsed)}, array buffers ${formatGiB(m.arrayBuffers)}\n`);
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
