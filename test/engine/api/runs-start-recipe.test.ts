// runs.start judges the recipe with the engine's one schema before a run row exists: a bad recipe is
// a BAD_RECIPE answer naming the key, and the project's run list stays empty.
import { describe, it, expect } from 'vitest';
import { models } from '../../helpers/shared';
import { validateRequest, quantizeRunParams } from '../../../contract/ipc';
import { useTempStudio } from '../../fixtures/temp-studio';

const { call } = useTempStudio('qs-runs-recipe-');

describe('runs.start validates the recipe before a run exists', () => {
  it('answers BAD_RECIPE naming the key and quoting the value; no run row is created', async () => {
    const p = await call('projects.create', { name: 'recipes' });
    if (!p.ok) throw new Error(p.error.message);
    const projectId = (p.value as { id: string }).id;
    const m = await call('models.import', { projectId, file: { kind: 'path', path: models.cnn } });
    if (!m.ok) throw new Error(m.error.message);
    const modelId = (m.value as { id: string }).id;
    for (const [recipe, message] of [
      [{ algorithms: [{ name: 'gptq', blockSize: 1e9 }], activations: null }, /Recipe algorithms\[0\]\.blockSize: value '1000000000' is above 4096\./],
      [{ weights: { dtype: 'int2' } }, /Recipe weights\.dtype: value '"int2"' is not one of int8, uint8, int4, uint4, int3\./],
      [{ calibration: { samples: 'many' } }, /Recipe calibration\.samples: value '"many"' is not a number\./],
      [{ algorithms: ['gptq'] }, /Recipe algorithm '"gptq"' is weight-only: set "activations": null\./],
      [{ target: { metric: 'top1', maxDrop: 2 } }, /Recipe target\.maxDrop: value '2' is above 1\./],
    ] as const) {
      const r = await call('runs.start', { projectId, kind: 'quantize', params: { modelId, recipe } });
      expect(r.ok, JSON.stringify(recipe)).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('BAD_RECIPE');
        expect(r.error.message).toMatch(message);
      }
    }
    const runs = await call('runs.list', { projectId });
    expect(runs).toEqual({ ok: true, value: [] });
  });

  it('types a quantize run\'s params on the wire (both sides validate): ids and names, BAD_ARGUMENT naming the field', async () => {
    expect(() => validateRequest('runs.start', { projectId: 'p', kind: 'quantize', params: { modelId: 5 } })).toThrow(/request\.params\.modelId/);
    expect(() => validateRequest('runs.start', { projectId: 'p', kind: 'quantize', params: { modelId: 'm', datasetId: '../x' } })).toThrow(/request\.params\.datasetId/);
    expect(() => validateRequest('runs.start', { projectId: 'p', kind: 'quantize', params: { modelId: 'm', recipe: [1] } })).toThrow(/request\.params\.recipe/);
    const ok = { projectId: 'p', kind: 'quantize', params: quantizeRunParams({ modelId: 'm', recipe: { activations: null, algorithms: ['gptq'] }, outputName: 'x.onnx' }) };
    expect(validateRequest('runs.start', ok)).toEqual(ok);
    // Other kinds keep their free-form params.
    expect(validateRequest('runs.start', { projectId: 'p', kind: 'selftest', params: { anything: 1 } }).params).toEqual({ anything: 1 });
    const r = await call('runs.start', { projectId: 'p', kind: 'quantize', params: {} });
    expect(r).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT', message: expect.stringMatching(/params\.modelId/) } });
  });
});
