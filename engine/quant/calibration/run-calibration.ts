// Calibration: run the model on the calibration samples in batches with the wanted intermediate
// tensors exposed as outputs, and feed each batch to a streaming collector per tensor. Batches are
// sized so the exposed outputs of one run stay under a memory budget; nothing is kept between
// batches except each collector's fixed-size state.
import type { ModelProto } from '../../onnx/proto';
import { serializeModel } from '../../onnx/model-io';
import type { NpyArray } from '../../data/npy';
import { createSession, type Device } from '../../runtime/session';
import { feedsFor, sampleCount, runSize, wholeRuns, floatValues } from '../../runtime/batching';
import { throwIfCancelled, type WorkContext } from '../../util/work-context';
import { addGraphOutputs } from './augment';
import { inlineTakenBranches } from './inline-branches';
import { MinMaxHistogramCollector, type RangeCollector, type TensorHistogram } from './collectors';
import { StudioError, quote } from '../../errors';
import { loadNativeKernels } from '../../runtime/native';

export interface TensorStats {
  min: number;
  max: number;
  /** Range chosen by the calibration method (equals min/max for MinMax). */
  rangeMin: number;
  rangeMax: number;
  histogram: TensorHistogram;
  count: number;
}

export interface CalibrationOptions {
  samples: number;
  batchSize: number;
  device?: Device;
  /** Bytes the exposed outputs of one run may take (default 384 MiB). */
  memoryBudget?: number;
  makeCollector?: (tensor: string) => RangeCollector;
  /** Turns a finished collector into the chosen range (MinMax when absent). */
  chooseRange?: (tensor: string, c: RangeCollector) => { min: number; max: number };
  ctx?: WorkContext;
}

export interface CalibrationResult {
  stats: Map<string, TensorStats>;
  provider: 'cuda' | 'cpu';
  notice?: string;
  samplesUsed: number;
  batchSize: number;
}

export async function runCalibration(model: ModelProto, tensors: readonly string[], inputs: Record<string, NpyArray>, o: CalibrationOptions): Promise<CalibrationResult> {
  const total = wholeRuns(inputs, Math.min(o.samples, sampleCount(inputs)));
  if (total === 0) throw new StudioError('BAD_DATA', 'Calibration needs at least one sample: the --data arrays are empty.');
  // Tensors inside If branches: calibrate through the branch the data takes; the others are left out.
  const flat = await inlineTakenBranches(model, tensors, inputs, o.device);
  const visible = new Set(flat.model.graph!.node.flatMap((n) => n.output));
  for (const i of flat.model.graph!.input) visible.add(i.name);
  tensors = tensors.filter((t) => visible.has(t));
  const augmented = addGraphOutputs(flat.model, tensors);
  const s = await createSession(serializeModel(augmented), { device: o.device, source: 'calibration model' });
  // The calibrators' histograms bin through the native addon when it loads (their TypeScript twin otherwise).
  await loadNativeKernels();
  const collectors = new Map<string, RangeCollector>();
  for (const t of tensors) collectors.set(t, o.makeCollector?.(t) ?? new MinMaxHistogramCollector());
  const budget = o.memoryBudget ?? 384 * 2 ** 20;
  // A model with a fixed batch takes exactly that many samples per run, whatever the budget says.
  let batch = runSize(inputs, Math.min(1, total));
  let done = 0;
  try {
    while (done < total) {
      throwIfCancelled(o.ctx);
      const end = Math.min(total, done + batch);
      const out = await s.run(feedsFor(inputs, done, end), tensors);
      let bytes = 0;
      for (const t of tensors) {
        const v = out[t];
        if (!v) throw new StudioError('INTERNAL', `Calibration run returned no value for tensor ${quote(t)}.`);
        const values = floatValues(v);
        if (!values) continue;
        bytes += values.byteLength;
        collectors.get(t)!.update(values);
      }
      for (const v of Object.values(out)) v.dispose?.();
      const n = end - done;
      done = end;
      // After the first (one-sample) run we know the output bytes per sample: size batches to the budget.
      batch = runSize(inputs, Math.max(1, Math.min(o.batchSize, Math.floor(budget / Math.max(1, bytes / n)))));
      o.ctx?.onProgress?.({ stage: 'calibrate', fraction: done / total, message: `calibration ${done}/${total} samples` });
    }
  } finally {
    await s.release();
  }
  const stats = new Map<string, TensorStats>();
  for (const [t, c] of collectors) {
    if (c.count() === 0) continue;
    const { min, max } = c.range();
    const chosen = o.chooseRange ? o.chooseRange(t, c) : { min, max };
    stats.set(t, { min, max, rangeMin: chosen.min, rangeMax: chosen.max, histogram: c.histogram(), count: c.count() });
  }
  return { stats, provider: s.provider, notice: s.notice, samplesUsed: total, batchSize: batch };
}
