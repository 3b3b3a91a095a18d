// The stage registry: every algorithm's run() half, beside its declaration in contract/algorithms.ts
// (name, parameter schema, phase, compatibility check). quantizeModel iterates the phases and runs the
// recipe's stages of each; a stage returns what it did (a StageResult) and never touches the report or
// another stage's state, so the orchestrator is the one place that assembles a run.
import type { ModelProto } from '../../onnx/proto';
import type { NpyArray } from '../../data/npy';
import type { WorkContext } from '../../util/work-context';
import type { CalibrationResult } from '../../quant/calibration/run-calibration';
import type { QdqPlan } from '../../export/qdq-plan';
import type { LinearSelection } from '../../quant/algorithms/linear-layers';
import type { WeightOnlyConfig, WeightOnlyLayerResult, AlgorithmError } from '../../quant/algorithms/weight-only';
import type { ort } from '../../runtime/session';
import type { Recipe } from '../recipe';
import type { QuantizedNodeInfo, DataWarning } from '../../../contract/report';
import { StudioError, quote } from '../../errors';
import { registerAlgorithm, unregisterAlgorithm, algorithmDecl, type AlgorithmDecl, type Phase } from '../../../contract/algorithms';

/** The weights phase's shared work: the model copy the weight stages round, and their results. */
export interface WeightsWork {
  model: ModelProto;
  selection: LinearSelection;
  config: WeightOnlyConfig;
  /** Calibration batches (empty unless a stage that rounds with data is in the recipe). */
  batches: Record<string, ort.Tensor>[];
  /** The rounded layers so far (set by the first stage that rounds). */
  results?: WeightOnlyLayerResult[];
  /** Names of the weights stages that ran before this one, and whether a later one rounds. */
  earlier: string[];
  roundsLater: boolean;
}

export interface StageInput {
  /** The float model being transformed: before-calibration stages edit its weights in place. */
  model: ModelProto;
  /** The untouched input model, for comparisons. */
  original: ModelProto;
  baseDir?: string;
  recipe: Recipe;
  inputs: Record<string, NpyArray>;
  labels?: NpyArray;
  /** Progress, already narrowed to this stage's share of the run (training stages get the whole run's). */
  ctx?: WorkContext;
  outputPath: string;
  /** after-calibration: the calibrated QDQ plan. */
  plan?: QdqPlan;
  /** weights phase only. */
  weights?: WeightsWork;
}

export interface StageResult {
  notices?: string[];
  metrics?: Record<string, number>;
  timingsMs?: Record<string, number>;
  /** Per-node errors of this algorithm, attached to the nodes the QDQ writer quantizes. */
  algorithmErrors?: { node: string; error: AlgorithmError }[];
  /** A stage that calibrated on its own (training): the report shows this calibration. */
  calibration?: CalibrationResult;
  /** A stage that wrote the output model itself (training). */
  exported?: { model: ModelProto; plan: QdqPlan; dequantized: Map<string, string>; quantized: QuantizedNodeInfo[] };
  /** Where its sessions ran (training). */
  deviceUsed?: string;
  /** weights phase: the rounded layers (the stage that rounded sets them). */
  weightResults?: WeightOnlyLayerResult[];
  /** Warnings about the run's data, for the report's warnings list (CLI, studio). */
  warnings?: DataWarning[];
}

export interface Stage<S extends { name: string } = { name: string } & Record<string, unknown>> {
  decl: AlgorithmDecl;
  /** Its share of the run's progress; default by phase (before-calibration 0-5 %, after-calibration
   *  50-55 %, training the whole run, weights its share of 5-90 %). */
  progress?: [number, number] | 'whole-run';
  run(input: StageInput, spec: S): Promise<StageResult> | StageResult;
}

const stages = new Map<string, Stage>();

/**
 * Register a stage: its declaration goes to the recipe parser (contract/algorithms.ts), its run() here.
 * Returns the function that removes both again (tests).
 */
export function registerStage<S extends { name: string }>(stage: Stage<S>, opts: { declared?: boolean } = {}): () => void {
  const name = stage.decl.name;
  if (stages.has(name)) throw new StudioError('INTERNAL', `Stage ${quote(name)} is registered twice.`);
  // Built-ins are declared by the contract itself; a new algorithm declares itself here.
  if (!opts.declared) registerAlgorithm(stage.decl);
  else if (algorithmDecl(name) !== stage.decl) throw new StudioError('INTERNAL', `Stage ${quote(name)} does not match its declaration.`);
  stages.set(name, stage as unknown as Stage);
  return () => {
    stages.delete(name);
    if (!opts.declared) unregisterAlgorithm(name);
  };
}

export function stageFor(name: string): Stage {
  const s = stages.get(name);
  if (!s) throw new StudioError('BAD_RECIPE', `Recipe algorithm ${quote(name)} is declared but no stage runs it in this engine.`);
  return s;
}

/** The recipe's entries of one phase with their stages, ordered by the declarations' `order` (stable). */
export function recipeStages(recipe: Recipe, phase: Phase): { stage: Stage; spec: Recipe['algorithms'][number] }[] {
  return recipe.algorithms
    .map((spec, i) => ({ spec, i, stage: stageFor(spec.name) }))
    .filter((x) => x.stage.decl.phase === phase)
    .sort((a, b) => (a.stage.decl.order ?? 100) - (b.stage.decl.order ?? 100) || a.i - b.i)
    .map(({ stage, spec }) => ({ stage, spec }));
}

export function registeredStages(): Stage[] {
  return [...stages.values()];
}

const PHASE_PROGRESS: Record<Phase, [number, number] | 'whole-run'> = {
  'before-calibration': [0, 0.05], weights: [0.05, 0.9], 'after-calibration': [0.5, 0.55], training: 'whole-run',
};

/** Where a stage reports progress in the run. */
export function stageProgress(stage: Stage): [number, number] | 'whole-run' {
  return stage.progress ?? PHASE_PROGRESS[stage.decl.phase];
}
