// The weight-only entry the orchestrator calls for recipes with `"activations": null` and rtn / gptq / awq:
// quantize every selected MatMul/Gemm weight, then write MatMulNBits or opset-21 int4 QDQ.
// AWQ followed by GPTQ is supported: AWQ scales the channels, GPTQ rounds the scaled weights.
import type { ModelProto } from '../../onnx/proto';
import { clone, ModelProtoSchema } from '../../onnx/proto';
import type { NpyArray } from '../../data/npy';
import type { Recipe, AlgorithmSpec } from '../../pipeline/recipe';
import type { QuantizedNodeInfo } from '../../pipeline/report';
import { StudioError } from '../../errors';
import { subProgress, type WorkContext } from '../../jobs/progress';
import { exportWeightOnly, type WeightOnlyExportOptions } from '../../export/matmulnbits';
import { checkInt8Branch } from '../../export/int8-prefill-check';
import { addInt8PrefillPath, int8PrefillNotice } from '../../export/int8-prefill';
import { findLinearLayers, layerWeightNK, type LinearLayer } from './linear-layers';
import { runAwq } from './awq';
import { runGptq } from './gptq';
import { calibrationBatches, rtnLayers, weightOnlyConfig, type WeightOnlyLayerResult } from './weight-only';

export interface WeightOnlyRunOptions {
  model: ModelProto;
  baseDir?: string;
  recipe: Recipe;
  /** Calibration inputs (axis 0 = samples); needed by gptq and awq. */
  inputs?: Record<string, NpyArray>;
  /** MatMulNBits accuracy_level (default 4: ORT's int8 compute path). */
  accuracyLevel?: number;
  /** Export knobs beyond the recipe (tests and the bench compare variants). */
  exportOptions?: Pick<WeightOnlyExportOptions, 'fuseTransformerOps' | 'prefill' | 'prefillMinRows' | 'mergeSharedInput' | 'fuseGelu'>;
  ctx?: WorkContext;
}

export interface WeightOnlyRunResult {
  model: ModelProto;
  results: WeightOnlyLayerResult[];
  quantized: QuantizedNodeInfo[];
  notices: string[];
  timingsMs: Record<string, number>;
}

export const WEIGHT_ONLY_ALGORITHMS = ['rtn', 'gptq', 'awq'] as const;

export function isWeightOnlyRecipe(recipe: Recipe): boolean {
  return recipe.activations === null && recipe.algorithms.every((a) => (WEIGHT_ONLY_ALGORITHMS as readonly string[]).includes(a.name));
}

export async function quantizeWeightOnly(o: WeightOnlyRunOptions): Promise<WeightOnlyRunResult> {
  const { recipe, ctx, baseDir } = o;
  const notices: string[] = [];
  const timingsMs: Record<string, number> = {};
  const config = weightOnlyConfig(recipe.weights, notices);
  const model = clone(ModelProtoSchema, o.model);
  const selection = { opTypes: recipe.opTypes.filter((t) => t === 'MatMul' || t === 'Gemm'), exclude: recipe.exclude };
  const algo = <N extends AlgorithmSpec['name']>(name: N) => recipe.algorithms.find((a) => a.name === name) as Extract<AlgorithmSpec, { name: N }> | undefined;
  const gptq = algo('gptq');
  const awq = algo('awq');
  const needData = !!gptq || !!awq;
  const batches = needData ? calibrationBatches(o.inputs ?? {}, recipe.calibration.batchSize, recipe.calibration.samples) : [];
  if (needData && batches.length === 0) throw new StudioError('BAD_DATA', 'GPTQ/AWQ need calibration samples (--data).');

  let results: WeightOnlyLayerResult[] = [];
  const t0 = performance.now();
  if (awq) {
    const r = await runAwq({ model, baseDir, selection, config, params: awq, batches, quantize: !gptq, notices, ctx: subProgress(ctx, 'awq', 0, gptq ? 0.4 : 0.9) });
    Object.assign(timingsMs, r.timings);
    results = r.results;
    const alphas = r.scaled.filter((s) => s.alpha > 0).length;
    notices.push(`AWQ scaled ${alphas} of ${r.scaled.length} input groups (norm-folded: ${r.scaled.filter((s) => s.alpha > 0 && s.absorber !== 'inserted Mul').length}).`);
  }
  const layers = findLinearLayers(model, selection);
  if (gptq) {
    const r = await runGptq({ model, baseDir, layers, config, params: gptq, batches, notices, ctx: subProgress(ctx, 'gptq', awq ? 0.4 : 0, 0.9) });
    Object.assign(timingsMs, r.timings);
    if (awq) {
      // Keep AWQ's before/after beside GPTQ's.
      for (const x of r.results) x.errors.unshift({ algorithm: 'awq-scale' });
    }
    results = r.results;
  } else if (!awq) {
    const ws = new Map<LinearLayer, Float32Array>(layers.map((l) => [l, layerWeightNK(model, baseDir, l)]));
    results = rtnLayers(ws, config);
  }
  timingsMs.quantize = performance.now() - t0;

  const t1 = performance.now();
  const format = recipe.format === 'matmulnbits' ? 'matmulnbits' : 'qdq';
  if (format === 'matmulnbits' && config.bits > 4) throw new StudioError('BAD_RECIPE', 'Recipe format: "matmulnbits" takes 3- or 4-bit weights.');
  const exportOpts = { prefill: recipe.prefill, ...o.exportOptions, format, baseDir, accuracyLevel: o.accuracyLevel } as const;
  const wantBranch = format === 'matmulnbits' && (exportOpts.prefill ?? 'int8') === 'int8';
  // Export once with MatMulNBits for every step; the int8 branch goes onto a copy, which stays only if
  // calibration samples say it costs no more accuracy than MatMulNBits.
  let exported = exportWeightOnly(model, results, wantBranch ? { ...exportOpts, prefill: 'matmulnbits' } : exportOpts);
  const withBranch = wantBranch ? clone(ModelProtoSchema, exported.model) : undefined;
  const branch = withBranch && addInt8PrefillPath(withBranch, { minRows: exportOpts.prefillMinRows, baseDir });
  if (withBranch && branch) {
    const check = await checkInt8Branch(o.model, withBranch, exported.model, o.inputs);
    const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
    if (!check) notices.push('The int8 branch for multi-row steps was not checked against calibration data (none given).');
    else if (check.keep) notices.push(`Checked the int8 branch on ${check.samples} calibration sample(s): output error ${pct(check.errorInt8)} vs MatMulNBits ${pct(check.errorMatMulNBits)}.`);
    else notices.push(`Dropped the int8 branch: on ${check.samples} calibration sample(s) its output error was ${pct(check.errorInt8)} against MatMulNBits' ${pct(check.errorMatMulNBits)}; every step runs MatMulNBits ("prefill": "matmulnbits").`);
    if (!check || check.keep) exported = { model: withBranch, notices: [...exported.notices, int8PrefillNotice(branch)] };
  }
  notices.push(...exported.notices);
  timingsMs.export = performance.now() - t1;
  const gran = config.groupSize ? `group ${config.groupSize}` : 'channel';
  const quantized: QuantizedNodeInfo[] = results.flatMap((r) => r.layer.nodes.map((n) => ({
    node: n.name, opType: n.opType, weight: r.layer.weight, weightDtype: recipe.weights.dtype, granularity: gran,
    algorithmErrors: r.errors,
  })));
  ctx?.onProgress?.({ stage: 'export', fraction: 1, message: `${results.length} weights quantized to ${config.bits} bits (${format})` });
  return { model: exported.model, results, quantized, notices, timingsMs };
}
