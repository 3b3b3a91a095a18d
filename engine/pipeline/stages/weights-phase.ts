// The weights phase of a weight-only run (activations null; RTN / GPTQ / AWQ): the recipe's weights
// stages round every selected MatMul/Gemm weight in their declared order (AWQ scales, GPTQ rounds the
// scaled weights, RTN rounds whatever nobody rounded), then the exporter the recipe picks
// (engine/export/exporters.ts: MatMulNBits or opset-21 int4 QDQ) writes them.
import type { ModelProto } from '../../onnx/proto';
import { clone, ModelProtoSchema } from '../../onnx/proto';
import type { NpyArray } from '../../data/npy';
import type { Recipe } from '../recipe';
import type { QuantizedNodeInfo } from '../../../contract/report';
import type { DataWarning } from '../../../contract/report';
import { StudioError, quote } from '../../errors';
import { subProgress, type WorkContext } from '../../util/work-context';
import { weightResultsExporter, type ExportInput } from '../../export/exporters';
import { calibrationBatches, weightOnlyConfig, rtnLayers, type WeightOnlyLayerResult } from '../../quant/algorithms/weight-only';
import { findLinearLayers, layerWeightNK } from '../../quant/algorithms/linear-layers';
import { recipeStages, type WeightsWork } from './stage';
import './builtin';

export interface WeightOnlyRunOptions {
  model: ModelProto;
  /** The untouched input model (the int8 branch is checked against it); default `model`. */
  original?: ModelProto;
  baseDir?: string;
  recipe: Recipe;
  /** Calibration inputs (axis 0 = samples); needed by gptq and awq. */
  inputs?: Record<string, NpyArray>;
  /** MatMulNBits accuracy_level (default 4: ORT's int8 compute path). */
  accuracyLevel?: number;
  /** Weight initializer name -> bits for layers stored at another width than the recipe's (a target
   *  search's int8 layers): rounded to nearest at that width, as the search measured them. */
  bitsByWeight?: ReadonlyMap<string, number>;
  /** Export knobs beyond the recipe (tests and the bench compare variants). */
  exportOptions?: ExportInput['exportOptions'];
  ctx?: WorkContext;
}

export interface WeightOnlyRunResult {
  model: ModelProto;
  results: WeightOnlyLayerResult[];
  quantized: QuantizedNodeInfo[];
  notices: string[];
  /** Warnings about the run's data (too few calibration tokens for GPTQ). */
  warnings: DataWarning[];
  timingsMs: Record<string, number>;
}

