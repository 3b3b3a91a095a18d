// The recipe's "prefill" key: how a MatMulNBits export runs steps of several rows.
import { describe, it, expect } from 'vitest';
import { parseRecipe } from '../../../engine/pipeline/recipe';

const base = { weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } }, activations: null, format: 'matmulnbits' };

describe('recipe "prefill"', () => {
  it('is absent by default (the export then adds the int8 branch) and takes "int8" or "matmulnbits"', () => {
    expect(parseRecipe(base).prefill).toBeUndefined();
    expect(parseRecipe({ ...base, prefill: 'int8' }).prefill).toBe('int8');
    expect(parseRecipe({ ...base, prefill: 'matmulnbits' }).prefill).toBe('matmulnbits');
  });
  it('refuses other values and non-matmulnbits formats with a clear message', () => {
    expect(() => parseRecipe({ ...base, prefill: 'fp16' })).toThrow(/prefill/);
    expect(() => parseRecipe({ weights: { dtype: 'int8', scheme: 'symmetric', granularity: 'channel' }, prefill: 'int8' })).toThrow(/applies to format "matmulnbits" only/);
  });
});
