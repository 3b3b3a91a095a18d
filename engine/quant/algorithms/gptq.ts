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
import { hessianFromGram, layerErrors } from './layer-error';
import { rtnQuantize } from './weight-quant';
import type { WeightOnlyConfig, WeightOnlyLayerResult } from './weight-only';
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
  /** Receives every quantized weight in stored layout (also used for later passes). */
  overrides?: Map<string, Float32Array>;
  notices?: string[];
  ctx?: WorkContext;
}

export async function runGptq(o: GptqRunOptions): Promise<{ results: WeightOnlyLayerResult[]; timings: Record<string, number> }> {
  const { model, baseDir, config, params, ctx } = o;
  const kernel = await resolveGptqKernel(o.notices);
  const overrides = o.overrides ?? new Map<string, Float32Array>();
  const stages = stageLayers(model, o.layers);
  const capture = new StagedCapture(model, baseDir, { batches: o.batches, overrides, ctx });
  const results: WeightOnlyLayerResult[] = [];
  let quantMs = 0, errMs = 0, captureCpuUs = 0, quantCpuUs = 0;
  let done = 0;
  for (const [si, stage] of stages.entries()) {
    throwIfCancelled(ctx);
    const targets = [...new Set(stage.flatMap((l) => l.inputs))];
    const c0 = process.cpuUsage();
    const stats = await capture.capture(targets, { gram: true, absMax: false, absSum: false });
    const c1 = process.cpuUsage(c0);
    captureCpuUs += c1.user + c1.system;
    for (const layer of stage) {
      throwIfCancelled(ctx);
      const H = hessianFromGram(layer.inputs.map((i) => stats.get(i)!), layer.cols);
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
      results.push({ layer, qw, config, errors: [{ algorithm: 'gptq', weightErrorBefore: eR.weight, weightErrorAfter: eG.weight, outputErrorBefore: eR.output, outputErrorAfter: eG.output }] });
      done++;
    }
    ctx?.onProgress?.({ stage: 'gptq', fraction: (si + 1) / stages.length, message: `GPTQ stage ${si + 1}/${stages.length}: ${stage.map((l) => l.nodes[0]!.name).join(', ')}`, metrics: { layers: done } });
  }
  // CPU ms (all threads of this process) beside wall ms: on a shared, loaded machine wall time overstates the work.
  return { results, timings: { gptqCaptureMs: capture.ortMs, gptqCaptureCpuMs: captureCpuUs / 1e3, gptqKernelMs: quantMs, gptqKernelCpuMs: quantCpuUs / 1e3, gptqErrorMs: errMs } };
}
