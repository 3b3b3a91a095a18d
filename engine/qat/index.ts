// QAT as a pipeline stage (engine/pipeline/stages/ runs `{ name: 'qat' }` here): prepare from the
// BN-folded model, train on the --data arrays (labels from --labels, else distillation), export the QDQ
// model and return it with the plan, the calibration and what to report; the pipeline applies the
// result (this module reads no pipeline state, so it imports nothing of engine/pipeline). The pipeline
// does not calibrate for a QAT recipe: QAT calibrates its own plan (progress 5-15 %, after the
// pipeline's plan at 5 %). Checkpoints go beside the output (`OUT.onnx.qat-checkpoint`) unless the
// caller names a path; a finished run deletes its checkpoint.
import { unlink } from 'node:fs/promises';
import type { AlgorithmSpec, Recipe } from '../../contract/recipe';
import type { ModelProto } from '../onnx/proto';
import type { NpyArray } from '../data/npy';
import type { QdqPlan } from '../export/qdq-plan';
import type { CalibrationResult } from '../quant/calibration/run-calibration';
import type { QuantizedNodeInfo } from '../../contract/report';
import type { WorkContext } from '../util/work-context';
import { subProgress } from '../util/work-context';
import { prepareQat, trainQat, exportQatDetailed } from './qat';

export { buildTrainingGraph, trainableInitializers, SUPPORTED_TRAINING_OPS } from './backward';
export { prepareQat, trainQat, exportQat, exportQatDetailed, FakeQuantEvaluator, type QatSetup, type TrainOptions, type TrainResult } from './qat';

export type QatSpec = Extract<AlgorithmSpec, { name: 'qat' }>;

export interface QatStageInput {
  /** The BN-folded float model to train (not modified). */
  model: ModelProto;
  baseDir?: string;
  recipe: Recipe;
  inputs: Record<string, NpyArray>;
  labels?: NpyArray;
  ctx?: WorkContext;
}

export interface QatStageResult {
  exported: { model: ModelProto; plan: QdqPlan; dequantized: Map<string, string>; quantized: QuantizedNodeInfo[] };
  calibration?: CalibrationResult;
  deviceUsed: string;
  metrics: Record<string, number>;
  notices: string[];
}

export async function runQatStage(st: QatStageInput, spec: QatSpec, opts: { outputPath: string; checkpointPath?: string }): Promise<QatStageResult> {
  const ctx = st.ctx;
  const setup = await prepareQat(st.model, { baseDir: st.baseDir, recipe: st.recipe, calibration: st.inputs, device: st.recipe.device, ctx: subProgress(ctx, 'calibrate', 0.05, 0.15) });
  const notices = [...setup.notices];
  const checkpointPath = opts.checkpointPath ?? `${opts.outputPath}.qat-checkpoint`;
  const result = await trainQat(setup, { inputs: st.inputs, labels: st.labels }, {
    steps: spec.steps, lr: spec.lr, batchSize: spec.batchSize, learnScales: spec.learnScales,
    trainSamples: spec.trainSamples, evalEvery: spec.evalEvery, checkpointEvery: spec.checkpointEvery ?? 50, checkpointPath,
    device: st.recipe.device,
  }, subProgress(ctx, 'qat', 0.15, 0.5));
  const out = exportQatDetailed(setup);
  const last = result.history.slice(-Math.min(10, result.history.length));
  const metrics: Record<string, number> = {
    qatSteps: result.steps,
    qatResumedFrom: result.resumedFrom,
    qatFirstLoss: result.history[0]?.loss ?? NaN,
    qatFinalLoss: last.reduce((a, h) => a + h.loss, 0) / Math.max(1, last.length),
    qatTrainMs: result.timeMs,
  };
  notices.push(`QAT: ${result.steps} steps of batch ${spec.batchSize} (${result.loss === 'cross-entropy' ? 'cross-entropy on the labels' : 'distillation from the FP32 model, no labels given'})${result.resumedFrom ? `, resumed from the checkpoint at step ${result.resumedFrom}` : ''}.`);
  await unlink(checkpointPath).catch(() => undefined);
  return {
    exported: { model: out.model, plan: setup.plan, dequantized: out.dequantized, quantized: out.quantized },
    ...(setup.calibration ? { calibration: setup.calibration } : {}),
    deviceUsed: result.provider, metrics, notices,
  };
}
