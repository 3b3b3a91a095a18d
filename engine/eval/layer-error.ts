// Per-layer error: run the FP32 and the quantized model on the same batches with the compared tensors
// exposed as outputs, and accumulate SQNR / cosine / MSE per tensor, plus whole-model output scores
// (engine/eval/output-scores.ts). The per-layer figures are cumulative: each tensor carries the error
// of its own quantization and of everything quantized before it (engine/analysis/sensitivity.ts gives
// the isolated figure).
import type { ModelProto } from '../onnx/proto';
import { serializeModel } from '../onnx/model-io';
import type { NpyArray } from '../data/npy';
import type { LayerError } from '../../contract/report';
import { addGraphOutputs } from '../quant/calibration/augment';
import { inlineTakenBranches } from '../quant/calibration/inline-branches';
import { createSession, withModelFolder, type Device } from '../runtime/session';
import { feedsFor, sampleCount, wholeRuns, runSize, floatValues } from '../runtime/batching';
import { openSync, writeSync, readSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { StudioError, quote } from '../errors';
import { throwIfCancelled, type WorkContext } from '../util/work-context';
import { AgreementAccumulator } from './agreement';
import { OutputScorer, lmWindows, scoreValues, type OutputScores } from './output-scores';

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

/** Compared values one run of the FP32 pass may hold (they are written to a scratch file at once). */
export const EVAL_RUN_BYTES = 256 * 2 ** 20;

/**
 * `samples` (default 64) from `offset` (default: the middle of the data, where calibration data
 * often has its most typical samples; pass 0 for evaluation data). `labels` [N] / token windows in
 * `inputs` add top-1 accuracy / perplexity of both models on the same samples.
 *
 * The two models run one after the other, never side by side: the FP32 pass writes the compared
 * values of each run to a scratch file and lets its session go, then the quantized pass reads them back
 * run by run. Runs hold at most `runBytes` of compared values (measured on the first run of one
 * sample): on a 1 B-parameter LLM both sessions at once plus eight samples' layer outputs of both were
 * five times the model's size. `quantizedDir`: the folder the quantized model's external data is in,
 * when it is not the FP32 model's.
 */
export async function compareModels(fp32: ModelProto, quant: ModelProto, tensors: ComparedTensor[], inputs: Record<string, NpyArray>, o: { samples?: number; offset?: number; batchSize?: number; device?: Device; ctx?: WorkContext; labels?: NpyArray; quantizedDir?: string; runBytes?: number } = {}): Promise<ModelComparison> {
  const outName = fp32.graph!.output[0]!.name;
  // Every output is scored (the worst counts: a detector's heads are separate outputs), except a language
  // model's further outputs (its figure is the logits; the rest is KV cache).
  const otherNames = lmWindows(inputs) ? [] : fp32.graph!.output.slice(1).map((o) => o.name).filter((n) => quant.graph!.output.some((o) => o.name === n));
  // Values inside If branches: compare through the branch the data takes (both models inlined alike).
  const fa = await inlineTakenBranches(fp32, tensors.map((t) => t.tensor), inputs, o.device);
  const inlineQuant = () => inlineTakenBranches(quant, tensors.map((t) => t.quantizedTensor), inputs, o.device);
  const fb = await (o.quantizedDir ? withModelFolder(o.quantizedDir, inlineQuant) : inlineQuant());
  const visible = (m: ModelProto) => new Set([...m.graph!.node.flatMap((n) => n.output), ...m.graph!.input.map((i) => i.name)]);
  const va = visible(fa.model), vb = visible(fb.model);
  tensors = tensors.filter((t) => va.has(t.tensor) && vb.has(t.quantizedTensor));
  const acc = tensors.map(() => new AgreementAccumulator());
  const available = sampleCount(inputs);
  const total = wholeRuns(inputs, Math.min(o.samples ?? 64, available));
  const offset = Math.min(Math.max(0, o.offset ?? Math.floor((available - total) / 2)), available - total);
  const ids = lmWindows(inputs);
  const shift = (x: NpyArray | undefined) => x && offset ? { ...x, shape: [x.shape[0]! - offset, ...x.shape.slice(1)], data: x.data.subarray(offset * x.shape.slice(1).reduce((p, q) => p * q, 1)) as NpyArray['data'] } : x;
  const scorer = new OutputScorer({ labels: shift(o.labels), ids: shift(ids) });
  const wanted = Math.max(1, o.batchSize ?? 16), budget = o.runBytes ?? EVAL_RUN_BYTES;
  const scratch = new ScratchFile();
  // Each run: where its values sit in the scratch file (per compared tensor, then the output).
  const runs: { s: number; e: number; values: (SpilledValue | undefined)[]; output: SpilledValue; others: (SpilledValue | undefined)[] }[] = [];
  try {
    const a = await createSession(serializeModel(addGraphOutputs(fa.model, tensors.map((t) => t.tensor))), { device: o.device, source: 'FP32 model' });
    try {
      for (let s = 0, size = runSize(inputs, 1); s < total;) {
        throwIfCancelled(o.ctx);
        const e = Math.min(total, s + size);
        const ra = await a.run(feedsFor(inputs, offset + s, offset + e), [...new Set([outName, ...otherNames, ...tensors.map((t) => t.tensor)])]);
        let bytes = 0;
        const values = tensors.map((t) => { const v = ra[t.tensor]; const f = v && floatValues(v); bytes += f?.byteLength ?? 0; return f ? scratch.write(f, v.dims, 'float32') : undefined; });
        const out = ra[outName]!;
        const others = otherNames.map((n) => { const v = ra[n]!, f = scoreValues(v); return f ? scratch.write(f, v.dims, v.type) : undefined; });
        runs.push({ s, e, values, output: scratch.write(scoreValues(out) ?? new Float32Array(0), out.dims, out.type), others });
        // After the first run: as many samples per run as the budget allows, at most the batch size.
        if (runs.length === 1) size = runSize(inputs, Math.min(wanted, Math.max(1, Math.floor(budget / Math.max(1, bytes / (e - s))))));
        s = e;
      }
    } finally {
      await a.release();
    }
    const b = await createSession(serializeModel(addGraphOutputs(fb.model, tensors.map((t) => t.quantizedTensor))), { device: o.device, source: 'quantized model', baseDir: o.quantizedDir });
    try {
      for (const r of runs) {
        throwIfCancelled(o.ctx);
        const rb = await b.run(feedsFor(inputs, offset + r.s, offset + r.e), [...new Set([outName, ...otherNames, ...tensors.map((t) => t.quantizedTensor)])]);
        tensors.forEach((t, i) => {
          const y = rb[t.quantizedTensor];
          const yv = y && floatValues(y), at = r.values[i];
          if (at && yv) acc[i]!.add(scratch.read(at), yv);
        });
        scorer.add({ data: scratch.read(r.output), dims: r.output.dims, type: r.output.type }, rb[outName]!, r.s, r.e);
        otherNames.forEach((n, i) => { const at = r.others[i]; if (at && rb[n]) scorer.addOutput(n, { data: scratch.read(at), dims: at.dims, type: at.type }, rb[n]!); });
      }
    } finally {
      await b.release();
    }
  } finally {
    scratch.close();
  }
  const layers: LayerError[] = tensors.map((t, i) => ({ tensor: t.tensor, ...(t.node ? { node: t.node } : {}), ...(t.opType ? { opType: t.opType } : {}), ...acc[i]!.result() }));
  return { layers, outputAgreement: scorer.result(), samples: total };
}

interface SpilledValue { offset: number; length: number; dims: readonly number[]; type: string }

/** An unlinked-on-close scratch file in the OS temp folder holding float32 values written once, read once. */
class ScratchFile {
  private readonly path = join(tmpdir(), `qstudio-eval-${process.pid}-${randomBytes(4).toString('hex')}.f32`);
  private readonly fd = openSync(this.path, 'w+');
  private end = 0;
  write(v: Float32Array, dims: readonly number[], type: string): SpilledValue {
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    for (let done = 0; done < bytes.length;) done += writeSync(this.fd, bytes, done, bytes.length - done, this.end + done);
    const at = { offset: this.end, length: v.length, dims: [...dims], type };
    this.end += bytes.length;
    return at;
  }
  read(at: SpilledValue): Float32Array {
    const out = new Float32Array(at.length);
    const bytes = new Uint8Array(out.buffer);
    for (let done = 0; done < bytes.length;) {
      const n = readSync(this.fd, bytes, done, bytes.length - done, at.offset + done);
      if (n === 0) throw new StudioError('IO_ERROR', `Evaluation scratch file ${quote(this.path)} ends early (${done} of ${bytes.length} bytes at offset ${at.offset}).`);
      done += n;
    }
    return out;
  }
  close(): void {
    try { closeSync(this.fd); } finally { rmSync(this.path, { force: true }); }
  }
}
