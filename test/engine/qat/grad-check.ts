// Gradient checks for the QAT backward builder: tiny one-op (or few-op) ONNX models, the analytic
// gradient from the generated training graph (run in ORT) against central finite differences of the
// same graph's loss. ORT computes in float32, so the checks use a random direction (directional
// derivative) plus a few single coordinates, with the tolerances named below.
import { create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, DataType, type ModelProto, type NodeProto, type AttributeProto } from '../../../engine/onnx/proto';
import { makeTensor } from '../../../engine/onnx/tensor';
import { valueInfo } from '../../../engine/qat/onnx-build';
import { buildTrainingGraph, scaleInputName, zeroPointInputName, type ActivationFq } from '../../../engine/qat/backward';
import { probeShapes } from '../../../engine/qat/probe';
import { serializeModel } from '../../../engine/onnx/model-io';
import { createSession, ort } from '../../../engine/runtime/session';

/** Finite-difference step and the relative error allowed between analytic and numeric slopes. */
export const DEFAULT_FD_EPS = 1e-2;
export const DIRECTIONAL_RTOL = 2e-2;
export const COORD_ATOL = 3e-3;

import { seededRandom as rng } from '../../../engine/util/seeded-random';
export { rng };
export const randn = (r: () => number, n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r()));

export function node(opType: string, inputs: string[], outputs: string[], attribute: AttributeProto[] = []): NodeProto {
  return create(NodeProtoSchema, { opType, input: inputs, output: outputs, attribute, name: `${opType}_${outputs[0]}` });
}

export interface Init { name: string; dims: number[]; data: Float32Array | BigInt64Array }
export function tinyModel(nodes: NodeProto[], inputs: { name: string; dims: number[]; type?: number }[], inits: Init[], output: string, opset = 17): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: 8n,
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(opset) })],
    graph: create(GraphProtoSchema, {
      name: 'tiny',
      node: nodes,
      input: inputs.map((i) => valueInfo(i.name, i.type ?? DataType.FLOAT, i.dims)),
      output: [valueInfo(output, DataType.FLOAT)],
      initializer: inits.map((t) => makeTensor(t.name, t.data instanceof BigInt64Array ? DataType.INT64 : DataType.FLOAT, t.dims, t.data)),
    }),
  });
}

export interface GradCheckResult { directional: { analytic: number; numeric: number }; worstCoord: number; grads: Map<string, Float32Array>; loss: number; target: Float32Array }

export async function gradCheck(model: ModelProto, feeds: Record<string, ort.Tensor>, params: string[], opts: {
  activations?: (ActivationFq & { scale: number; zp: number })[]; learnScales?: boolean; seed?: number; eps?: number;
} = {}): Promise<GradCheckResult> {
  const r = rng(opts.seed ?? 7);
  const FD_EPS = opts.eps ?? DEFAULT_FD_EPS;
  const shapes = await probeShapes(model, feeds, params);
  const tg = buildTrainingGraph(model, { params, activations: opts.activations ?? [], learnScales: opts.learnScales, shapes });
  const s = await createSession(serializeModel(tg.model), { device: 'cpu', optimization: 'disabled', source: 'grad check' });
  const init = new Map(model.graph!.initializer.map((t) => [t.name, t]));
  const values = new Map<string, Float32Array>();
  const dims = new Map<string, number[]>();
  for (const p of params) {
    const t = init.get(p)!;
    values.set(p, new Float32Array(t.rawData.buffer.slice(t.rawData.byteOffset, t.rawData.byteOffset + t.rawData.byteLength)));
    dims.set(p, t.dims.map(Number));
  }
  const outDims = shapes.get(tg.output)!;
  const C = outDims[outDims.length - 1]!;
  const target = new Float32Array(outDims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < target.length; i += C) {
    let sum = 0;
    for (let c = 0; c < C; c++) { target[i + c] = Math.exp(2 * r()); sum += target[i + c]!; }
    for (let c = 0; c < C; c++) target[i + c]! /= sum;
  }
  const scales = new Map((opts.activations ?? []).map((a) => [a.param ?? a.tensor, a]));
  const run = async (vals: Map<string, Float32Array>, scaleOverride?: Map<string, number>) => {
    const f: Record<string, ort.Tensor> = { ...feeds, [tg.targetInput]: new ort.Tensor('float32', target, outDims) };
    for (const [p, v] of vals) f[p] = new ort.Tensor('float32', v, dims.get(p)!);
    for (const [k, a] of scales) {
      f[scaleInputName(k)] = new ort.Tensor('float32', Float32Array.of(scaleOverride?.get(k) ?? a.scale), []);
      f[zeroPointInputName(k)] = new ort.Tensor('float32', Float32Array.of(a.zp), []);
    }
    return s.run(f);
  };
  const base = await run(values);
  const grads = new Map<string, Float32Array>();
  for (const p of params) grads.set(p, base[tg.gradOutputs.get(p)!]!.data as Float32Array);
  for (const [k, o] of tg.scaleGradOutputs) grads.set(`scale:${k}`, base[o]!.data as Float32Array);
  const loss = (base[tg.lossOutput]!.data as Float32Array)[0]!;
  // Directional derivative along a random direction over all parameters.
  const dir = new Map<string, Float32Array>();
  let analytic = 0;
  for (const [p, v] of values) {
    const d = randn(r, v.length);
    dir.set(p, d);
    const g = grads.get(p)!;
    for (let i = 0; i < v.length; i++) analytic += g[i]! * d[i]!;
  }
  const shifted = (sign: number) => new Map([...values].map(([p, v]) => [p, Float32Array.from(v, (x, i) => x + sign * FD_EPS * dir.get(p)![i]!)]));
  const lp = (await run(shifted(1)))[tg.lossOutput]!.data as Float32Array;
  const lm = (await run(shifted(-1)))[tg.lossOutput]!.data as Float32Array;
  const numeric = (lp[0]! - lm[0]!) / (2 * FD_EPS);
  // A few single coordinates.
  let worstCoord = 0;
  for (const [p, v] of values) {
    for (let k = 0; k < Math.min(3, v.length); k++) {
      const i = Math.floor(r() * v.length);
      const up = new Map(values); up.set(p, Float32Array.from(v, (x, j) => (j === i ? x + FD_EPS : x)));
      const dn = new Map(values); dn.set(p, Float32Array.from(v, (x, j) => (j === i ? x - FD_EPS : x)));
      const num = (((await run(up))[tg.lossOutput]!.data as Float32Array)[0]! - ((await run(dn))[tg.lossOutput]!.data as Float32Array)[0]!) / (2 * FD_EPS);
      worstCoord = Math.max(worstCoord, Math.abs(num - grads.get(p)![i]!));
    }
  }
  await s.release();
  return { directional: { analytic, numeric }, worstCoord, grads, loss, target };
}
