// The weight-only run is the pipeline's weights phase now (engine/pipeline/stages/weights-phase.ts:
// the registered RTN / GPTQ / AWQ stages, then the exporter the recipe picks). These names stay for
// the modules and tests that call the weight-only path directly.
export { quantizeWeightOnly, type WeightOnlyRunOptions, type WeightOnlyRunResult } from '../../pipeline/stages/weights-phase';
export { isWeightOnlyRecipe } from '../../export/exporters';

export const WEIGHT_ONLY_ALGORITHMS = ['rtn', 'gptq', 'awq'] as const;
