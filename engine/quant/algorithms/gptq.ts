// GPTQ over a whole model: stage by stage in model order (q/k/v, then the attention output, fc1, fc2, …).
// Each stage's Hessians come from the activations of the model whose earlier stages are already
// quantized (StagedCapture runs only the new part of the graph per pass); layers reading the same
// activation share one Hessian. The per-matrix work is gptqQuantize — the native addon's when it is
// built, else the TypeScript reference.
import type { ModelProto } from '../../onnx/proto';
import type { ort } from '../../runtime/session';
import { throwIfCancelled, type WorkContext } from '../../util/work-context';
import { gptqQuantize as gptqReference, type GptqOptions, type GptqResult } from './gptq-core';
import { layerWeightNK, stageLayers, weightToStored, type LinearLayer } from './linear-layers';
import { StagedCapture } from './staged-capture';
import { hessianFromGram, holdQuadraticForms, layerErrors } from './layer-error';
import { rtnQuantize } from './weight-quant';
import { withoutDequantizedCopy, type WeightOnlyConfig, type WeightOnlyLayerResult } from './weight-only';
import type { DataWarning } from '../../../contract/report';
import { quote } from '../../errors';
import { loadNativeKernels } from '../../runtime/native';

export interface GptqParams {
  damp: number;
  actOrder: boolean;
  blockSize: number;
}

type GptqFn = (o: GptqOptions) => GptqResult;

/** The native kernel when native-kernels/lib is built and says it is available; else the reference. */
export async function resolveGptqKernel(notices?: string[]): Promise<{ fn: GptqFn; native: boolean }> {
  const lib = await loadNativeKernels();
  if (lib && typeof lib.gptqQuantize === 'function') {
    notices?.push('GPTQ ran on the native addon kernel.');
    return { fn: lib.gptqQuantize, native: true };
  }
  notices?.push('GPTQ ran on the TypeScript reference kernel (the native addon is not built or has no gptqQuantize).');
  return { fn: gptqReference, native: false };
}

export interface GptqRunOptions {
  model: ModelProto;
  baseDir?: string;
  layers: LinearLayer[];
  config: WeightOnlyConfig;
  params: GptqParams;
  batches: Record<string, ort.Tensor>[];
  /** Float weights (N × K) to start from, e.g. after AWQ scaling; default: the model's. */
  startWeights?: Map<LinearLayer, Float32Array>;
  /** The quantized float weights (stored layout) later capture passes run with: each is set when its
   *  stage is rounded and deleted once the pass that runs its nodes is done, so at most about two
   *  stages' float copies are ever held (a 1 B-parameter model: one MLP, not the model again). */
  overrides?: Map<string, Float32Array>;
  notices?: string[];
  ctx?: WorkContext;
}

/** A layer GPTQ saw fewer calibration tokens (rows of X) for than it has inputs (its width K). */
export interface UnderdeterminedLayer { node: string; weight: string; width: number; tokens: number }

/** The warning (CLI, report, studio) for layers whose Hessian the calibration data leaves rank-deficient. */
export function calibrationTokenWarning(layers: UnderdeterminedLayer[]): DataWarning | undefined {
  if (layers.length === 0) return undefined;
  const width = Math.max(...layers.map((l) => l.width)), tokens = Math.min(...layers.map((l) => l.tokens));
  const names = layers.slice(0, 3).map((l) => `${quote(l.node)} (${l.width} inputs, ${l.tokens} tokens)`).join(', ');
  return {
    metric: 'calibration-tokens', value: tokens, threshold: width, culprits: [], layers,
    message: `GPTQ had fewer calibration tokens than inputs for ${layers.length} layer(s): ${names}${layers.length > 3 ? ', …' : ''}. Their Hessian is rank-deficient, so GPTQ lowers the error on the calibration tokens and can raise it on new data (the per-layer "after" errors are measured on those same tokens). Give at least ${width} tokens (more windows in --data; several times that is better) or use RTN/AWQ for these layers.`,
  };
}

export async function runGptq(o: GptqRunOptions): Promise<{ results: WeightOnlyLayerResult[]; underdetermined: UnderdeterminedLayer[]; timings: Record<string, number> }> {
  const forms = holdQuadraticForms();
  try { return await gptqStages(o); } finally { await forms.release(); }
}

