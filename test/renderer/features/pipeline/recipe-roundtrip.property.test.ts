// Property: for every template and any value of every node parameter (each recipe key the editor
// draws), doc → recipe → doc → recipe is the identity, and the recipe is one the engine's schema takes
// with the same meaning (parsing the round-tripped recipe gives the same parsed recipe).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compilePipeline } from '../../../../renderer/src/features/pipeline/compile';
import { recipeToDoc } from '../../../../renderer/src/features/pipeline/recipe-to-doc';
import { TEMPLATES } from '../../../../renderer/src/features/pipeline/templates';
import { nodeType, type ParamDef, type ParamValue } from '../../../../renderer/src/features/pipeline/node-types';
import type { PipelineDoc } from '../../../../renderer/src/features/pipeline/pipeline-doc';
import { parseRecipeContract } from '../../../../contract/recipe';

/** Any value the control for this parameter can hold (numbers inside the declared bounds). */
function valueOf(p: ParamDef): fc.Arbitrary<ParamValue> {
  if (p.kind === 'select') return fc.constantFrom(...(p.options ?? [String(p.default)]));
  if (p.kind === 'boolean') return fc.boolean();
  if (p.kind === 'text') {
    if (p.key === 'opTypes') return fc.subarray(['MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'Gather'], { minLength: 1 }).map((a) => a.join(', '));
    if (p.key === 'exclude') return fc.array(fc.stringMatching(/^\/[a-z0-9.]{1,8}\/[A-Za-z]{1,8}$/), { maxLength: 3 }).map((a) => a.join(', '));
    // Mostly empty: a list is refused unless the graph is MatMulNBits (the schema's own rule).
    if (p.key === 'int8Layers') return fc.oneof({ weight: 2, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.array(fc.stringMatching(/^\/[a-z0-9.]{1,8}\/[A-Za-z]{1,8}$/), { minLength: 1, maxLength: 3 }).map((a) => a.join(', ')) });
    return fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/);
  }
  const min = p.min ?? 0, max = Math.min(p.max ?? 1e6, 1e6);
  return p.int ? fc.integer({ min, max }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

/** A template with every parameter of every node set to an arbitrary valid value. */
const anyDoc: fc.Arbitrary<PipelineDoc> = fc.constantFrom(...TEMPLATES).chain((t) => {
  const doc = t.build();
  const perNode = doc.nodes.map((n) => {
    const defs = nodeType(n.type)?.parameters ?? [];
    return fc.record(Object.fromEntries(defs.map((p) => [p.key, valueOf(p)])) as Record<string, fc.Arbitrary<ParamValue>>);
  });
  return fc.tuple(...perNode).map((params) => ({ ...doc, nodes: doc.nodes.map((n, i) => ({ ...n, params: { ...n.params, ...params[i] } })) }));
});

describe('pipeline ↔ recipe round trip (property)', () => {
  it('doc → recipe → doc → recipe is the identity for every template and every parameter value', () => {
    let compiled = 0;
    fc.assert(fc.property(anyDoc, (doc) => {
      const first = compilePipeline(doc);
      // Graphs the editor refuses (e.g. MatMulNBits with int8 weights) have no recipe to round-trip.
      fc.pre(first.ok);
      if (!first.ok) return;
      compiled++;
      const again = compilePipeline(recipeToDoc(doc.name, first.recipe));
      if (!again.ok) throw new Error(JSON.stringify(again.problems));
      expect(again.recipe).toEqual(first.recipe);
      expect(parseRecipeContract(again.recipe)).toEqual(parseRecipeContract(first.recipe));
    }), { numRuns: 150, seed: 20261207 });
    expect(compiled).toBeGreaterThan(50);
  });

  it('every recipe key the editor writes is covered: prefill, group granularity, percentile, each algorithm parameter, each target metric', () => {
    const seen = new Set<string>();
    const walk = (v: unknown, path: string) => {
      if (Array.isArray(v)) v.forEach((x) => walk(x, `${path}[]`));
      else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
      else seen.add(path);
    };
    fc.assert(fc.property(anyDoc, (doc) => {
      const r = compilePipeline(doc);
      if (r.ok) walk(r.recipe, '');
    }), { numRuns: 150, seed: 20261207 });
    for (const k of ['prefill', 'weights.granularity.group', 'activations.calibration.percentile', 'algorithms[].damp', 'algorithms[].actOrder', 'algorithms[].blockSize',
      'algorithms[].gridSize', 'algorithms[].clip', 'algorithms[].alpha', 'algorithms[].search', 'algorithms[].steps', 'algorithms[].lr', 'algorithms[].batchSize',
      'algorithms[].learnScales', 'calibration.samples', 'calibration.batchSize', 'weights.scheme', 'activations.scheme', 'opTypes[]', 'exclude[]', 'format',
      'target.metric', 'target.min', 'target.maxDrop', 'target.maxIncrease', 'int8Layers[]']) {
      expect(seen, k).toContain(k);
    }
  });
});
