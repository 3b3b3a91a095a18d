// The target search's CPU-latency step (engine/analysis/cpu-latency.ts over engine/core/ort-cpu-costs.ts):
// a depthwise Conv, whose int8 kernel onnxruntime's CPU provider runs slower than float, is left float
// even though int8 meets the target; and no exported node keeps an int8 weight under a float input.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, DataType, type NodeProto, type ModelProto } from '../../../engine/onnx/proto';
import { makeTensor } from '../../../engine/onnx/tensor';
import { saveModel, loadModel, serializeModel } from '../../../engine/onnx/model-io';
import { createSession } from '../../../engine/runtime/session';
import { attr, valueInfo } from '../../../engine/qat/onnx-build';
import { seededRandom } from '../../../engine/util/seeded-random';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { quantizeModel } from '../../../engine/pipeline/quantize';
import { formatSummary } from '../../../engine/cli/summary';
import { latencyRaises, idleActivations, type WeightKernel } from '../../../engine/analysis/cpu-latency';
import { slowerInInt8OnCpu, fusesToIntegerKernel } from '../../../engine/core/ort-cpu-costs';
import { writeSpectralModel, spectra } from './spectral-model';
import type { NpyArray } from '../../../engine/data/npy';

const C = 16, HW = 96;

/**
 * x [N,16,96,96] -> conv1 1x1 -> Relu -> four depthwise 3x3 (+Relu) -> pointwise 1x1 -> Relu -> conv3 1x1 -> y.
 * Mostly a run of depthwise Convs on a large map with few channels: where onnxruntime's int8 depthwise kernel
 * loses most (bench/ort-cpu-op-costs.ts: 3.5x float for 24 channels at 128x128).
 */
async function writeDepthwiseModel(path: string): Promise<void> {
  const rnd = seededRandom(3);
  const w = (name: string, dims: number[], scale: number) => makeTensor(name, DataType.FLOAT, dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (rnd() - 0.5) * scale));
  const node = (opType: string, input: string[], output: string[], name: string, attribute = [] as NodeProto['attribute']) => create(NodeProtoSchema, { opType, input, output, name, attribute });
  const conv = (x: string, y: string, name: string, wn: string, k: number, group = 1) => node('Conv', [x, wn, `${wn}_b`], [y], name, [attr.ints('kernel_shape', [k, k]), attr.ints('pads', k > 1 ? [1, 1, 1, 1] : [0, 0, 0, 0]), attr.i('group', group)]);
  const dws = [1, 2, 3, 4];
  const model: ModelProto = create(ModelProtoSchema, {
    irVersion: 8n, producerName: 'depthwise test fixture', opsetImport: [{ domain: '', version: 17n }],
    graph: create(GraphProtoSchema, {
      name: 'depthwise',
      initializer: [w('w1', [C, C, 1, 1], 0.5), w('w1_b', [C], 0.1), ...dws.flatMap((i) => [w(`wd${i}`, [C, 1, 3, 3], 0.8), w(`wd${i}_b`, [C], 0.1)]), w('wp', [C, C, 1, 1], 0.6), w('wp_b', [C], 0.1), w('w3', [C, C, 1, 1], 0.5), w('w3_b', [C], 0.1)],
      node: [
        conv('x', 'c1', 'conv1', 'w1', 1), node('Relu', ['c1'], ['r0'], 'relu1'),
        ...dws.flatMap((i) => [conv(`r${i - 1}`, `d${i}`, `dw${i}`, `wd${i}`, 3, C), node('Relu', [`d${i}`], [`r${i}`], `relud${i}`)]),
        conv('r4', 'p', 'pw', 'wp', 1), node('Relu', ['p'], ['rp'], 'relup'),
        conv('rp', 'y', 'conv3', 'w3', 1),
      ],
      input: [valueInfo('x', DataType.FLOAT, ['N', C, HW, HW])],
      output: [valueInfo('y', DataType.FLOAT, ['N', C, HW, HW])],
    }),
  });
  await saveModel(model, path);
}

function images(n: number, seed: number): NpyArray {
  const rnd = seededRandom(seed);
  return { dtype: 'float32', shape: [n, C, HW, HW], data: Float32Array.from({ length: n * C * HW * HW }, () => rnd() * 2 - 1) };
}

