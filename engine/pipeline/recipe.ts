// The recipe's engine face: the one schema lives in contract/recipe.ts (the renderer and the IPC
// contract use it too); this module turns its RecipeError into the engine's StudioError('BAD_RECIPE')
// and keeps the names the engine's modules import.
import { StudioError } from '../errors';
import { parseRecipeContract, RecipeError, type Recipe } from '../../contract/recipe';

export {
  DEFAULT_RECIPE, SUPPORTED_OP_TYPES,
  type Recipe, type RecipeInput, type WeightDType, type ActivationDType, type Scheme, type Granularity, type CalibrationMethod,
  type ExportFormat, type WeightSpec, type ActivationSpec, type AlgorithmSpec, type Target,
} from '../../contract/recipe';

/** Validate a recipe object (already JSON-parsed) and fill defaults; StudioError BAD_RECIPE names the key. */
export function parseRecipe(input: unknown, source = 'recipe'): Recipe {
  try { return parseRecipeContract(input, source); } catch (e) {
    if (e instanceof RecipeError) throw new StudioError('BAD_RECIPE', e.message);
    throw e;
  }
}

/** The dtype table lives in engine/core/dtypes.ts; re-exported for the modules that import it from here. */
export { dtypeInfo } from '../core/dtypes';