async function gptqStages(o: GptqRunOptions): Promise<{ results: WeightOnlyLayerResult[]; underdetermined: UnderdeterminedLayer[]; timings: Record<string, number> }> {
  const { model, baseDir, config, params, ctx } = o;
  const kernel = await resolveGptqKernel(o.notices);
  const overrides = o.overrides ?? new Map<string, Float32Array>();
  const stages = stageLayers(model, o.layers);
  const capture = new StagedCapture(model, baseDir, { batches: o.batches, overrides, ctx });
  const results: WeightOnlyLayerResult[] = [];
  const underdetermined: UnderdeterminedLayer[] = [];
  let quantMs = 0, errMs = 0, captureCpuUs = 0, quantCpuUs = 0;
  let done = 0;
  for (const [si, stage] of stages.entries()) {
    throwIfCancelled(ctx);
    const targets = [...new Set(stage.flatMap((l) => l.inputs))];
    const c0 = process.cpuUsage();
    const stats = await capture.capture(targets, { gram: true, absMax: false, absSum: false });
    for (const name of [...overrides.keys()]) if (capture.spent(name)) overrides.delete(name);
    // One float32 Hessian per input set, shared by the layers reading it (q/k/v, gate/up), and the
    // float64 Grams let go before the kernel runs: K×K matrices are the largest temporaries here (the
    // MLP's down projection on a 1 B model: 254 MB per float64 copy, and the kernel makes two).
    const hessians = new Map<string, { H: Float32Array; tokens: number }>();
    for (const layer of stage) {
      const key = layer.inputs.join('\n');
      if (hessians.has(key)) continue;
      const grams = layer.inputs.map((i) => stats.get(i)!);
      hessians.set(key, { H: hessianFromGram(grams, layer.cols), tokens: grams.reduce((n, g) => n + g.count, 0) });
    }
    stats.clear();
    const c1 = process.cpuUsage(c0);
    captureCpuUs += c1.user + c1.system;
    for (const layer of stage) {
      throwIfCancelled(ctx);
      const { H, tokens } = hessians.get(layer.inputs.join('\n'))!;
      // H = XᵀX over the calibration rows has rank ≤ the row count: fewer tokens than inputs leave
      // directions GPTQ knows nothing about, and it trades error there for error on the rows it saw.
      if (tokens < layer.cols) underdetermined.push({ node: layer.nodes[0]!.name, weight: layer.weight, width: layer.cols, tokens });
      const w = o.startWeights?.get(layer) ?? layerWeightNK(model, baseDir, layer);
      const t0 = performance.now();
      const q0 = process.cpuUsage();
      const qw = kernel.fn({ weight: w, rows: layer.rows, cols: layer.cols, hessian: H, bits: config.bits, groupSize: config.groupSize, symmetric: config.symmetric, damp: params.damp, blockSize: params.blockSize, actOrder: params.actOrder });
      const t1 = performance.now();
      const q1 = process.cpuUsage(q0);
      quantCpuUs += q1.user + q1.system;
      quantMs += t1 - t0;
      overrides.set(layer.weight, weightToStored(layer, qw.dequantized));
      // Report: RTN on the same weights and activations is the "before".
      const rtn = rtnQuantize(w, layer.rows, layer.cols, config, config.groupSize);
      const eR = await layerErrors(w, rtn.dequantized, layer.rows, layer.cols, H);
      const eG = await layerErrors(w, qw.dequantized, layer.rows, layer.cols, H, eR.outputNorm);
      errMs += performance.now() - t1;
      // The result keeps the codes, scales and zero points; its float copy is rebuilt when read (the
      // exporters never read it): 4 bytes per weight less for every layer until the export.
      results.push({ layer, qw: withoutDequantizedCopy(qw, layer.rows, layer.cols, config.groupSize), config, errors: [{ algorithm: 'gptq', weightErrorBefore: eR.weight, weightErrorAfter: eG.weight, outputErrorBefore: eR.output, outputErrorAfter: eG.output }] });
      done++;
    }
    ctx?.onProgress?.({ stage: 'gptq', fraction: (si + 1) / stages.length, message: `GPTQ stage ${si + 1}/${stages.length}: ${stage.map((l) => l.nodes[0]!.name).join(', ')}`, metrics: { layers: done } });
  }
  // CPU ms (all threads of this process) beside wall ms: on a shared, loaded machine wall time overstates the work.
  return { results, underdetermined, timings: { gptqCaptureMs: capture.ortMs, gptqCaptureCpuMs: captureCpuUs / 1e3, gptqKernelMs: quantMs, gptqKernelCpuMs: quantCpuUs / 1e3, gptqErrorMs: errMs } };
}
