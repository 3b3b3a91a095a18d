import { describe, expect, it } from 'vitest';
import { recipeToDoc } from '../../../../renderer/src/features/pipeline/recipe-to-doc';
import { compilePipeline, type RecipeJson } from '../../../../renderer/src/features/pipeline/compile';
import { TEMPLATES } from '../../../../renderer/src/features/pipeline/templates';
import fmnist from '../../../../projects-sample/fmnist-cnn/recipe.json';
import gpt from '../../../../projects-sample/moby-gpt/recipe.json';
import ocr from '../../../../projects-sample/ppocr-rec/recipe.json';

describe('recipe → pipeline → recipe', () => {
  it('round-trips every sample recipe exactly', () => {
    for (const r of [fmnist, gpt, ocr] as RecipeJson[]) {
      const back = compilePipeline(recipeToDoc('sample', r));
      if (!back.ok) throw new Error(JSON.stringify(back.problems));
      expect(back.recipe).toEqual(r);
    }
  });

  it('round-trips what every template compiles to (QAT loop, group granularity, weight-only)', () => {
    for (const t of TEMPLATES) {
      const first = compilePipeline(t.build());
      if (!first.ok) throw new Error(t.id);
      const again = compilePipeline(recipeToDoc(t.title, first.recipe));
      if (!again.ok) throw new Error(`${t.id}: ${JSON.stringify(again.problems)}`);
      expect(again.recipe).toEqual(first.recipe);
    }
  });
});
