// Residual joins in the QDQ plan: Add of two quantized branches gets its own Q (ORT: QLinearAdd), a
// Concat of quantized branches shares one scale with its output, and the result still matches FP32.
import { describe, it, expect } from 'vitest';
import { serializeModel } from '../../../engine/onnx/model-io';
import { tensorToFloat32 } from '../../../engine/onnx/tensor';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { planQdq } from '../../../engine/export/qdq-plan';
import { rewriteQdq } from '../../../engine/export/qdq-rewrite';
import { joinsModel, rng } from '../../fixtures/joins-model';
import { runCalibration } from '../../../engine/quant/calibration/run-calibration';
import { createSession } from '../../../engine/runtime/session';
import { feedsFor } from '../../../engine/runtime/batching';
import { compareTensors } from '../../../engine/eval/agreement';

describe('QDQ residual joins', () => {
  it('shares one scale across a Concat, quantizes an Add of quantized branches, stays close to FP32', async () => {
    const m = joinsModel();
    const r = rng(3);
    const x = { dtype: 'float32' as const, shape: [16, 4, 8, 8], data: Float32Array.from({ length: 16 * 256 }, () => r() * 2) };
    const s0 = await createSession(serializeModel(m), { device: 'cpu' });
    const ref = await s0.run(feedsFor({ x }, 0, 16));
    const recipe = parseRecipe({});
    const plan = planQdq(m, recipe);
    expect(plan.activations.get('ar')).toBe('cat');
    expect(plan.activations.get('br')).toBe('cat');
    expect(plan.activations.get('sum')).toBe('sum');
    const cal = await runCalibration(m, plan.calibrate, { x }, { samples: 16, batchSize: 8 });
    const ranges = new Map([...cal.stats].map(([t, s]) => [t, { min: s.rangeMin, max: s.rangeMax }]));
    const { dequantized } = rewriteQdq(m, plan, ranges, recipe);
    const scaleOf = (t: string) => { const dq = m.graph!.node.find((n) => n.output[0] === dequantized.get(t))!; return tensorToFloat32(m.graph!.initializer.find((i) => i.name === dq.input[1])!)[0]; };
    expect(scaleOf('ar')).toBe(scaleOf('cat'));
    expect(scaleOf('br')).toBe(scaleOf('cat'));
    expect(m.graph!.node.filter((n) => n.opType === 'Relu').length).toBe(0); // both folded: all Concat inputs are Relu outputs
    const s1 = await createSession(serializeModel(m), { device: 'cpu' });
    const q = await s1.run(feedsFor({ x }, 0, 16));
    expect(compareTensors(ref.y!.data as Float32Array, q.y!.data as Float32Array).sqnrDb).toBeGreaterThan(25);
    expect(compareTensors(ref.z!.data as Float32Array, q.z!.data as Float32Array).sqnrDb).toBeGreaterThan(25);
    await s0.release(); await s1.release();
  });
});