/** Convs whose weight is dequantized from an integer initializer while their X input is not dequantized (a float activation). */
function weightOnlyConvs(m: ModelProto): string[] {
  const producer = new Map(m.graph!.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  return m.graph!.node.filter((n) => n.opType === 'Conv' && producer.get(n.input[1]!)?.opType === 'DequantizeLinear' && producer.get(n.input[0]!)?.opType !== 'DequantizeLinear').map((n) => n.name);
}
const weightIsQuantized = (m: ModelProto, node: string) => {
  const n = m.graph!.node.find((x) => x.name === node)!;
  return m.graph!.node.some((x) => x.opType === 'DequantizeLinear' && x.output[0] === n.input[1]);
};

describe('target search: CPU latency', () => {
  let dir = '';
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'qlat-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the cost table: depthwise, grouped Conv and ConvTranspose run slower in int8; a Conv needs its output quantized to fuse, MatMul/Gemm do not', () => {
    expect(slowerInInt8OnCpu({ opType: 'Conv', group: 24, inChannels: 24, outChannels: 24 })?.id).toBe('depthwise Conv');
    expect(slowerInInt8OnCpu({ opType: 'Conv', group: 4, inChannels: 48, outChannels: 48 })?.id).toBe('grouped Conv');
    expect(slowerInInt8OnCpu({ opType: 'ConvTranspose', group: 1, inChannels: 32, outChannels: 16 })?.id).toBe('ConvTranspose');
    expect(slowerInInt8OnCpu({ opType: 'Conv', group: 1, inChannels: 24, outChannels: 24 })).toBeUndefined();
    expect(slowerInInt8OnCpu({ opType: 'Gemm', group: 1, inChannels: 96, outChannels: 10 })).toBeUndefined();
    expect(fusesToIntegerKernel('Conv', true, false)).toBe(false);
    expect(fusesToIntegerKernel('Conv', true, true)).toBe(true);
    expect(fusesToIntegerKernel('Gemm', true, false)).toBe(true);
    expect(fusesToIntegerKernel('MatMul', false, true)).toBe(false);
  });

  it('the fusion rule is what onnxruntime does: with a float output, DQ -> MatMul/Gemm become integer kernels, DQ -> Conv stays a float Conv', async () => {
    const node = (opType: string, input: string[], output: string[], name: string) => create(NodeProtoSchema, { opType, input, output, name });
    for (const op of ['MatMul', 'Gemm', 'Conv']) {
      const wd = op === 'Conv' ? [16, 16, 1, 1] : [16, 16];
      const m = create(ModelProtoSchema, {
        irVersion: 8n, opsetImport: [{ domain: '', version: 17n }],
        graph: create(GraphProtoSchema, {
          name: op,
          initializer: [makeTensor('wq', DataType.INT8, wd, new Int8Array(256).fill(3)), makeTensor('ws', DataType.FLOAT, [], Float32Array.of(0.1)), makeTensor('wz', DataType.INT8, [], Int8Array.of(0)), makeTensor('xs', DataType.FLOAT, [], Float32Array.of(0.1)), makeTensor('xz', DataType.UINT8, [], Uint8Array.of(128))],
          node: [node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq'], 'q'), node('DequantizeLinear', ['xq', 'xs', 'xz'], ['xd'], 'dq'), node('DequantizeLinear', ['wq', 'ws', 'wz'], ['w'], 'dqw'), node(op, ['xd', 'w'], ['y'], 'op')],
          input: [valueInfo('x', DataType.FLOAT, op === 'Conv' ? [1, 16, 4, 4] : [4, 16])], output: [valueInfo('y', DataType.FLOAT)],
        }),
      });
      const file = join(dir, `fused-${op}.onnx`);
      const s = await createSession(serializeModel(m), { device: 'cpu', optimizedModelFile: file });
      await s.release();
      const ops = (await loadModel(file)).model.graph!.node.map((n) => n.opType);
      const integer = ops.some((o) => ['MatMulIntegerToFloat', 'QGemm', 'QLinearConv', 'QLinearMatMul'].includes(o));
      expect([op, integer]).toEqual([op, fusesToIntegerKernel(op, true, false)]);
    }
  });

  it('latencyRaises: a slow kernel, a weight under a float input and a Conv with a float output go float; a fused Conv stays', () => {
    const k = (node: string, group: number, input: string, output: string): WeightKernel => ({ node, shape: { opType: 'Conv', group, inChannels: 8, outChannels: 8 }, inputs: [input], output });
    const kernels = new Map([k('dw', 8, 'a', 'b'), k('underFloat', 1, 'x', 'c'), k('floatOut', 1, 'c', 'y'), k('fused', 1, 'b', 'c'), k('dwUnderFloat', 8, 'x', 'a')].map((x) => [x.node, x]));
    const all = new Set(['dw', 'underFloat', 'floatOut', 'fused', 'dwUnderFloat']);
    const raises = latencyRaises(kernels, all, new Set(['a', 'b', 'c']));
    expect(new Map(raises.map((r) => [r.node, r.reason]))).toEqual(new Map([
      ['dw', expect.stringMatching(/^depthwise Conv: int8 runs .*x its float time/)],
      ['underFloat', expect.stringMatching(/no integer kernel: input x float/)],
      ['floatOut', expect.stringMatching(/no integer kernel: output y float/)],
      // Both apply: the reason that holds whatever the timing says comes first.
      ['dwUnderFloat', expect.stringMatching(/no integer kernel: input x float/)],
    ]));
    // Without the table's slow kernels only what no integer kernel takes.
    expect(latencyRaises(kernels, all, new Set(['a', 'b', 'c']), { slowKernels: false }).map((r) => r.node).sort()).toEqual(['dwUnderFloat', 'floatOut', 'underFloat']);
  });

  it('idleActivations: a Q/DQ pair no fused kernel reaches (directly or through an all-quantized Add) is idle', () => {
    const node = (opType: string, input: string[], output: string[], name: string) => create(NodeProtoSchema, { opType, input, output, name });
    const model = create(ModelProtoSchema, { graph: create(GraphProtoSchema, { node: [node('Conv', ['x', 'wa'], ['a'], 'convA'), node('Conv', ['x', 'wb'], ['b'], 'convB'), node('Add', ['a', 'b'], ['s'], 'add'), node('Conv', ['s', 'ws'], ['t'], 'convS'), node('Conv', ['t', 'wt'], ['y'], 'convT')] }) });
    const k = (n: string, input: string, output: string): [string, WeightKernel] => [n, { node: n, shape: { opType: 'Conv', group: 1, inChannels: 8, outChannels: 8 }, inputs: [input], output }];
    const kernels = new Map([k('convA', 'x', 'a'), k('convB', 'x', 'b'), k('convS', 's', 't'), k('convT', 't', 'y')]);
    // Only convS runs as an integer kernel: s and t are its own; a and b reach it through the Add; x only feeds float Convs.
    expect(idleActivations(model, kernels, new Set(['convS']), new Set(['x', 'a', 'b', 's', 't']))).toEqual(['x']);
    // b float: the Add runs in float, so a's pair serves nothing either.
    expect(idleActivations(model, kernels, new Set(['convS']), new Set(['x', 'a', 's', 't'])).sort()).toEqual(['a', 'x']);
    expect(idleActivations(model, kernels, new Set(['convA', 'convS']), new Set(['x', 'a', 's', 't']))).toEqual([]);
  });

  it('by default the target keeps the smallest model: no int8 weight goes float for latency, only Q/DQ pairs that cost no bytes; the latency is still reported', async () => {
    const model = join(dir, 'dw-size.onnx'), out = join(dir, 'dw-size.q.onnx');
    await writeDepthwiseModel(model);
    const recipe = parseRecipe({ calibration: { samples: 16, batchSize: 4 }, target: { metric: 'sqnr', min: 15 } });
    const r = await quantizeModel({ modelPath: model, outputPath: out, recipe, inputs: { x: images(16, 1) }, evalInputs: { x: images(8, 2) } });
    const mp = r.mixedPrecision!;
    expect(mp.met).toBe(true);
    expect(mp.decisions.filter((d) => d.step === 'latency' && d.kind === 'weight')).toEqual([]);
    const q = (await loadModel(out)).model;
    for (const n of ['conv1', 'dw1', 'dw2', 'dw3', 'dw4', 'pw', 'conv3']) expect(weightIsQuantized(q, n)).toBe(true);
    expect(mp.latency!.ratio).toBeGreaterThan(0);
    if (mp.latency!.ratio > 1) expect(mp.notices.join('\n')).toMatch(/"prefer": "latency"/);
  }, 120_000);

  it('depthwise Convs are left float where the model measures faster so, even though int8 meets the target; the output Conv no integer kernel takes goes float; the fused Convs stay int8; the report gives the latency against FP32', async () => {
    const model = join(dir, 'dw.onnx'), out = join(dir, 'dw.q.onnx');
    await writeDepthwiseModel(model);
    const recipe = parseRecipe({ calibration: { samples: 16, batchSize: 4 }, target: { metric: 'sqnr', min: 15, prefer: 'latency' } });
    const r = await quantizeModel({ modelPath: model, outputPath: out, recipe, inputs: { x: images(16, 1) }, evalInputs: { x: images(8, 2) } });
    const mp = r.mixedPrecision!;
    expect(mp.start.metric).toBeGreaterThanOrEqual(15); // fully quantized meets it: only latency moves the depthwise Convs
    expect(mp.met).toBe(true);
    // The slow-kernel candidate was timed against the one with them int8, and its verdict is what was written.
    const verdict = mp.notices.find((n) => n.startsWith('CPU latency with the slow int8 kernels (4) left float'));
    expect(verdict).toMatch(/: ([\d.]+)x FP32 against ([\d.]+)x with them int8: (left float|kept int8)\.$/);
    const [, withFloat, withInt8] = verdict!.match(/: ([\d.]+)x FP32 against ([\d.]+)x/)!.map(Number);
    expect(verdict!.endsWith('left float.')).toBe(withFloat! < withInt8!);
    // On this map (16 channels at 96x96) the float depthwise run is the faster by far.
    expect(verdict).toMatch(/left float\.$/);
    const lat = new Map(mp.decisions.filter((d) => d.step === 'latency' && d.kind === 'weight').map((d) => [d.name, d.reason]));
    for (const n of ['dw1', 'dw2', 'dw3', 'dw4']) expect(lat.get(n)).toMatch(/^depthwise Conv: int8 runs/);
    // conv3 writes the model's output, which stays float (engine/export/qdq-plan.ts): no QLinearConv
    // can take it, so its int8 weight would only be dequantized on every run.
    expect(lat.get('conv3')).toMatch(/no integer kernel: output y float/);
    // Between the float depthwise Convs the Q/DQ pairs serve no integer kernel: left float too.
    expect(mp.assignment.filter((a) => a.kind === 'activation' && a.level === 'float').map((a) => a.name).sort()).toEqual(['r1', 'r2', 'r3']);
    const q = (await loadModel(out)).model;
    for (const n of ['dw1', 'dw2', 'dw3', 'dw4', 'conv3']) expect(weightIsQuantized(q, n)).toBe(false);
    for (const n of ['conv1', 'pw']) expect(weightIsQuantized(q, n)).toBe(true);
    expect(weightOnlyConvs(q)).toEqual([]);
    expect(mp.latency!.ratio).toBeGreaterThan(0);
    expect(mp.latency!.quantizedMs).toBe(mp.latency!.ratio * mp.latency!.fp32Ms);
    expect(formatSummary(r)).toMatch(/latency +node dw1: int8 -> float \(not quantized\) \(depthwise Conv: int8 runs/);
    expect(formatSummary(r)).toMatch(/Latency on onnxruntime's CPU provider: .* ms vs FP32 .* ms = .*x/);
  }, 120_000);

  it('a recipe for "cuda" keeps the accuracy choice: the CPU table and timing are not applied', async () => {
    const model = join(dir, 'dw-cuda.onnx');
    await writeDepthwiseModel(model);
    const recipe = parseRecipe({ device: 'cuda', calibration: { samples: 16, batchSize: 4 }, target: { metric: 'sqnr', min: 15 } });
    const r = await quantizeModel({ modelPath: model, outputPath: join(dir, 'dw-cuda.q.onnx'), recipe, inputs: { x: images(16, 1) }, evalInputs: { x: images(8, 2) } });
    const mp = r.mixedPrecision!;
    expect(mp.decisions.filter((d) => d.step === 'latency')).toEqual([]);
    expect(mp.latency).toBeUndefined();
    expect(mp.notices).toContain('CPU-latency step skipped: the recipe runs on "cuda", and which int8 kernels pay there is not what the CPU table measures.');
    expect(mp.assignment.filter((a) => a.kind === 'weight' && a.level === 'float')).toEqual([]);
  }, 120_000);

  it('an activation the target leaves float takes the weights beside it to float: no int8 weight under a float input in the export', async () => {
    const model = join(dir, 'spectral.onnx'), out = join(dir, 'spectral.q.onnx');
    await writeSpectralModel(model);
    const recipe = parseRecipe({ calibration: { samples: 96, batchSize: 32 }, target: { metric: 'sqnr', min: 30, prefer: 'latency' } });
    const r = await quantizeModel({ modelPath: model, outputPath: out, recipe, inputs: { spectrum: spectra(120, 1) }, evalInputs: { spectrum: spectra(48, 2) } });
    const mp = r.mixedPrecision!;
    expect(mp.final!.met).toBe(true);
    expect(mp.assignment.find((a) => a.name === 'spectrum')!.level).toBe('float');
    const q = (await loadModel(out)).model;
    expect(weightOnlyConvs(q)).toEqual([]);
    const d = mp.decisions.find((x) => x.step === 'latency' && x.name === 'front/energy/Conv');
    expect(d?.reason).toMatch(/no integer kernel: input spectrum/);
    // Part of the model is still integer: the body Convs after the Log.
    expect(weightIsQuantized(q, 'body/conv1/Conv')).toBe(true);
  }, 180_000);
});
