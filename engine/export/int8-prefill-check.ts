// The int8 branch quantizes activations per tensor (with norm-based smoothing); on a model whose
// activations that does not suit — outliers behind an op the smoothing cannot see — it would cost
// accuracy the user did not ask to trade. When calibration samples are at hand the export checks: the
// same samples through FP32, through the export with the branch and through the MatMulNBits-only export,
// and the branch stays only if its output error is within a margin of MatMulNBits' own.
import { clone, create, ModelProtoSchema, TypeProtoSchema, TypeProto_TensorSchema, ValueInfoProtoSchema, type ModelProto } from '../onnx/proto';
import { DataType } from '../onnx/tensor';
import { attrInt } from '../onnx/attributes';
import type { NpyArray } from '../data/npy';
import { serializeModel } from '../onnx/model-io';
import { hasExternalData } from '../onnx/external-data';
import { createSession } from '../runtime/session';
import { feedsFor, sampleCount, fixedRunSize, runRanges, floatValues } from '../runtime/batching';
import { elementTypes } from '../onnx/elem-types';
import { sqnrDb } from '../quant/math/metrics';
import { GraphIndex } from '../onnx/graph';
import { addInt8PrefillPath, type Int8PrefillOptions, type Int8PrefillResult } from './int8-prefill';

/**
 * The branch is kept while its error ≤ RATIO × MatMulNBits' error + SLACK (relative L2 of the first
 * output against the float model). A model's excess loss grows about with the squared output error, so
 * RATIO 1.02 lets the branch add at most ~4 % to the int4 model's own excess: on moby-gpt (int4 g32 RTN,
 * excess 0.031 perplexity) that is ≤ 0.0013; the per-row branch measures 1.013 there (+0.0004 perplexity),
 * the per-tensor one 1.047 (+0.0036, dropped). The old 1.5× + 0.005 kept a branch that cost 0.008
 * perplexity on a LLaMA-style model.
 */
export const INT8_BRANCH_ERROR_RATIO = 1.02;
export const INT8_BRANCH_ERROR_SLACK = 0;

export interface Int8BranchCheck { keep: boolean; samples: number; errorInt8: number; errorMatMulNBits: number }

/** Relative L2 error ‖x − ref‖ / ‖ref‖, from the SQNR the rest of the engine reports. */
const relL2 = (x: Float32Array, ref: Float32Array) => 10 ** (-sqnrDb(ref, x) / 20);

/**
 * Compare the two exports against the float model on up to `maxSamples` calibration samples. Returns
 * undefined when the check cannot run here (no samples, external data, a non-float first output).
 */
export async function checkInt8Branch(original: ModelProto, withBranch: ModelProto, matmulNBitsOnly: ModelProto, inputs: Record<string, NpyArray> | undefined, maxSamples = 4): Promise<Int8BranchCheck | undefined> {
  if (!inputs || !Object.keys(inputs).length || hasExternalData(original)) return undefined;
  const n = fixedRunSize(inputs) ?? Math.min(maxSamples, sampleCount(inputs));
  if (!(n > 0)) return undefined;
  const feeds = feedsFor(inputs, 0, n);
  const outputs: Float32Array[] = [];
  for (const m of [original, withBranch, matmulNBitsOnly]) {
    const s = await createSession(serializeModel(m), { device: 'cpu', threads: 0 });
    try {
      const out = (await s.run(feeds))[s.outputNames[0]!]!;
      if (out.type !== 'float32') return undefined;
      outputs.push(out.data as Float32Array);
    } finally {
      await s.release();
    }
  }
  const errorInt8 = relL2(outputs[1]!, outputs[0]!), errorMatMulNBits = relL2(outputs[2]!, outputs[0]!);
  return { keep: errorInt8 <= INT8_BRANCH_ERROR_RATIO * errorMatMulNBits + INT8_BRANCH_ERROR_SLACK, samples: n, errorInt8, errorMatMulNBits };
}

/**
 * Per-channel max |x| of every MatMulNBits input of `matmulNBitsOnly`, on up to `maxSamples` calibration
 * samples (the values the int8 branch will quantize: the int4 model's own activations). The inputs become
 * extra graph outputs of a copy; samples run a few at a time so memory stays at a few activations.
 */
