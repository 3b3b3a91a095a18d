// Every op's backward rule against finite differences (float32 ORT; tolerances in grad-check.ts).
import { describe, it, expect } from 'vitest';
import { DataType } from '../../../engine/onnx/proto';
import { attr } from '../../../engine/qat/onnx-build';
import { buildTrainingGraph } from '../../../engine/qat/backward';
import { ort } from '../../../engine/runtime/session';
import { gradCheck, tinyModel, node, rng, randn, DIRECTIONAL_RTOL, COORD_ATOL, type Init } from './grad-check';

const r = rng(42);
const X = randn(r, 2 * 6);
const feedsX = { x: new ort.Tensor('float32', X, [2, 6]) };
const P0: Init = { name: 'p0', dims: [6, 8], data: randn(r, 48, 0.6) };
const lin = node('MatMul', ['x', 'p0'], ['h']);
const c = (name: string, dims: number[], values: number[] | Float32Array): Init => ({ name, dims, data: Float32Array.from(values) });
const i64 = (name: string, values: number[]): Init => ({ name, dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });

async function expectGradsMatch(model: ReturnType<typeof tinyModel>, feeds: Record<string, ort.Tensor>, params: string[], eps?: number) {
  const res = await gradCheck(model, feeds, params, { eps });
  const { analytic, numeric } = res.directional;
  expect(Number.isFinite(analytic)).toBe(true);
  expect(Math.abs(analytic)).toBeGreaterThan(1e-4); // the check must see a real gradient
  expect(Math.abs(analytic - numeric)).toBeLessThanOrEqual(DIRECTIONAL_RTOL * Math.max(Math.abs(numeric), 1e-2));
  expect(res.worstCoord).toBeLessThanOrEqual(COORD_ATOL);
  for (const p of params) expect(res.grads.get(p)!.some((v) => v !== 0)).toBe(true);
  return res;
}

