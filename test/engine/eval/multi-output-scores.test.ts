// A model's SQNR / cosine / MSE are the worst output's, not the first output's: a detector's heads are
// separate outputs (BlazeFace full-range: scores for 512 and for 384 anchors, then box offsets), and a
// target search scored on the first alone met 30 dB there while the 384-anchor scores were at 7-16 dB.
import { describe, it, expect } from 'vitest';
import { create, ModelProtoSchema, GraphProtoSchema, OperatorSetIdProtoSchema, DataType, type ModelProto } from '../../../engine/onnx/proto';
import { floatTensor } from '../../../engine/onnx/tensor';
import { makeNode } from '../../../engine/onnx/graph';
import { serializeModel } from '../../../engine/onnx/model-io';
import { createSession } from '../../../engine/runtime/session';
import { compareModels } from '../../../engine/eval/layer-error';
import { OutputScorer } from '../../../engine/eval/output-scores';
import { referenceOutputs, scoreSession, type AnalysisShared } from '../../../engine/analysis/variant-task';
import type { NpyArray } from '../../../engine/data/npy';
import { valueInfo } from '../../fixtures/value-info';


/** x -> scores (x * 1, the same in both models) and x -> offsets (x * `gain`: 1 in "FP32", 1.5 in the "quantized" one). */
function twoHeads(gain: number): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph: create(GraphProtoSchema, {
      name: 'heads', input: [valueInfo('x', ['N', 6])], output: [valueInfo('scores', ['N', 6]), valueInfo('offsets', ['N', 6])],
      initializer: [floatTensor('one', [], Float32Array.of(1)), floatTensor('gain', [], Float32Array.of(gain))],
      node: [makeNode('Mul', ['x', 'one'], ['scores'], 'scoreHead'), makeNode('Mul', ['x', 'gain'], ['offsets'], 'offsetHead')],
    }),
  });
}

const x: NpyArray = { dtype: 'float32', shape: [4, 6], data: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i + 1) * 3) };
// offsets off by half their value everywhere: SQNR 10 log10(1 / 0.25) = 6.02 dB
const HALF_OFF_DB = 10 * Math.log10(4);

describe('output scores over every output', () => {
  it('OutputScorer reports the worst output and names it', () => {
    const s = new OutputScorer();
    const a = Float32Array.of(1, 2, 3, 4), b = Float32Array.of(2, 4, 6, 8);
    s.add({ data: a, dims: [1, 4], type: 'float32' }, { data: a, dims: [1, 4], type: 'float32' }, 0, 1);
    s.addOutput('offsets', { data: a, dims: [1, 4], type: 'float32' }, { data: Float32Array.from(a, (v) => v * 1.5), dims: [1, 4], type: 'float32' });
    s.addOutput('ids', { data: BigInt64Array.of(1n), dims: [1], type: 'int64' }, { data: BigInt64Array.of(2n), dims: [1], type: 'int64' });
    const r = s.result();
    expect(r.sqnrDb).toBeCloseTo(HALF_OFF_DB, 3);
    expect(r.worstOutput).toBe('offsets');
    // a further output that agrees better than the first leaves the first's figure
    const t = new OutputScorer();
    t.add({ data: a, dims: [1, 4], type: 'float32' }, { data: b, dims: [1, 4], type: 'float32' }, 0, 1);
    t.addOutput('same', { data: a, dims: [1, 4], type: 'float32' }, { data: a, dims: [1, 4], type: 'float32' });
    expect(t.result().sqnrDb).toBeCloseTo(0, 3);
    expect(t.result().worstOutput).toBeUndefined();
    // non-finite values in a further output make the figure undefined
    const u = new OutputScorer();
    u.add({ data: a, dims: [1, 4], type: 'float32' }, { data: a, dims: [1, 4], type: 'float32' }, 0, 1);
    u.addOutput('bad', { data: a, dims: [1, 4], type: 'float32' }, { data: Float32Array.of(1, NaN, 3, 4), dims: [1, 4], type: 'float32' });
    expect(u.result().sqnrDb).toBeNaN();
    expect(u.result().undefinedReason).toMatch(/non-finite/);
  });

  it('compareModels (the report) scores the second head, not just the first output', async () => {
    const cmp = await compareModels(twoHeads(1), twoHeads(1.5), [], { x }, { samples: 4, offset: 0 });
    expect(cmp.outputAgreement.sqnrDb).toBeCloseTo(HALF_OFF_DB, 2);
    expect(cmp.outputAgreement.worstOutput).toBe('offsets');
    const same = await compareModels(twoHeads(1), twoHeads(1), [], { x }, { samples: 4, offset: 0 });
    expect(same.outputAgreement.sqnrDb).toBe(Infinity);
  });

  it('the target search scores (referenceOutputs + scoreSession) see the second head too', async () => {
    const reference = await referenceOutputs(serializeModel(twoHeads(1)), { x }, 4, 2);
    expect(reference).toHaveLength(2);
    expect(reference[0]!.others?.map((o) => o.name)).toEqual(['offsets']);
    const shared = { reference, evalInputs: { x }, samples: 4, batchSize: 2 } as unknown as AnalysisShared;
    const s = await createSession(serializeModel(twoHeads(1.5)), { device: 'cpu', source: 'two heads' });
    try {
      const r = await scoreSession(s, shared);
      expect(r.sqnrDb).toBeCloseTo(HALF_OFF_DB, 2);
      expect(r.worstOutput).toBe('offsets');
    } finally {
      await s.release();
    }
  });
});