export async function measureInputRanges(matmulNBitsOnly: ModelProto, inputs: Record<string, NpyArray> | undefined, maxSamples = 16): Promise<Map<string, Float32Array> | undefined> {
  if (!inputs || !Object.keys(inputs).length || hasExternalData(matmulNBitsOnly)) return undefined;
  const n = fixedRunSize(inputs) ?? Math.min(maxSamples, sampleCount(inputs));
  if (!(n > 0)) return undefined;
  const m = clone(ModelProtoSchema, matmulNBitsOnly);
  const g = m.graph!;
  const K = new Map<string, number>();
  for (const node of g.node) {
    if (node.opType !== 'MatMulNBits' || node.domain !== 'com.microsoft') continue;
    K.set(node.input[0]!, attrInt(node, 'K', 0));
  }
  const have = new Set(g.output.map((o) => o.name));
  const types = elementTypes(m); // a float16 model's MatMulNBits inputs are float16
  for (const name of K.keys()) {
    if (have.has(name)) continue;
    g.output.push(create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: types.get(name) ?? DataType.FLOAT }) } }) }));
  }
  const ranges = new Map<string, Float32Array>([...K].map(([name, k]) => [name, new Float32Array(k)]));
  const s = await createSession(serializeModel(m), { device: 'cpu', threads: 0 });
  try {
    for (const [a, b] of runRanges(inputs, n, 4)) {
      const out = await s.run(feedsFor(inputs, a, b));
      for (const [name, r] of ranges) {
        const t = out[name];
        const x = t && floatValues(t);
        if (!x) continue;
        const k = r.length;
        for (let i = 0; i + k <= x.length; i += k) for (let c = 0; c < k; c++) { const v = Math.abs(x[i + c]!); if (v > r[c]!) r[c] = v; }
      }
    }
  } finally {
    await s.release();
  }
  return ranges;
}

const NORM_OPS = new Set(['LayerNormalization', 'SkipLayerNormalization', 'RMSNormalization', 'SimplifiedLayerNormalization', 'SkipSimplifiedLayerNormalization']);

/**
 * MatMulNBits nodes whose input no norm writes (attention outputs, MLP activations): the inputs whose
 * outliers sit behind ops smoothing cannot see into, and so the layers a partial branch leaves on
 * MatMulNBits. A Mul by a constant vector (the end of a written-out RMSNorm) counts as a norm.
 */
export function matmulNBitsNotBehindNorms(model: ModelProto): Set<string> {
  const g = model.graph!;
  const idx = new GraphIndex(g);
  const out = new Set<string>();
  for (const n of g.node) {
    if (n.opType !== 'MatMulNBits' || n.domain !== 'com.microsoft') continue;
    const p = idx.producer.get(n.input[0]!);
    const norm = p && (NORM_OPS.has(p.opType) || (p.opType === 'Mul' && !p.domain && p.input.some((x) => { const t = idx.constant(x); return !!t && t.dims.length === 1; })));
    if (!norm) out.add(n.name);
  }
  return out;
}

export interface Int8BranchChoice {
  /** The export with the branch, or undefined when every step stays on MatMulNBits. */
  model?: ModelProto;
  branch?: Int8PrefillResult;
  notices: string[];
}

/**
 * The int8 branch for an export whose every step runs MatMulNBits, held to the guard on calibration
 * samples: first with every layer on int8; if that costs too much, with the layers no norm feeds left on
 * MatMulNBits (a per-layer policy: multi-row steps are still faster where most of the arithmetic sits);
 * else none. Smoothing comes from the int4 model's own activation ranges when samples are given.
 */
export async function chooseInt8Branch(original: ModelProto, matmulNBitsOnly: ModelProto, inputs: Record<string, NpyArray> | undefined, opts: Pick<Int8PrefillOptions, 'minRows' | 'baseDir'> = {}): Promise<Int8BranchChoice> {
  const notices: string[] = [];
  const inputRanges = await measureInputRanges(matmulNBitsOnly, inputs);
  const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
  const attempts: (ReadonlySet<string> | undefined)[] = [undefined, matmulNBitsNotBehindNorms(matmulNBitsOnly)];
  for (const [i, keep] of attempts.entries()) {
    if (i > 0 && !keep?.size) break;
    const m = clone(ModelProtoSchema, matmulNBitsOnly);
    const branch = addInt8PrefillPath(m, { ...opts, inputRanges, keepMatMulNBits: keep });
    if (!branch) break;
    const check = await checkInt8Branch(original, m, matmulNBitsOnly, inputs);
    const what = i === 0 ? 'The int8 branch' : `The int8 branch with ${keep!.size} layer(s) no norm feeds left on MatMulNBits`;
    if (!check) return { model: m, branch, notices: ['The int8 branch for multi-row steps was not checked against calibration data (none given).'] };
    if (check.keep) return { model: m, branch, notices: [...notices, `${what}: checked on ${check.samples} calibration sample(s), output error ${pct(check.errorInt8)} vs MatMulNBits ${pct(check.errorMatMulNBits)}.`] };
    notices.push(`${what} was not kept: on ${check.samples} calibration sample(s) its output error was ${pct(check.errorInt8)} against MatMulNBits' ${pct(check.errorMatMulNBits)} (allowed ${INT8_BRANCH_ERROR_RATIO}×).`);
  }
  notices.push('Every step runs MatMulNBits ("prefill": "matmulnbits"): no int8 branch met the accuracy guard.');
  return { notices };
}