describe('QAT backward rules vs finite differences', () => {
  it('elementwise activations: Relu, Sigmoid, Tanh, Exp, Neg, Sqrt, Log', async () => {
    const m = tinyModel([
      lin,
      node('Relu', ['h'], ['a']), node('Sigmoid', ['h'], ['b']), node('Tanh', ['h'], ['t']), node('Exp', ['b'], ['e']), node('Neg', ['t'], ['n']),
      node('Mul', ['h', 'h'], ['hh']), node('Add', ['hh', 'one'], ['hp']), node('Sqrt', ['hp'], ['sq']), node('Log', ['hp'], ['lg']),
      node('Sum', ['a', 'e', 'n'], ['s1']), node('Add', ['s1', 'sq'], ['s2']), node('Sub', ['s2', 'lg'], ['y']),
    ], [{ name: 'x', dims: [2, 6] }], [P0, c('one', [], [1])], 'y');
    await expectGradsMatch(m, feedsX, ['p0']);
  });

  it('Relu, Sigmoid, Tanh, Exp, Neg, Sqrt, Log chained with Add/Sub', async () => {
    const m = tinyModel([
      lin,
      node('Relu', ['h'], ['a']), node('Sigmoid', ['h'], ['b']), node('Tanh', ['h'], ['t']), node('Exp', ['b'], ['e']), node('Neg', ['t'], ['n']),
      node('Mul', ['h', 'h'], ['hh']), node('Add', ['hh', 'one'], ['hp']), node('Sqrt', ['hp'], ['sq']), node('Log', ['hp'], ['lg']),
      node('Add', ['a', 'e'], ['s0']), node('Add', ['s0', 'n'], ['s1']), node('Add', ['s1', 'sq'], ['s2']), node('Sub', ['s2', 'lg'], ['y']),
    ], [{ name: 'x', dims: [2, 6] }], [P0, c('one', [], [1])], 'y');
    await expectGradsMatch(m, feedsX, ['p0']);
  });

  it('GELU, Erf form: 0.5·x·(1 + erf(x/√2))', async () => {
    const m = tinyModel([
      lin, node('Div', ['h', 'sqrt2'], ['d']), node('Erf', ['d'], ['e']), node('Add', ['e', 'one'], ['e1']), node('Mul', ['h', 'e1'], ['m']), node('Mul', ['m', 'half'], ['y']),
    ], [{ name: 'x', dims: [2, 6] }], [P0, c('sqrt2', [], [Math.SQRT2]), c('one', [], [1]), c('half', [], [0.5])], 'y');
    await expectGradsMatch(m, feedsX, ['p0']);
  });

  it('GELU, Tanh form with Pow: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))', async () => {
    const m = tinyModel([
      lin, node('Pow', ['h', 'three'], ['p']), node('Mul', ['p', 'k'], ['pk']), node('Add', ['h', 'pk'], ['in']), node('Mul', ['in', 'c'], ['ic']),
      node('Tanh', ['ic'], ['t']), node('Add', ['t', 'one'], ['t1']), node('Mul', ['h', 't1'], ['m']), node('Mul', ['half', 'm'], ['y']),
    ], [{ name: 'x', dims: [2, 6] }], [P0, c('three', [], [3]), c('k', [], [0.044715]), c('c', [], [Math.sqrt(2 / Math.PI)]), c('one', [], [1]), c('half', [], [0.5])], 'y');
    await expectGradsMatch(m, feedsX, ['p0']);
  });

  it('Add/Sub/Mul/Div with broadcast parameters', async () => {
    const m = tinyModel([
      lin, node('Add', ['h', 'b1'], ['a']), node('Sub', ['b2', 'a'], ['s']), node('Mul', ['s', 'b3'], ['mu']), node('Div', ['mu', 'b4'], ['d']), node('Div', ['one', 'b4'], ['inv']), node('Add', ['d', 'inv'], ['y']),
    ], [{ name: 'x', dims: [2, 6] }], [P0, c('b1', [8], randn(r, 8)), c('b2', [1, 8], randn(r, 8)), c('b3', [2, 1], randn(r, 2)), c('b4', [8], Float32Array.from(randn(r, 8), (v) => 1.5 + Math.abs(v))), c('one', [], [1])], 'y');
    await expectGradsMatch(m, feedsX, ['p0', 'b1', 'b2', 'b3', 'b4']);
  });

  it('Softmax and LogSoftmax', async () => {
    const m = tinyModel([
      lin, node('Softmax', ['h'], ['s'], [attr.i('axis', -1)]), node('Mul', ['s', 'k'], ['sk']), node('LogSoftmax', ['h'], ['l'], [attr.i('axis', 0)]), node('Add', ['sk', 'l'], ['y']),
    ], [{ name: 'x', dims: [2, 6] }], [P0, c('k', [], [4])], 'y');
    await expectGradsMatch(m, feedsX, ['p0']);
  });

  it('LayerNormalization (scale, bias, input)', async () => {
    const m = tinyModel([
      lin, node('LayerNormalization', ['h', 'g', 'b'], ['y'], [attr.i('axis', -1), attr.f('epsilon', 1e-5)]),
    ], [{ name: 'x', dims: [2, 6] }], [P0, c('g', [8], Float32Array.from(randn(r, 8), (v) => 1 + 0.3 * v)), c('b', [8], randn(r, 8, 0.2))], 'y');
    await expectGradsMatch(m, feedsX, ['p0', 'g', 'b']);
  });

  it('Gemm: transB, alpha/beta, bias; and transA', async () => {
    const m = tinyModel([
      node('Gemm', ['x', 'w', 'bias'], ['g1'], [attr.i('transB', 1), attr.f('alpha', 0.7), attr.f('beta', 1.3)]),
      node('Transpose', ['g1'], ['g1t'], [attr.ints('perm', [1, 0])]),
      node('Gemm', ['g1t', 'w2'], ['y'], [attr.i('transA', 1)]),
    ], [{ name: 'x', dims: [2, 6] }], [c('w', [8, 6], randn(r, 48, 0.5)), c('bias', [8], randn(r, 8)), c('w2', [8, 5], randn(r, 40, 0.5))], 'y');
    await expectGradsMatch(m, feedsX, ['w', 'bias', 'w2']);
  });

  it('attention-like batched MatMul, Reshape, Transpose, Softmax, Where mask', async () => {
    const m = tinyModel([
      node('MatMul', ['x3', 'wq'], ['q']), node('MatMul', ['x3', 'wk'], ['k']), node('MatMul', ['x3', 'wv'], ['v']),
      node('Reshape', ['q', 'shp'], ['q4']), node('Transpose', ['q4'], ['qh'], [attr.ints('perm', [0, 2, 1, 3])]),
      node('Reshape', ['k', 'shp'], ['k4']), node('Transpose', ['k4'], ['kt'], [attr.ints('perm', [0, 2, 3, 1])]),
      node('Reshape', ['v', 'shp'], ['v4']), node('Transpose', ['v4'], ['vh'], [attr.ints('perm', [0, 2, 1, 3])]),
      node('MatMul', ['qh', 'kt'], ['att']), node('Where', ['mask', 'neg', 'att'], ['attm']), node('Softmax', ['attm'], ['p'], [attr.i('axis', -1)]),
      node('MatMul', ['p', 'vh'], ['o']), node('Transpose', ['o'], ['ot'], [attr.ints('perm', [0, 2, 1, 3])]), node('Reshape', ['ot', 'shp2'], ['y']),
    ], [{ name: 'x3', dims: [2, 3, 4] }, { name: 'mask', dims: [3, 3], type: DataType.BOOL }],
    [c('wq', [4, 4], randn(r, 16)), c('wk', [4, 4], randn(r, 16)), c('wv', [4, 4], randn(r, 16)), i64('shp', [2, 3, 2, 2]), i64('shp2', [2, 3, 4]), c('neg', [], [-1e4])], 'y');
    const mask = new ort.Tensor('bool', Uint8Array.from([0, 1, 1, 0, 0, 1, 0, 0, 0]), [3, 3]);
    await expectGradsMatch(m, { x3: new ort.Tensor('float32', randn(r, 24), [2, 3, 4]), mask }, ['wq', 'wk', 'wv']);
  });

  const img = new ort.Tensor('float32', randn(rng(5), 2 * 2 * 7 * 7), [2, 2, 7, 7]);
  const convInits = () => [c('w1', [3, 2, 3, 3], randn(r, 54, 0.4)), c('b1', [3], randn(r, 3, 0.1)), c('w2', [4, 3, 3, 3], randn(r, 108, 0.3)), c('b2', [4], randn(r, 4, 0.1)), c('wf', [4, 5], randn(r, 20))];

  it('Conv (pads, stride 2, dilation) + Relu + GlobalAveragePool + Flatten + Gemm', async () => {
    const m = tinyModel([
      node('Conv', ['img', 'w1', 'b1'], ['c1'], [attr.ints('pads', [1, 1, 1, 1])]), node('Relu', ['c1'], ['r1']),
      node('Conv', ['r1', 'w2', 'b2'], ['c2'], [attr.ints('pads', [1, 0, 1, 0]), attr.ints('strides', [2, 2]), attr.ints('dilations', [1, 2])]),
      node('GlobalAveragePool', ['c2'], ['gp']), node('Flatten', ['gp'], ['f']), node('Gemm', ['f', 'wf'], ['y']),
    ], [{ name: 'img', dims: [2, 2, 7, 7] }], convInits(), 'y');
    await expectGradsMatch(m, { img }, ['w1', 'b1', 'w2', 'b2', 'wf']);
  });

  it('MaxPool (2x2 stride 2, and overlapping 3x3 stride 1 pad 1), AveragePool, Concat, Squeeze/Unsqueeze', async () => {
    const m = tinyModel([
      node('Conv', ['img', 'w1', 'b1'], ['c1'], [attr.ints('pads', [1, 1, 1, 1])]),
      node('MaxPool', ['c1'], ['m1'], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])]),
      node('MaxPool', ['c1'], ['m2'], [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [1, 1]), attr.ints('pads', [1, 1, 1, 1])]),
      node('AveragePool', ['m2'], ['a2'], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])]),
      node('Concat', ['m1', 'a2'], ['cc'], [attr.i('axis', 1)]),
      node('Unsqueeze', ['cc', 'ax0'], ['u']), node('Squeeze', ['u', 'ax0'], ['sq']),
      node('Flatten', ['sq'], ['y']),
    ], [{ name: 'img', dims: [2, 2, 7, 7] }], [...convInits().slice(0, 2), i64('ax0', [0])], 'y');
    // Max over overlapping windows is piecewise linear: a smaller step keeps the probe off the kinks.
    await expectGradsMatch(m, { img }, ['w1', 'b1'], 1e-3);
  });

  it('frozen BatchNormalization, Split, Identity', async () => {
    const m = tinyModel([
      node('Conv', ['img', 'w1', 'b1'], ['c1']),
      node('BatchNormalization', ['c1', 'g', 'be', 'mu', 'var'], ['bn']),
      node('Split', ['bn', 'sp'], ['s1', 's2'], [attr.i('axis', 1)]), node('Identity', ['s2'], ['i2']),
      node('Mul', ['s1', 'two'], ['s1b']), node('Concat', ['i2', 's1b'], ['cc'], [attr.i('axis', 1)]),
      node('GlobalAveragePool', ['cc'], ['gp']), node('Flatten', ['gp'], ['y']),
    ], [{ name: 'img', dims: [2, 2, 7, 7] }], [...convInits().slice(0, 2), c('g', [3], [1.2, 0.8, 1.5]), c('be', [3], [0.1, -0.2, 0.3]), c('mu', [3], [0.05, 0.1, -0.1]), c('var', [3], [0.5, 1.5, 2]), i64('sp', [1, 2]), c('two', [], [2])], 'y');
    await expectGradsMatch(m, { img }, ['w1', 'b1']);
  });

  it('Gather embedding with repeated ids', async () => {
    const m = tinyModel([
      node('Gather', ['table', 'ids'], ['e']), node('Reshape', ['e', 'shp'], ['y']),
    ], [{ name: 'ids', dims: [2, 3], type: DataType.INT64 }], [c('table', [5, 4], randn(r, 20)), i64('shp', [2, 12])], 'y');
    const res = await expectGradsMatch(m, { ids: new ort.Tensor('int64', BigInt64Array.from([1n, 3n, 1n, 4n, 0n, 1n]), [2, 3]) }, ['table']);
    // Row 2 is never looked up: its gradient is exactly zero.
    expect(Array.from(res.grads.get('table')!.subarray(8, 12))).toEqual([0, 0, 0, 0]);
  });

  it('an op without a backward rule fails naming the node and op type', async () => {
    const m = tinyModel([lin, node('Cos', ['h'], ['y'])], [{ name: 'x', dims: [2, 6] }], [P0], 'y');
    await expect(gradCheck(m, feedsX, ['p0'])).rejects.toThrow(/node '"Cos_y"' \(Cos\): no backward rule/);
  });

  it('grouped Conv weight gradients are refused with a clear message', async () => {
    const m = tinyModel([node('Conv', ['img', 'wg'], ['y0'], [attr.i('group', 2)]), node('Flatten', ['y0'], ['y'])], [{ name: 'img', dims: [2, 2, 7, 7] }], [c('wg', [2, 1, 3, 3], randn(r, 18))], 'y');
    await expect(gradCheck(m, { img }, ['wg'])).rejects.toMatchObject({ code: 'UNSUPPORTED_OP' });
  });

  it('the forward-only graph needs no shapes and keeps the model outputs', () => {
    const m = tinyModel([lin, node('Relu', ['h'], ['y'])], [{ name: 'x', dims: [2, 6] }], [P0], 'y');
    const tg = buildTrainingGraph(m, { params: ['p0'], activations: [{ tensor: 'h', qmin: 0, qmax: 15 }], backward: false });
    expect(tg.model.graph!.input.map((i) => i.name)).toEqual(['x', 'p0', 'qat.scale:h', 'qat.zp:h']);
    expect(tg.model.graph!.output.map((o) => o.name)).toEqual(['y']);
  });
});
