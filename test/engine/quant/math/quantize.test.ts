import { describe, it, expect } from 'vitest';
import { quantizeTensor, dequantizeTensor, quantizeValues, fakeQuantize } from '../../../../engine/quant/math/quantize';
import { paramLayout, forEachElementParam } from '../../../../engine/quant/math/layout';
import { computeQParams } from '../../../../engine/quant/math/qparams';
import { weightAxes } from '../../../../engine/core/ops';
import { paramTensors, onnxDataTypeOf } from '../../../../engine/quant/math/storage';
import { sqnrDb } from '../../../../engine/quant/math/metrics';
import { loadModel } from '../../../../engine/onnx/model-io';
import { tensorToFloat32, tensorDims, tensorToTypedArray, DataType } from '../../../../engine/onnx/tensor';
import { models } from '../../../helpers/shared';

describe('quantize / dequantize', () => {
  it('saturates at the dtype bounds and maps NaN to qmin (as onnxruntime does; nan-quantize.test.ts)', () => {
    const p = computeQParams(-1, 1, { dtype: 'int8', scheme: 'symmetric' });
    const q = quantizeValues([1e9, -1e9, 2, -2, NaN], [5], p);
    expect(Array.from(q)).toEqual([127, -128, 127, -128, -128]);
  });

  it('opset-21 blocked layout: parameter shape and element -> block index', () => {
    // x [2, 5], axis 1, block 2 -> params [2, 3]; column 4 sits in the short last block
    const L = paramLayout([2, 5], 1, 2);
    expect(L.paramDims).toEqual([2, 3]);
    expect([0, 1, 2, 3, 4, 5, 6, 9].map(L.indexOf)).toEqual([0, 0, 1, 1, 2, 3, 3, 5]);
    // axis 0 of [5, 3] with block 2 -> params [3, 3]
    const L0 = paramLayout([5, 3], 0, 2);
    expect(L0.paramDims).toEqual([3, 3]);
    expect([0, 1, 2, 3, 6, 12, 14].map(L0.indexOf)).toEqual([0, 1, 2, 0, 3, 6, 8]);
    // per axis on [2, 3, 4] axis 1
    expect([0, 4, 11, 12, 23].map(paramLayout([2, 3, 4], 1).indexOf)).toEqual([0, 1, 2, 0, 2]);
    // the fast visitor agrees with indexOf everywhere
    for (const [dims, axis, bs] of [[[3, 7, 5], 1, 3], [[3, 7, 5], 2, 2], [[4, 6], 0, undefined], [[4, 6], 1, 4], [[2, 3, 4, 5], 0, 2], [[9], undefined, undefined]] as const) {
      const L = paramLayout(dims, axis, bs);
      const seen: number[] = [];
      forEachElementParam(dims, axis, bs, (i, p) => { seen.push(i); expect(p).toBe(L.indexOf(i)); });
      expect(seen).toEqual(Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => i));
    }
  });

  it('per-group quantization gives each block its own range (hand-checked)', () => {
    const x = Float32Array.from([1, -2, 100, 50, 0.5]);
    const { q, params } = quantizeTensor(x, [1, 5], { dtype: 'int8', scheme: 'symmetric', granularity: { group: 2 }, axis: 1 });
    expect(params.blockSize).toBe(2);
    expect(Array.from(params.scale)).toEqual([Math.fround(2 / 127), Math.fround(100 / 127), Math.fround(0.5 / 127)]);
    expect(Array.from(q)).toEqual([64, -127, 127, 64, 127]); // 1/(2/127)=63.5 -> 64 (tie to even)
  });

  it('per-channel on a real Conv weight is far better than per-tensor, and dequant is within half a step', async () => {
    const { model } = await loadModel(models.cnn);
    const g = model.graph!;
    const conv = g.node.find((n) => n.opType === 'Conv')!;
    const wt = g.initializer.find((t) => t.name === conv.input[1])!;
    const w = tensorToFloat32(wt), dims = tensorDims(wt);
    const { channelAxis } = weightAxes('Conv', dims.length);
    const perT = quantizeTensor(w, dims, { dtype: 'int4', scheme: 'symmetric', granularity: 'tensor' });
    const perC = quantizeTensor(w, dims, { dtype: 'int4', scheme: 'symmetric', granularity: 'channel', axis: channelAxis! });
    expect(perC.params.scale.length).toBe(dims[0]);
    const errT = sqnrDb(w, dequantizeTensor(perT.q, dims, perT.params));
    const errC = sqnrDb(w, dequantizeTensor(perC.q, dims, perC.params));
    expect(errC).toBeGreaterThan(errT); // per channel is never worse on a real conv weight
    const back = fakeQuantize(w, dims, perC.params);
    const inner = w.length / dims[0]!;
    for (let i = 0; i < w.length; i++) {
      const s = perC.params.scale[Math.floor(i / inner)]!;
      expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(s / 2 + 1e-7);
    }
  });

  it('int8 per-channel round trip SQNR on the CNN weights is high (> 35 dB)', async () => {
    const { model } = await loadModel(models.cnn);
    for (const t of model.graph!.initializer.filter((t) => t.dims.length >= 2)) {
      const w = tensorToFloat32(t), dims = tensorDims(t);
      const { q, params } = quantizeTensor(w, dims, { dtype: 'int8', scheme: 'symmetric', granularity: 'channel', axis: 0, name: t.name });
      expect(sqnrDb(w, dequantizeTensor(q, dims, params)), t.name).toBeGreaterThan(35);
    }
  });

  it('builds scale / zero-point tensors in the ONNX layout, int3 in an INT4 container', () => {
    const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * (i + 1));
    const dims = [4, 6];
    const { params } = quantizeTensor(x, dims, { dtype: 'int3', scheme: 'asymmetric', granularity: { group: 4 }, axis: 1 });
    const { scale, zeroPoint } = paramTensors('W', params, dims);
    expect(tensorDims(scale)).toEqual([4, 2]);
    expect(zeroPoint.dataType).toBe(DataType.INT4);
    expect(onnxDataTypeOf('int3')).toBe(DataType.INT4);
    expect(Array.from(tensorToTypedArray(zeroPoint) as Int8Array)).toEqual(Array.from(params.zeroPoint));
    for (const z of params.zeroPoint) { expect(z).toBeGreaterThanOrEqual(-4); expect(z).toBeLessThanOrEqual(3); }
  });

  it('rejects mismatched shapes and parameter counts, naming the tensor', () => {
    const p = computeQParams([0, 0], [1, 1], { dtype: 'uint8', scheme: 'asymmetric', axis: 0 });
    expect(() => quantizeValues([1, 2, 3], [2, 2], p, 'fc.weight')).toThrow(/fc\.weight.* has 3 values/);
    expect(() => quantizeValues([1, 2, 3], [3], p, 'fc.weight')).toThrow(/2 scales.*expected 3/);
    expect(() => quantizeTensor([1], [1], { dtype: 'int8', scheme: 'symmetric', granularity: 'channel', name: 'b' })).toThrow(/needs an axis/);
  });
});
