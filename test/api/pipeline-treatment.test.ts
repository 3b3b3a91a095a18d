// (Under test/api, not test/renderer: it reads the real graphs through the engine, which the renderer's typecheck does not see.)
// What the Ranges view says a recipe does to a tensor, on the real graphs of the sample CNN and GPT
// (read by the engine's graph view, as the studio reads them).
import { beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import type { GraphView } from '../../contract/ipc';
import { loadModel } from '../../engine/onnx/model-io';
import { graphView } from '../../engine/api/graph-view';
import { pipelineTreatment, treatmentText } from '../../renderer/src/features/tensors/pipeline-treatment';
import type { RecipeJson } from '../../renderer/src/features/pipeline/compile';

const repo = resolve(import.meta.dirname, '../..');
let cnn: GraphView;
let gpt: GraphView;
const base: RecipeJson = {
  weights: { dtype: 'int8', scheme: 'symmetric', granularity: 'channel' },
  activations: { dtype: 'uint8', scheme: 'asymmetric', calibration: { method: 'minmax' } },
  algorithms: [], opTypes: ['MatMul', 'Gemm', 'Conv'], exclude: [], format: 'qdq', calibration: { samples: 16, batchSize: 4 },
} as RecipeJson;

beforeAll(async () => {
  cnn = graphView((await loadModel(`${repo}/projects-sample/fmnist-cnn/model.onnx`)).model, 'cnn');
  gpt = graphView((await loadModel(`${repo}/projects-sample/moby-gpt/model.onnx`)).model, 'gpt');
});

describe('pipeline treatment of a tensor', () => {
  it('a Conv weight: per channel, per tensor or grouped as the recipe says; its bias int32', () => {
    const conv = cnn.nodes.find((n) => n.opType === 'Conv')!;
    const [x, w, b] = conv.inputs;
    expect(pipelineTreatment(w!, cnn, base)).toMatchObject({ kind: 'weight', dtype: 'int8', granularity: 'channel', bits: 8 });
    expect(pipelineTreatment(w!, cnn, { ...base, weights: { ...base.weights, granularity: 'tensor' } })).toMatchObject({ granularity: 'tensor' });
    const g32 = pipelineTreatment(w!, cnn, { ...base, weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } } });
    expect(g32).toMatchObject({ kind: 'weight', granularity: 'group', group: 32, bits: 4 });
    expect(treatmentText(g32)).toContain('one scale per group of 32');
    if (b) expect(pipelineTreatment(b, cnn, base)).toMatchObject({ kind: 'bias', dtype: 'int32' });
    expect(pipelineTreatment(x!, cnn, base)).toMatchObject({ kind: 'activation', dtype: 'uint8', method: 'minmax' });
    expect(pipelineTreatment(x!, cnn, { ...base, activations: null })).toMatchObject({ kind: 'float' });
    expect(pipelineTreatment(w!, cnn, { ...base, exclude: [conv.name] })).toEqual({ kind: 'float', why: `node '${conv.name}' is excluded by the recipe` });
  });

  it('the GPT\'s embedding stays float when Gather is not quantized; its int64 ids are never offered', () => {
    const gather = gpt.nodes.find((n) => n.opType === 'Gather' && n.weights.length > 0)!;
    expect(gather).toBeTruthy();
    const table = gather.inputs.find((i) => gather.weights.includes(i))!;
    const t = pipelineTreatment(table, gpt, { ...base, opTypes: ['MatMul'] });
    expect(t.kind).toBe('float');
    expect(treatmentText(t)).toMatch(/Gather .* not among the recipe's op types \(MatMul\): the embedding stays float/);
    const ids = gather.inputs.find((i) => !gather.weights.includes(i))!;
    expect(pipelineTreatment(ids, gpt, base)).toMatchObject({ kind: 'float' });
    expect(treatmentText(pipelineTreatment(ids, gpt, base))).toMatch(/int64|INT64/i);
    // A MatMul weight under MatMulNBits int4 g32.
    const mm = gpt.nodes.find((n) => n.opType === 'MatMul' && n.weights.length > 0)!;
    const w = mm.inputs.find((i) => mm.weights.includes(i))!;
    expect(pipelineTreatment(w, gpt, { ...base, opTypes: ['MatMul'], format: 'matmulnbits', activations: null, weights: { dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } } }))
      .toMatchObject({ kind: 'weight', dtype: 'int4', granularity: 'group', group: 32, bits: 4 });
  });
});
