// One exporter shape, registered once: the orchestrator writes through the first exporter whose
// accepts() takes the recipe, and prepares what its `takes` asks for.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exporterFor, registerExporter, type ExportInput } from '../../../engine/export/exporters';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { loadModel } from '../../../engine/onnx/model-io';
import { models } from '../../helpers/shared';

const int4 = { weights: { dtype: 'int4', granularity: { group: 32 } }, activations: null };

describe('exporter registry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qexp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('picks by accepts(): MatMulNBits, int4 QDQ for GPTQ/AWQ weight-only, QDQ otherwise', () => {
    expect(exporterFor(parseRecipe({ ...int4, format: 'matmulnbits' })).id).toBe('matmulnbits');
    expect(exporterFor(parseRecipe({ ...int4, algorithms: ['gptq'] })).id).toBe('int4-qdq');
    expect(exporterFor(parseRecipe({ ...int4, algorithms: [{ name: 'awq' }, 'gptq'] })).takes).toBe('weight-results');
    // Weight-only RTN in "qdq" goes through the QDQ planner, as before the registry.
    expect(exporterFor(parseRecipe({ ...int4 })).id).toBe('qdq');
    expect(exporterFor(parseRecipe({})).id).toBe('qdq');
  });

  it('a registered exporter is used for the recipes it accepts, with what its `takes` asks for', async () => {
    const seen: ExportInput[] = [];
    const unregister = registerExporter({
      id: 'toy-float', format: 'qdq', takes: 'calibrated-plan',
      accepts: (r) => r.opTypes.length === 1 && r.opTypes[0] === 'Gemm',
      async write(i) { seen.push(i); return { model: i.model, notices: ['toy exporter wrote the float model'], quantized: [] }; },
    });
    try {
      const out = join(dir, 'toy.onnx');
      const report = await quantizeModel({ modelPath: models.cnn, outputPath: out, recipe: parseRecipe({ activations: null, opTypes: ['Gemm'] }), inputs: {} });
      expect(report.notices).toContain('toy exporter wrote the float model');
      expect(seen.length).toBe(1);
      expect(seen[0]!.plan?.targets.map((t) => t.node.opType)).toEqual(['Gemm']);
      const written = (await loadModel(out)).model;
      expect(written.graph!.node.some((n) => n.opType === 'DequantizeLinear')).toBe(false);
    } finally { unregister(); }
    // Unregistered: the same recipe goes to the QDQ writer again.
    const out = join(dir, 'qdq.onnx');
    await quantizeModel({ modelPath: models.cnn, outputPath: out, recipe: parseRecipe({ activations: null, opTypes: ['Gemm'] }), inputs: {} });
    expect((await loadModel(out)).model.graph!.node.some((n) => n.opType === 'DequantizeLinear')).toBe(true);
  });
});