export async function quantizeWeightOnly(o: WeightOnlyRunOptions): Promise<WeightOnlyRunResult> {
  const { recipe, ctx, baseDir } = o;
  const notices: string[] = [];
  const warnings: DataWarning[] = [];
  const timingsMs: Record<string, number> = {};
  const config = weightOnlyConfig(recipe.weights, notices);
  const model = clone(ModelProtoSchema, o.model);
  const selection = { opTypes: recipe.opTypes.filter((t) => t === 'MatMul' || t === 'Gemm'), exclude: recipe.exclude };
  const entries = recipeStages(recipe, 'weights');
  const rounding = entries.filter((e) => e.stage.decl.roundsWeights);
  const batches = rounding.length ? calibrationBatches(o.inputs ?? {}, recipe.calibration.batchSize, recipe.calibration.samples) : [];
  if (rounding.length && batches.length === 0) throw new StudioError('BAD_DATA', 'GPTQ/AWQ need calibration samples (--data).');

  const work: WeightsWork = { model, selection, config, batches, earlier: [], roundsLater: false };
  const t0 = performance.now();
  // The stages that round with data share 0-90 % of this phase's progress, in order.
  let done = 0;
  for (const [k, { stage, spec }] of entries.entries()) {
    const span = stage.decl.roundsWeights ? 0.9 / rounding.length : 0;
    work.roundsLater = entries.slice(k + 1).some((e) => e.stage.decl.roundsWeights);
    const r = await stage.run({ model, original: o.original ?? o.model, baseDir, recipe, inputs: o.inputs ?? {}, outputPath: '', weights: work, ctx: subProgress(ctx, spec.name, done, done + span) }, spec);
    done += span;
    if (r.weightResults) work.results = r.weightResults;
    notices.push(...(r.notices ?? []));
    warnings.push(...(r.warnings ?? []));
    Object.assign(timingsMs, r.timingsMs);
    work.earlier.push(spec.name);
  }
  let results = work.results ?? [];
  const bitsByWeight = withInt8Layers(o.bitsByWeight, recipe, results);
  const wider = bitsByWeight ? results.filter((r) => (bitsByWeight.get(r.layer.weight) ?? config.bits) !== config.bits) : [];
  if (wider.length) {
    // A layer AWQ scaled as it rounded keeps W in the model: it is re-rounded from W·diag(s), as its input now carries 1/s.
    const floatWeight = (r: WeightOnlyLayerResult) => {
      const w = layerWeightNK(model, baseDir, r.layer), s = r.inputScale;
      if (s) for (let i = 0; i < w.length; i++) w[i]! *= s[i % r.layer.cols]!;
      return w;
    };
    const scaleOf = new Map(wider.map((r) => [r.layer, r.inputScale]));
    const again = new Map(rtnLayers(new Map(wider.map((r) => [r.layer, floatWeight(r)])), config, bitsByWeight).map((r) => [r.layer, scaleOf.get(r.layer) ? { ...r, inputScale: scaleOf.get(r.layer) } : r]));
    results = results.map((r) => again.get(r.layer) ?? r);
  }
  // Layers inside If/Loop bodies (found apart: calibration data does not reach them) are rounded to
  // nearest, so this path quantizes what the QDQ path does and the summary agrees with inspect.
  const rounded = new Set(results.map((r) => r.layer.weight));
  const inBodies = findLinearLayers(model, selection, { subgraphs: true }).filter((l) => l.inSubgraph && !rounded.has(l.weight));
  if (inBodies.length) {
    results.push(...rtnLayers(new Map(inBodies.map((l) => [l, layerWeightNK(model, baseDir, l)])), config));
    notices.push(`${inBodies.length} weight(s) inside If/Loop bodies rounded to nearest${rounding.length ? ' (calibration data does not reach into the branches, so GPTQ/AWQ do not see them)' : ''}.`);
  }
  timingsMs.quantize = performance.now() - t0;

  const t1 = performance.now();
  const exporter = weightResultsExporter(recipe.format);
  const exported = await exporter.write({ model, original: o.original ?? o.model, baseDir, recipe, weightResults: results, inputs: o.inputs, accuracyLevel: o.accuracyLevel, exportOptions: o.exportOptions });
  notices.push(...exported.notices);
  timingsMs.export = performance.now() - t1;
  const quantized = quantizedNodeInfo(results, recipe);
  ctx?.onProgress?.({ stage: 'export', fraction: 1, message: `${results.length} weights quantized to ${config.bits} bits (${recipe.format})` });
  return { model: exported.model, results, quantized, notices, warnings, timingsMs };
}

/**
 * The recipe's "int8Layers" (node names; the Sensitivity view's "raise to int8") added to a per-weight
 * bits map: those weights are rounded again at 8 bits after GPTQ/AWQ, as a target search's int8 layers.
 */
export function withInt8Layers(bits: ReadonlyMap<string, number> | undefined, recipe: Recipe, results: WeightOnlyLayerResult[]): ReadonlyMap<string, number> | undefined {
  if (!recipe.int8Layers?.length) return bits;
  const out = new Map(bits);
  for (const name of recipe.int8Layers) {
    const r = results.find((x) => x.layer.nodes.some((n) => n.name === name));
    if (!r) throw new StudioError('BAD_RECIPE', `Recipe int8Layers: ${quote(name)} is not a MatMul/Gemm node this recipe quantizes (check its name and "exclude").`);
    out.set(r.layer.weight, 8);
  }
  return out;
}

/** The report's rows for rounded layers: every node reading each weight, with the width it was stored at. */
export function quantizedNodeInfo(results: WeightOnlyLayerResult[], recipe: Recipe): QuantizedNodeInfo[] {
  const config = weightOnlyConfig(recipe.weights);
  const gran = config.groupSize ? `group ${config.groupSize}` : 'channel';
  return results.flatMap((r) => r.layer.nodes.map((n) => ({
    node: n.name, opType: n.opType, weight: r.layer.weight, weightDtype: r.config.bits !== config.bits ? `int${r.config.bits}` : recipe.weights.dtype, granularity: gran,
    algorithmErrors: r.errors,
  })));
}
