// The Sensitivity view's one-click fixes as pipeline edits: raise a weight to int8 (weight-only
// MatMulNBits below 8 bits only, else the reason), switch the rounding algorithm recipe-wide. Each
// edited pipeline must compile to the recipe the fix means.
import { describe, expect, it } from 'vitest';
import { templateById } from '../../../../renderer/src/features/pipeline/templates';
import { compilePipeline } from '../../../../renderer/src/features/pipeline/compile';
import { defaultParams } from '../../../../renderer/src/features/pipeline/node-types';
import { parseRecipe } from '../../../../engine/pipeline/recipe';
import { currentRounding, int8Fix, int8LayerNames, withInt8Layer, withRounding } from '../../../../renderer/src/features/sensitivity/sensitivity-table';

const recipeOf = (doc: Parameters<typeof compilePipeline>[0]) => {
  const c = compilePipeline(doc);
  if (!c.ok) throw new Error(JSON.stringify(c.problems));
  return c.recipe;
};

describe('sensitivity fixes: raise to int8', () => {
  it('on a W4A16 MatMulNBits pipeline: the node lands in recipe.int8Layers once', () => {
    const doc = templateById('w4a16-gptq')!.build();
    expect(int8Fix(doc)).toEqual({ ok: true });
    const a = withInt8Layer(doc, '/blocks.0/q/MatMul');
    const b = withInt8Layer(a.doc, '/blocks.1/fc/MatMul');
    expect(a.changed && b.changed).toBe(true);
    expect(withInt8Layer(b.doc, '/blocks.0/q/MatMul').changed).toBe(false);
    expect([...int8LayerNames(b.doc)]).toEqual(['/blocks.0/q/MatMul', '/blocks.1/fc/MatMul']);
    const r = recipeOf(b.doc);
    expect(r.int8Layers).toEqual(['/blocks.0/q/MatMul', '/blocks.1/fc/MatMul']);
    expect(parseRecipe(r, 'fixed').int8Layers).toEqual(['/blocks.0/q/MatMul', '/blocks.1/fc/MatMul']);
  });

  it('on QDQ pipelines it is not offered, saying why', () => {
    const w8 = int8Fix(templateById('ptq')!.build());
    expect(w8).toEqual({ ok: false, why: 'int8 is already this recipe\'s weight dtype (int8); the next step up is "Leave in float"' });
    const ptq4 = templateById('ptq')!.build();
    const w4 = int8Fix({ ...ptq4, nodes: ptq4.nodes.map((n) => (n.type === 'quant-params' ? { ...n, params: { ...n.params, weightDtype: 'int4' } } : n)) });
    expect(w4.ok).toBe(false);
    if (!w4.ok) expect(w4.why).toMatch(/one weight dtype \(int4 here\)/);
    // And the recipe contract refuses the key outside MatMulNBits, should one be written by hand.
    expect(() => parseRecipe({ int8Layers: ['/0/Conv'] }, 'hand-written')).toThrow(/int8Layers: applies to format "matmulnbits" only/);
  });
});

describe('sensitivity fixes: switch the rounding algorithm', () => {
  it('GPTQ -> AWQ in place, -> RTN removes the node and joins its neighbours, RTN -> GPTQ adds one before the output', () => {
    const gptq = templateById('w4a16-gptq')!.build();
    expect(currentRounding(gptq)).toBe('gptq');
    const awq = withRounding(gptq, 'awq', defaultParams).doc;
    expect(currentRounding(awq)).toBe('awq');
    expect(recipeOf(awq).algorithms.map((a) => a.name)).toEqual(['awq']);
    const rtn = withRounding(awq, 'rtn', defaultParams).doc;
    expect(currentRounding(rtn)).toBe('rtn');
    expect(rtn.nodes.some((n) => n.type === 'awq')).toBe(false);
    expect(rtn.edges.some((e) => e.source === 'params' && e.target === 'qmodel')).toBe(true);
    expect(recipeOf(rtn).algorithms).toEqual([{ name: 'rtn' }]);
    const back = withRounding(rtn, 'gptq', defaultParams).doc;
    expect(recipeOf(back).algorithms.map((a) => a.name)).toEqual(['gptq']);
    expect(back.edges.filter((e) => e.target === 'qmodel').map((e) => e.source)).toEqual(['gptq']);
    // Everything else the pipeline says is unchanged.
    const { algorithms: _a, ...rest } = recipeOf(back);
    const { algorithms: _b, ...orig } = recipeOf(gptq);
    expect(rest).toEqual(orig);
    expect(withRounding(back, 'gptq', defaultParams).changed).toBe(false);
  });
});
