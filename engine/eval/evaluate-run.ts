// The evaluation at the end of a quantization run: FP32 vs quantized on the evaluation data (never the
// calibration or training samples unless nothing else exists, which the description then says), the
// cumulative per-layer error of every quantized node, output agreement and the task metrics the data
// allows. The pipeline calls this once (engine/pipeline/quantize.ts).
import type { ModelProto } from '../onnx/proto';
import type { QuantizeReport } from '../../contract/report';
import type { Device } from '../runtime/session';
import type { WorkContext } from '../util/work-context';
import { compareModels } from './layer-error';
import { comparedTensorsFor, type EvaluatedNode } from './compared-tensors';
import type { EvaluationData } from './eval-data';
import type { NpyArray } from '../data/npy';
import type { Recipe } from '../../contract/recipe';
import { qualityWarnings } from '../analysis/warnings';
import { runMemoryBudget } from '../runtime/memory-budget';
import { formatGiB } from '../util/format-bytes';

export type { EvaluatedNode };
export { comparedTensorsFor };

/** Fill the report's evaluation, per-layer (cumulative) error, output agreement and task metrics. */
export async function evaluateRun(report: QuantizeReport, o: {
  original: ModelProto; quantized: ModelProto; nodes: EvaluatedNode[]; dequantized?: Map<string, string>;
  /** Folder the quantized model's external data is read from, when it was saved with external data. */
  quantizedDir?: string;
  evaluation: EvaluationData; batchSize: number; device?: Device; ctx?: WorkContext;
  /** Where a quality warning's quick sensitivity pass gets the model, recipe and calibration data. */
  diagnose?: {
    modelPath: string; recipe: Recipe; calibration: Record<string, NpyArray>; modelBytes?: number;
    /** Skip the diagnosis for these figures (the wreck guard searches the model again instead). */
    unless?: (outputSqnrDb: number) => boolean;
  };
  /**
   * Measure the output figures on the model as written, not on the copy with the compared tensors added
   * as graph outputs: an added output keeps onnxruntime from fusing across it (MatMulNBits + bias Add,
   * SkipLayerNormalization...), which moves the figures a little — on moby-gpt +0.0043 perplexity where
   * the written model gives +0.0039. A target run's verdict needs the real figure: one more pass.
   */
  plainOutputs?: boolean;
}): Promise<void> {
  const tensors = comparedTensorsFor(o.original, o.quantized, o.nodes, o.dequantized);
  const opts = { samples: o.evaluation.info.samples, offset: 0, batchSize: Math.max(1, Math.min(8, o.batchSize)), device: o.device, ctx: o.ctx, labels: o.evaluation.labels, quantizedDir: o.quantizedDir };
  const cmp = await compareModels(o.original, o.quantized, tensors, o.evaluation.inputs, opts);
  const outputs = o.plainOutputs && cmp.layers.length ? (await compareModels(o.original, o.quantized, [], o.evaluation.inputs, opts)).outputAgreement : cmp.outputAgreement;
  report.evaluation = o.evaluation.info;
  report.layers = cmp.layers;
  report.layerErrorKind = 'cumulative';
  const { top1Fp32, top1Quantized, perplexityFp32, perplexityQuantized, ...agreement } = outputs;
  report.outputAgreement = agreement;
  const metrics: Record<string, number> = {};
  if (top1Fp32 !== undefined && top1Quantized !== undefined) Object.assign(metrics, { top1Fp32, top1Quantized });
  if (perplexityFp32 !== undefined && perplexityQuantized !== undefined) Object.assign(metrics, { perplexityFp32, perplexityQuantized });
  if (Object.keys(metrics).length) report.metrics = { ...report.metrics, ...metrics };
  if (o.diagnose && !o.diagnose.unless?.(outputs.sqnrDb)) {
    // Likeliest culprits first, so a time-bounded pass still reaches them: layers by cumulative
    // error, interleaved with activation tensors in graph order (an input spanning 0...8e11 is one).
    const cumulative = new Map(cmp.layers.map((l) => [l.node ?? l.tensor, Number.isNaN(l.sqnrDb) ? -Infinity : l.sqnrDb]));
    const warnings = await qualityWarnings(outputs, {
      modelPath: o.diagnose.modelPath, recipe: o.diagnose.recipe, calibration: o.diagnose.calibration, evaluation: o.evaluation, ctx: diagnosisProgress(o.ctx), skipDiagnosis: diagnosisMemoryReason(o.diagnose.modelBytes),
      unitOrder: (units) => {
        const w = units.filter((u) => u.kind === 'weight').sort((a, b) => (cumulative.get(a.name) ?? Infinity) - (cumulative.get(b.name) ?? Infinity));
        const a = units.filter((u) => u.kind === 'activation');
        const out = [];
        for (let i = 0; i < Math.max(w.length, a.length); i++) { if (a[i]) out.push(a[i]!); if (w[i]) out.push(w[i]!); }
        return out;
      },
    });
    if (warnings.length) report.warnings = [...(report.warnings ?? []), ...warnings];
  }
}

/**
 * The quick diagnosis re-prepares an analysis of the whole model: every layer rounded at the recipe's
 * width and at int8, with float copies of both — about this many times the model's weights in memory.
 * It runs only while that stays within the run's memory budget (engine/runtime/memory-budget.ts); a
 * larger model gets its warning with `qstudio analyze` named instead of culprits.
 */
export const DIAGNOSIS_MEMORY_FACTOR = 3;

export function diagnosisMemoryReason(modelBytes: number | undefined): string | undefined {
  if (!modelBytes || DIAGNOSIS_MEMORY_FACTOR * modelBytes <= runMemoryBudget(modelBytes)) return undefined;
  return `the quick sensitivity pass was not run: on this ${formatGiB(modelBytes, 1)} model it would hold about ${formatGiB(DIAGNOSIS_MEMORY_FACTOR * modelBytes, 1)}, over the run's memory budget of ${formatGiB(runMemoryBudget(modelBytes), 1)}; "qstudio analyze" measures the layers one by one`;
}

/** The nodes a QDQ plan quantized, with the tensor each writes (after a Relu fold, the Relu's output). */
export function evaluatedNodes(plan: { targets: { node: { name: string; opType: string; output: string[] } }[] } | undefined): EvaluatedNode[] {
  return (plan?.targets ?? []).map((t) => ({ node: t.node.name, opType: t.node.opType, tensor: t.node.output[0]! }));
}

/**
 * The diagnosis runs after the evaluation as stage "diagnose" in 96-99 % of the run: its own
 * calibration and variant passes restart their fractions, and a run's progress must never go back.
 */
function diagnosisProgress(ctx: WorkContext | undefined): WorkContext | undefined {
  if (!ctx) return ctx;
  let done = 0;
  return {
    ...ctx,
    onProgress: (e) => {
      done = Math.max(done, Math.min(1, Math.max(0, e.fraction)));
      ctx.onProgress?.({ ...e, stage: 'diagnose', message: `finding the layers responsible: ${e.message ?? e.stage}`, fraction: 0.96 + 0.03 * done });
    },
  };
}
