// Per-layer error: run the FP32 and the quantized model on the same batches with the compared tensors
// exposed as outputs, and accumulate SQNR / cosine / MSE per tensor, plus whole-model output scores
// (engine/eval/output-scores.ts). The per-layer figures are cumulative: each tensor carries the error
// of its own quantization and of everything quantized before it (engine/analysis/sensitivity.ts gives
// the isolated figure).
import type { ModelProto } from '../onnx/proto';
import { serializeModel } from '../onnx/model-io';
import type { NpyArray } from '../data/npy';
import type { LayerError } from '../pipeline/report';
import { addGraphOutputs } from '../quant/calibration/augment';
import { inlineTakenBranches } from '../quant/calibration/inline-branches';
import { createSession, type Device } from '../runtime/session';
import { runRanges, feedsFor, sampleCount, wholeRuns, floatValues } from '../runtime/batching';
import { throwIfCancelled, type WorkContext } from '../jobs/progress';
import { AgreementAccumulator } from './agreement';
import { OutputScorer, lmWindows, type OutputScores } from './output-scores';

export interface ComparedTensor {
  /** Name in the FP32 model. */
  tensor: string;
  /** Name of the same value in the quantized model (its dequantized form when it is quantized). */
  quantizedTensor: string;
  node?: string;
  opType?: string;
}

export interface ModelComparison {
  layers: LayerError[];
  outputAgreement: OutputScores;
  samples: number;
}

/**
 * `samples` (default 64) from `offset` (default: the middle of the data, where calibration data
 * often has its most typical samples; pass 0 for evaluation data). `labels` [N] / token windows in
 * `inputs` add top-1 accuracy / perplexity of both models on the same samples.
 */
export async function compareModels(fp32: ModelProto, quant: ModelProto, tensors: ComparedTensor[], inputs: Record<string, NpyArray>, o: { samples?: number; offset?: number; batchSize?: number; device?: Device; ctx?: WorkContext; labels?: NpyArray } = {}): Promise<ModelComparison> {
  const outName = fp32.graph!.output[0]!.name;
  // Values inside If branches: compare through the branch the data takes (both models inlined alike).
  const fa = await inlineTakenBranches(fp32, tensors.map((t) => t.tensor), inputs, o.device);
  const fb = await inlineTakenBranches(quant, tensors.map((t) => t.quantizedTensor), inputs, o.device);
  const visible = (m: ModelProto) => new Set([...m.graph!.node.flatMap((n) => n.output), ...m.graph!.input.map((i) => i.name)]);
  const va = visible(fa.model), vb = visible(fb.model);
  tensors = tensors.filter((t) => va.has(t.tensor) && vb.has(t.quantizedTensor));
  const a = await createSession(serializeModel(addGraphOutputs(fa.model, tensors.map((t) => t.tensor))), { device: o.device, source: 'FP32 model' });
  const b = await createSession(serializeModel(addGraphOutputs(fb.model, tensors.map((t) => t.quantizedTensor))), { device: o.device, source: 'quantized model' });
  const acc = tensors.map(() => new AgreementAccumulator());
  const available = sampleCount(inputs);
  const total = wholeRuns(inputs, Math.min(o.samples ?? 64, available));
  const offset = Math.min(Math.max(0, o.offset ?? Math.floor((available - total) / 2)), available - total);
  const ids = lmWindows(inputs);
  const shift = (x: NpyArray | undefined) => x && offset ? { ...x, shape: [x.shape[0]! - offset, ...x.shape.slice(1)], data: x.data.subarray(offset * x.shape.slice(1).reduce((p, q) => p * q, 1)) as NpyArray['data'] } : x;
  const scorer = new OutputScorer({ labels: shift(o.labels), ids: shift(ids) });
  try {
    for (const [s, e] of runRanges(inputs, total, o.batchSize ?? 16)) {
      throwIfCancelled(o.ctx);
      const feeds = feedsFor(inputs, offset + s, offset + e);
      const ra = await a.run(feeds, [outName, ...tensors.map((t) => t.tensor)]);
      const rb = await b.run(feeds, [outName, ...tensors.map((t) => t.quantizedTensor)]);
      tensors.forEach((t, i) => {
        const x = ra[t.tensor], y = rb[t.quantizedTensor];
        const xv = x && floatValues(x), yv = y && floatValues(y);
        if (xv && yv) acc[i]!.add(xv, yv);
      });
      scorer.add(ra[outName]!, rb[outName]!, s, e);
    }
  } finally {
    await a.release();
    await b.release();
  }
  const layers: LayerError[] = tensors.map((t, i) => ({ tensor: t.tensor, ...(t.node ? { node: t.node } : {}), ...(t.opType ? { opType: t.opType } : {}), ...acc[i]!.result() }));
  return { layers, outputAgreement: scorer.result(), samples: total };
}
