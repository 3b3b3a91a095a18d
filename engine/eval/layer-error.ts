// Per-layer error: run the FP32 and the quantized model on the same batches with the compared tensors
// exposed as outputs, and accumulate SQNR / cosine / MSE per tensor, plus whole-model output agreement.
import type { ModelProto } from '../onnx/proto';
import { serializeModel } from '../onnx/model-io';
import type { NpyArray } from '../data/npy';
import type { LayerError } from '../pipeline/report';
import { addGraphOutputs } from '../quant/calibration/augment';
import { inlineTakenBranches } from '../quant/calibration/inline-branches';
import { createSession, type Device } from '../runtime/session';
import { runRanges, feedsFor, sampleCount, wholeRuns } from '../runtime/batching';
import { throwIfCancelled, type WorkContext } from '../jobs/progress';
import { AgreementAccumulator, argmaxRows } from './agreement';

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
  outputAgreement: { sqnrDb: number; cosine: number; top1Agreement?: number };
  samples: number;
}

export async function compareModels(fp32: ModelProto, quant: ModelProto, tensors: ComparedTensor[], inputs: Record<string, NpyArray>, o: { samples?: number; offset?: number; batchSize?: number; device?: Device; ctx?: WorkContext } = {}): Promise<ModelComparison> {
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
  const outAcc = new AgreementAccumulator();
  let agree = 0, rows = 0, classes = 0;
  const available = sampleCount(inputs);
  const total = wholeRuns(inputs, Math.min(o.samples ?? 64, available));
  // The middle of the data by default: recordings and documents often start with silence or margins.
  const offset = Math.min(Math.max(0, o.offset ?? Math.floor((available - total) / 2)), available - total);
  try {
    for (const [s, e] of runRanges(inputs, total, o.batchSize ?? 16)) {
      throwIfCancelled(o.ctx);
      const feeds = feedsFor(inputs, offset + s, offset + e);
      const ra = await a.run(feeds, [outName, ...tensors.map((t) => t.tensor)]);
      const rb = await b.run(feeds, [outName, ...tensors.map((t) => t.quantizedTensor)]);
      tensors.forEach((t, i) => {
        const x = ra[t.tensor], y = rb[t.quantizedTensor];
        if (x?.type === 'float32' && y?.type === 'float32') acc[i]!.add(x.data as Float32Array, y.data as Float32Array);
      });
      const ox = ra[outName]!, oy = rb[outName]!;
      if (ox.type === 'float32' && oy.type === 'float32') {
        outAcc.add(ox.data as Float32Array, oy.data as Float32Array);
        classes = Number(ox.dims[ox.dims.length - 1]);
        const px = argmaxRows(ox.data as Float32Array, classes), py = argmaxRows(oy.data as Float32Array, classes);
        for (let i = 0; i < px.length; i++) if (px[i] === py[i]) agree++;
        rows += px.length;
      }
    }
  } finally {
    await a.release();
    await b.release();
  }
  const layers: LayerError[] = tensors.map((t, i) => ({ tensor: t.tensor, ...(t.node ? { node: t.node } : {}), ...(t.opType ? { opType: t.opType } : {}), ...acc[i]!.result() }));
  const r = outAcc.result();
  return { layers, outputAgreement: { sqnrDb: r.sqnrDb, cosine: r.cosine, ...(rows && classes > 1 ? { top1Agreement: agree / rows } : {}) }, samples: total };
}
