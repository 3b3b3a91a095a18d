import { describe, it, expect } from 'vitest';
import { loadModel, serializeModel } from '../../../engine/onnx/model-io';
import { clone, ModelProtoSchema, type ModelProto } from '../../../engine/onnx/proto';
import { tensorToFloat32 } from '../../../engine/onnx/tensor';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { planQdq } from '../../../engine/export/qdq-plan';
import { rewriteQdq } from '../../../engine/export/qdq-rewrite';
import { runCalibration } from '../../../engine/quant/calibration/run-calibration';
import { readTextWindows } from '../../../engine/data/text-windows';
import { createSession } from '../../../engine/runtime/session';
import { feedsFor } from '../../../engine/runtime/batching';
import { compareTensors } from '../../../engine/eval/agreement';
import { models, sharedPath } from '../../helpers/shared';

const train = readTextWindows(sharedPath('data', 'text', 'train.txt'), 8, 256);
const val = readTextWindows(sharedPath('data', 'text', 'val.txt'), 2, 256);

async function logits(model: ModelProto): Promise<Float32Array> {
  const s = await createSession(serializeModel(model), { device: 'cpu', threads: 1 });
  try { return (await s.run(feedsFor({ input_ids: val }, 0, 2)))[s.outputNames[0]!]!.data as Float32Array; } finally { await s.release(); }
}

describe('attention score scale in the QDQ export', async () => {
  const { model } = await loadModel(models.gpt);

  it('folds Mul(Q·Kᵀ, 1/sqrt(d)) into the scale of a DequantizeLinear of Q, output unchanged', async () => {
    const m = clone(ModelProtoSchema, model);
    const recipe = parseRecipe({ opTypes: ['MatMul'] });
    const plan = planQdq(m, recipe);
    const cal = await runCalibration(m, plan.calibrate, { input_ids: train }, { samples: 8, batchSize: 8 });
    const ranges = new Map([...cal.stats].map(([t, s]) => [t, { min: s.rangeMin, max: s.rangeMax }]));
    const scores = model.graph!.node.filter((n) => n.opType === 'MatMul' && /^\/blocks\.\d+\/MatMul$/.test(n.name));
    expect(scores.length).toBe(6);
    rewriteQdq(m, plan, ranges, recipe);
    const g = m.graph!;
    const inits = new Map(g.initializer.map((t) => [t.name, t]));
    for (const s of scores) {
      const mm = g.node.find((n) => n.name === s.name)!;
      // The MatMul now writes what the Mul wrote; the Mul is gone.
      const mul = model.graph!.node.find((n) => n.input.includes(s.output[0]!))!;
      expect(mul.opType).toBe('Mul');
      expect(mm.output[0]).toBe(mul.output[0]);
      expect(g.node.some((n) => n.name === mul.name)).toBe(false);
      const dq = g.node.find((n) => n.output[0] === mm.input[0])!;
      const q = g.node.find((n) => n.output[0] === dq.input[0])!;
      expect(q.opType).toBe('QuantizeLinear');
      const c = tensorToFloat32(model.graph!.node.find((n) => n.output[0] === mul.input.find((i) => i !== s.output[0]))!.attribute[0]!.t!)[0]!;
      const sq = tensorToFloat32(inits.get(q.input[1]!)!)[0]!, sdq = tensorToFloat32(inits.get(dq.input[1]!)!)[0]!;
      expect(sdq).toBeCloseTo(Math.fround(sq * c), 12);
    }
    const err = compareTensors(await logits(model), await logits(m));
    expect(err.sqnrDb).toBeGreaterThan(20);
  });
});
