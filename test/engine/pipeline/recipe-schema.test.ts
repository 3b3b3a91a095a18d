// The one recipe schema (contract/recipe.ts) as the engine parses it: defaults as the CLI contract
// says, every key bounded, messages that name the key path and quote the value, code BAD_RECIPE.
import { describe, it, expect } from 'vitest';
import { parseRecipe, DEFAULT_RECIPE } from '../../../engine/pipeline/recipe';
import { parseRecipeContract, RecipeError } from '../../../contract/recipe';

const bad = (recipe: unknown, message: RegExp) => {
  let err: unknown;
  try { parseRecipe(recipe); } catch (e) { err = e; }
  expect(err, JSON.stringify(recipe)).toMatchObject({ code: 'BAD_RECIPE' });
  expect((err as Error).message).toMatch(message);
};

describe('recipe schema', () => {
  it('fills the contract defaults', () => {
    expect(parseRecipe({})).toEqual(DEFAULT_RECIPE);
    expect(parseRecipe(undefined)).toEqual(DEFAULT_RECIPE);
    expect(parseRecipe({ algorithms: [] }).algorithms).toEqual([{ name: 'rtn' }]);
    expect(parseRecipe({ $schema: 'x', name: 'n', description: 'd' })).toEqual(DEFAULT_RECIPE);
    expect(parseRecipe({ activations: null, algorithms: ['gptq', { name: 'awq' }] }).algorithms).toEqual([
      { name: 'gptq', damp: 0.01, actOrder: false, blockSize: 128 }, { name: 'awq', gridSize: 20, clip: true },
    ]);
    expect(parseRecipe({ algorithms: ['qat'] }).algorithms).toEqual([{ name: 'qat', steps: 600, lr: 1e-4, batchSize: 64, learnScales: false }]);
    expect(parseRecipe({ algorithms: ['smoothquant'] }).algorithms).toEqual([{ name: 'smoothquant', alpha: 0.5, search: false }]);
    expect(parseRecipe({ activations: { calibration: { method: 'percentile' } } }).activations).toEqual({ dtype: 'uint8', scheme: 'asymmetric', calibration: { method: 'percentile', percentile: 99.99 } });
  });

  it('carries a target as written', () => {
    expect(parseRecipe({ target: { metric: 'sqnr', min: 30 } }).target).toEqual({ metric: 'sqnr', min: 30 });
    expect(parseRecipe({ target: { metric: 'top1', maxDrop: 0.01 } }).target).toEqual({ metric: 'top1', maxDrop: 0.01 });
    expect(parseRecipe({ target: { metric: 'perplexity', maxIncrease: 0.2 } }).target).toEqual({ metric: 'perplexity', maxIncrease: 0.2 });
    expect('target' in parseRecipe({})).toBe(false);
  });

  it('names the key path and quotes the value', () => {
    bad({ algorithms: [{ name: 'gptq', damp: 'x' }], activations: null }, /^Recipe algorithms\[0\]\.damp: value '"x"' is not a number\.$/);
    bad({ algorithms: [{ name: 'gptq', blockSize: 4097 }], activations: null }, /^Recipe algorithms\[0\]\.blockSize: value '4097' is above 4096\.$/);
    bad({ algorithms: [{ name: 'gptq', blockSize: 1.5 }], activations: null }, /blockSize: value '1\.5' must be an integer\./);
    bad({ algorithms: [{ name: 'gptq', actOrder: 'yes' }], activations: null }, /algorithms\[0\]\.actOrder: value '"yes"' is not true or false\./);
    bad({ algorithms: [{ damp: 1 }] }, /^Recipe algorithms\[0\]: needs a "name"\.$/);
    bad({ algorithms: [7] }, /^Recipe algorithms\[0\]: value '7' is not an object with a "name"\.$/);
    bad({ algorithms: 'gptq' }, /^Recipe algorithms: value '"gptq"' is not a list\.$/);
    bad({ algorithms: Array(17).fill('rtn') }, /^Recipe algorithms: has more than 16 entries\.$/);
    bad({ weights: { granularity: { group: 1 } } }, /^Recipe weights\.granularity\.group: value '1' is below 2\.$/);
    bad({ weights: { granularity: { group: 1e6 } } }, /weights\.granularity\.group: value '1000000' is above 65536\./);
    bad({ weights: { granularity: {} } }, /^Recipe weights\.granularity: an object granularity needs "group": N\.$/);
    bad({ weights: { granularity: 'row' } }, /^Recipe weights\.granularity: value '"row"' is not "tensor", "channel" or \{ "group": N \}\.$/);
    bad({ weights: { granularity: { group: 32, size: 1 } } }, /weights\.granularity: unknown key '"size"' \(allowed: group\)/);
    bad({ weights: 3 }, /^Recipe weights: value '3' is not an object\.$/);
    bad({ activations: { calibration: { percentile: 10 } } }, /^Recipe activations\.calibration\.percentile: value '10' is below 50\.$/);
    bad({ calibration: { samples: 0 } }, /^Recipe calibration\.samples: value '0' is below 1\.$/);
    bad({ calibration: { samples: 1e12 } }, /^Recipe calibration\.samples: value '1000000000000' is above 10000000\.$/);
    bad({ calibration: { batchSize: 5000 } }, /calibration\.batchSize: value '5000' is above 4096\./);
    bad({ opTypes: 'Conv' }, /^Recipe opTypes: value '"Conv"' is not a list of strings\.$/);
    bad({ opTypes: ['Conv', 3] }, /^Recipe opTypes: is not a list of strings \(entry '3'\)\.$/);
    bad({ opTypes: ['LSTM'] }, /^Recipe opTypes\[0\]: op type '"LSTM"' cannot be quantized/);
    bad({ format: 'gguf' }, /^Recipe format: value '"gguf"' is not one of qdq, matmulnbits\.$/);
    bad({ format: 'matmulnbits', activations: null }, /^Recipe format: "matmulnbits" needs 4-bit or 3-bit weights, not '"int8"'\.$/);
    bad({ format: 'matmulnbits', weights: { dtype: 'int4' } }, /^Recipe format: "matmulnbits" is weight-only: set "activations": null\.$/);
    bad({ prefill: 'int8' }, /^Recipe prefill: applies to format "matmulnbits" only\.$/);
    bad({ colour: 'red' }, /^Recipe top level: unknown key '"colour"' \(allowed: \$schema, name, description, weights, activations, algorithms, opTypes, exclude, int8Layers, format, calibration, device, prefill, target, guard\)\.$/);
    bad({ target: { metric: 'top1', maxDrop: 2 } }, /^Recipe target\.maxDrop: value '2' is above 1\.$/);
    bad({ target: { metric: 'latency' } }, /^Recipe target/);
    bad({ algorithms: ['gptq'] }, /^Recipe algorithm '"gptq"' is weight-only: set "activations": null\.$/);
    bad({ activations: null, algorithms: ['smoothquant', 'gptq'] }, /^Recipe algorithm '"gptq"' is weight-only: it does not combine with "smoothquant"/);
    bad({ algorithms: ['bias-correction', 'qat'] }, /^Recipe algorithm '"bias-correction"' does not combine with '"qat"'/);
    bad({ activations: null, algorithms: ['bias-correction'] }, /^Recipe algorithm '"bias-correction"' corrects the int32 biases/);
    bad([1], /^Recipe '"recipe"' must be a JSON object, got '\[1\]'\.$/);
  });

  it('the contract side throws RecipeError (code BAD_RECIPE) for the renderer, without the engine', () => {
    expect(() => parseRecipeContract({ device: 'tpu' })).toThrow(RecipeError);
    expect(() => parseRecipeContract({ device: 'tpu' })).toThrow(/^Recipe device: value '"tpu"' is not one of auto, cpu, cuda\.$/);
  });
});
