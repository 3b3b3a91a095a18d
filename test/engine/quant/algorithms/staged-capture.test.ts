// Staged capture against a direct computation: the activation exposed as a graph output, XᵀX, max|x|
// and Σ|x| computed in JS. Covers the one-Gemm and the blocked-symmetric Gram paths and frontier reuse.
import { describe, it, expect } from 'vitest';
import { ort, openSession } from '../../../helpers/ort';
import { clone, create, ModelProtoSchema, ValueInfoProtoSchema, toBinary } from '../../../../engine/onnx/proto';
import { StagedCapture } from '../../../../engine/quant/algorithms/staged-capture';
import { findLinearLayers, stageLayers } from '../../../../engine/quant/algorithms/linear-layers';
import { buildLlamaFixture } from './llama-fixture';
import { textWindows } from './lm-helpers';
import { models, hasShared } from '../../../helpers/shared';
import { loadModel } from '../../../../engine/onnx/model-io';

describe('StagedCapture', () => {
  it('matches XᵀX, max|X| and Σ|X| of the exposed activations, stage after stage', async () => {
    const { model, seq } = buildLlamaFixture({ hidden: 512, layers: 2 });
    const data = textWindows('train.txt', 6, seq);
    const all = data.data as BigInt64Array;
    const batches = [0, 3].map((s) => ({ input_ids: new ort.Tensor('int64', all.slice(s * seq, (s + 3) * seq), [3, seq]) }));
    const layers = findLinearLayers(model, { opTypes: ['MatMul'], exclude: [] });
    const stages = stageLayers(model, layers);
    expect(stages.length).toBe(9);
    const cap = new StagedCapture(model, undefined, { batches, overrides: new Map() });
    const captured = new Map<string, Awaited<ReturnType<typeof cap.capture>> extends Map<string, infer V> ? V : never>();
    for (const st of stages) for (const [k, v] of await cap.capture([...new Set(st.flatMap((l) => l.inputs))], { gram: true })) captured.set(k, v);

    const exposed = clone(ModelProtoSchema, model);
    const names = [...captured.keys()];
    exposed.graph!.output.push(...names.map((name) => create(ValueInfoProtoSchema, { name })));
    const s = await openSession(toBinary(ModelProtoSchema, exposed));
    const res = await s.run({ input_ids: new ort.Tensor('int64', all, [6, seq]) });
    await s.release();
    const REL_TOL = 1e-4;
    for (const name of names) {
      const x = res[name]!.data as Float32Array;
      const st = captured.get(name)!;
      const K = st.cols, n = x.length / K;
      expect(st.count).toBe(n);
      for (const [i, j] of [[0, 0], [1, K - 1], [K - 1, 2], [K >> 1, K >> 2], [K - 1, K - 1]] as const) {
        let g = 0;
        for (let r = 0; r < n; r++) g += x[r * K + i]! * x[r * K + j]!;
        expect(Math.abs(st.gram![i * K + j]! - g)).toBeLessThanOrEqual(REL_TOL * (Math.abs(g) + st.gram![i * K + i]!));
      }
      let mx = 0, sum = 0;
      for (let r = 0; r < n; r++) { mx = Math.max(mx, Math.abs(x[r * K + 3]!)); sum += Math.abs(x[r * K + 3]!); }
      expect(st.absMax[3]).toBeCloseTo(mx, 4);
      expect(Math.abs(st.absSum[3]! - sum)).toBeLessThan(REL_TOL * sum + 1e-6);
    }
    expect(captured.get(layers.find((l) => l.nodes[0]!.name === '/layers.1/down/MatMul')!.inputs[0]!)!.cols).toBe(512); // blocked path
  });

  it('gives the same Gram and row count without the |X| reductions (what GPTQ asks for)', async () => {
    const { model, seq } = buildLlamaFixture({ hidden: 512, layers: 1 });
    const all = textWindows('train.txt', 4, seq).data as BigInt64Array;
    const batches = [0, 2].map((s) => ({ input_ids: new ort.Tensor('int64', all.slice(s * seq, (s + 2) * seq), [2, seq]) }));
    const stages = stageLayers(model, findLinearLayers(model, { opTypes: ['MatMul'], exclude: [] }));
    const full = new StagedCapture(model, undefined, { batches, overrides: new Map() });
    const lean = new StagedCapture(model, undefined, { batches, overrides: new Map() });
    for (const st of stages) {
      const targets = [...new Set(st.flatMap((l) => l.inputs))];
      const a = await full.capture(targets, { gram: true });
      const b = await lean.capture(targets, { gram: true, absMax: false, absSum: false });
      for (const t of targets) {
        expect(b.get(t)!.count).toBe(a.get(t)!.count);
        expect(b.get(t)!.gram).toEqual(a.get(t)!.gram);
        expect(b.get(t)!.absMax.every((v) => v === 0)).toBe(true);
        expect(a.get(t)!.absMax.some((v) => v > 0)).toBe(true);
      }
    }
    expect(lean.passes.length).toBe(stages.length);
  });

  it.skipIf(!hasShared)('runs moby-gpt\'s tanh-GELUs as FastGelu: the MLP input\'s Gram matches the nine-node form', async () => {
    const { model, baseDir } = await loadModel(models.gpt);
    const all = textWindows('train.txt', 2).data as BigInt64Array;
    const batches = [{ input_ids: new ort.Tensor('int64', all, [2, all.length / 2]) }];
    const stages = stageLayers(model, findLinearLayers(model, { opTypes: ['MatMul'], exclude: [] })).slice(0, 4);
    const grams: Float64Array[] = [];
    for (const fuseGelu of [false, true]) {
      const cap = new StagedCapture(model, baseDir, { batches, overrides: new Map(), fuseGelu });
      let last: Float64Array | undefined;
      for (const st of stages) {
        const targets = [...new Set(st.flatMap((l) => l.inputs))];
        last = (await cap.capture(targets, { gram: true, absMax: false, absSum: false })).get(targets[0]!)!.gram;
      }
      grams.push(last!);
    }
    expect(grams[0]!.length).toBe(1280 * 1280);
    let maxDiag = 0, maxDiff = 0;
    for (let i = 0; i < 1280; i++) maxDiag = Math.max(maxDiag, grams[0]![i * 1280 + i]!);
    for (let i = 0; i < grams[0]!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(grams[0]![i]! - grams[1]![i]!));
    expect(maxDiff).toBeLessThan(1e-4 * maxDiag);
    expect(maxDiff).toBeGreaterThan(0); // the fused pass did run a different kernel
  });
});
