// QAT's entry for the quantize pipeline (engine/pipeline/quantize.ts dispatches `{ name: 'qat' }`
// here): prepare from the BN-folded model, train on the --data arrays (labels from --labels, else
// distillation), export the QDQ model into the pipeline state. The pipeline does not calibrate for a
// QAT recipe: QAT calibrates its own plan (progress 5-15 %, after the pipeline's plan at 5 %) and hands
// that calibration back in `st.calibration` for the report. Checkpoints go beside the output
// (`OUT.onnx.qat-checkpoint`) unless the caller names a path; a finished run deletes its checkpoint.
import { unlink } from 'node:fs/promises';
import type { AlgorithmSpec } from '../pipeline/recipe';
import type { PipelineState } from '../pipeline/quantize';
import { subProgress } from '../jobs/progress';
import { prepareQat, trainQat, exportQatDetailed } from './qat';

export { buildTrainingGraph, trainableInitializers, SUPPORTED_TRAINING_OPS } from './backward';
export { prepareQat, trainQat, exportQat, exportQatDetailed, FakeQuantEvaluator, type QatSetup, type TrainOptions, type TrainResult } from './qat';

export type QatSpec = Extract<AlgorithmSpec, { name: 'qat' }>;

export async function runQatStage(st: PipelineState, spec: QatSpec, opts: { outputPath: string; checkpointPath?: string }): Promise<void> {
  const ctx = st.ctx;
  const setup = await prepareQat(st.model, { baseDir: st.baseDir, recipe: st.recipe, calibration: st.inputs, device: st.recipe.device, ctx: subProgress(ctx, 'calibrate', 0.05, 0.15) });
  st.report.notices.push(...setup.notices);
  if (setup.calibration) st.calibration = setup.calibration;
  const checkpointPath = opts.checkpointPath ?? `${opts.outputPath}.qat-checkpoint`;
  const result = await trainQat(setup, { inputs: st.inputs, labels: st.labels }, {
    steps: spec.steps, lr: spec.lr, batchSize: spec.batchSize, learnScales: spec.learnScales,
    trainSamples: spec.trainSamples, evalEvery: spec.evalEvery, checkpointEvery: spec.checkpointEvery ?? 50, checkpointPath,
    device: st.recipe.device,
  }, subProgress(ctx, 'qat', 0.15, 0.5));
  const out = exportQatDetailed(setup);
  st.exported = out.model;
  st.plan = setup.plan;
  st.dequantized = out.dequantized;
  st.report.quantized.push(...out.quantized);
  st.report.device.used = result.provider;
  const last = result.history.slice(-Math.min(10, result.history.length));
  st.report.metrics = {
    ...st.report.metrics,
    qatSteps: result.steps,
    qatResumedFrom: result.resumedFrom,
    qatFirstLoss: result.history[0]?.loss ?? NaN,
    qatFinalLoss: last.reduce((a, h) => a + h.loss, 0) / Math.max(1, last.length),
    qatTrainMs: result.timeMs,
  };
  st.report.notices.push(`QAT: ${result.steps} steps of batch ${spec.batchSize} (${result.loss === 'cross-entropy' ? 'cross-entropy on the labels' : 'distillation from the FP32 model, no labels given'})${result.resumedFrom ? `, resumed from the checkpoint at step ${result.resumedFrom}` : ''}.`);
  await unlink(checkpointPath).catch(() => undefined);
}
