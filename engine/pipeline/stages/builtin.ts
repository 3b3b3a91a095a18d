// The built-in algorithms' run() halves; their declarations (parameters, phase, checks) are in
// contract/algorithms.ts. Importing this module registers them once.
import { BUILTIN_ALGORITHMS, algorithmDecl } from '../../../contract/algorithms';
import type { AlgorithmSpec } from '../recipe';
import { StudioError } from '../../errors';
import { runSmoothQuant } from '../../quant/algorithms/smoothquant';
import { runBiasCorrection } from '../../quant/algorithms/bias-correction';
import { runAwq } from '../../quant/algorithms/awq';
import { runGptq, calibrationTokenWarning } from '../../quant/algorithms/gptq';
import { findLinearLayers, layerWeightNK } from '../../quant/algorithms/linear-layers';
import { normInputWeights, rtnLayers } from '../../quant/algorithms/weight-only';
import { runQatStage } from '../../qat';
import { registerStage, registeredStages, type Stage, type StageInput, type WeightsWork } from './stage';

type Spec<N extends AlgorithmSpec['name']> = Extract<AlgorithmSpec, { name: N }>;
const decl = (name: AlgorithmSpec['name']) => algorithmDecl(name)!;
const weightsOf = (i: StageInput): WeightsWork => {
  if (!i.weights) throw new StudioError('INTERNAL', 'A weights stage ran outside the weights phase.');
  return i.weights;
};

const rtn: Stage<Spec<'rtn'>> = {
  decl: decl('rtn'),
  // With quantized activations the QDQ writer rounds to nearest itself; in the weights phase RTN rounds
  // what no earlier stage rounded.
  run(i) {
    if (!i.weights || i.weights.results) return {};
    const w = i.weights;
    const layers = findLinearLayers(w.model, w.selection);
    // the grid search weighs each input channel by its norm's scale (data-free; weight-only.ts)
    const inputWeights = normInputWeights(w.model, i.baseDir, layers);
    // One weight read (from external data: just its byte range) and rounded at a time, so the float
    // weights are never all in memory at once: only the rounded results stay.
    const weightResults = layers.flatMap((l) => rtnLayers(new Map([[l, layerWeightNK(w.model, i.baseDir, l)]]), w.config, undefined, inputWeights));
    return { weightResults };
  },
};

const awq: Stage<Spec<'awq'>> = {
  decl: decl('awq'),
  async run(i, spec) {
    const w = weightsOf(i);
    const notices: string[] = [];
    // AWQ followed by GPTQ: AWQ only scales the channels, GPTQ rounds the scaled weights.
    const r = await runAwq({ model: w.model, baseDir: i.baseDir, selection: w.selection, config: w.config, params: spec, batches: w.batches, quantize: !w.roundsLater, notices, ctx: i.ctx });
    const alphas = r.scaled.filter((s) => s.alpha > 0).length;
    notices.push(`AWQ scaled ${alphas} of ${r.scaled.length} input groups (norm-folded: ${r.scaled.filter((s) => s.alpha > 0 && s.absorber !== 'inserted Mul').length}).`);
    return { weightResults: r.results, notices, timingsMs: r.timings };
  },
};

const gptq: Stage<Spec<'gptq'>> = {
  decl: decl('gptq'),
  async run(i, spec) {
    const w = weightsOf(i);
    const notices: string[] = [];
    const layers = findLinearLayers(w.model, w.selection);
    const r = await runGptq({ model: w.model, baseDir: i.baseDir, layers, config: w.config, params: spec, batches: w.batches, notices, ctx: i.ctx });
    // Keep AWQ's before/after beside GPTQ's.
    if (w.earlier.includes('awq')) for (const x of r.results) x.errors.unshift({ algorithm: 'awq-scale' });
    const warning = calibrationTokenWarning(r.underdetermined);
    return { weightResults: r.results, notices, timingsMs: r.timings, ...(warning ? { warnings: [warning] } : {}) };
  },
};

const smoothquant: Stage<Spec<'smoothquant'>> = {
  decl: decl('smoothquant'),
  // llm: float-equivalent smoothing before calibration; the usual int8 calibration + QDQ follow.
  async run(i, spec) {
    const sq = await runSmoothQuant(i.model, i.baseDir, spec, i.recipe, i.inputs, i.ctx);
    return {
      notices: sq.notices,
      algorithmErrors: sq.layerErrors.map((e) => ({ node: e.node, error: { algorithm: 'smoothquant', weightErrorBefore: e.weightErrorBefore, weightErrorAfter: e.weightErrorAfter, outputErrorBefore: e.outputErrorBefore, outputErrorAfter: e.outputErrorAfter } })),
    };
  },
};

const biasCorrection: Stage<Spec<'bias-correction'>> = {
  decl: decl('bias-correction'),
  // ptq: the float biases the QDQ writer quantizes absorb the mean shift of weight rounding.
  async run(i) {
    if (!i.plan) throw new StudioError('INTERNAL', 'Bias correction ran without a calibrated plan.');
    const bc = await runBiasCorrection({ model: i.model, baseDir: i.baseDir, plan: i.plan, recipe: i.recipe, inputs: i.inputs, device: i.recipe.device, ctx: i.ctx });
    return { notices: bc.notices };
  },
};

const qat: Stage<Spec<'qat'>> = {
  decl: decl('qat'),
  // QAT reports its own calibration (5-15 %) and training (15-50 %).
  progress: 'whole-run',
  run: (i, spec) => runQatStage(i, spec, { outputPath: i.outputPath }),
};

if (!registeredStages().some((s) => s.decl.name === 'rtn')) {
  for (const s of [rtn, gptq, awq, smoothquant, biasCorrection, qat] as unknown as Stage[]) registerStage(s, { declared: true });
  // Every built-in declaration has its run() half.
  for (const d of BUILTIN_ALGORITHMS) if (!registeredStages().some((s) => s.decl.name === d.name)) throw new StudioError('INTERNAL', `Built-in algorithm '${d.name}' has no stage.`);
}

