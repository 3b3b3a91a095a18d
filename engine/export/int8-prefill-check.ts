// The int8 branch quantizes activations per tensor (with norm-based smoothing); on a model whose
// activations that does not suit — outliers behind an op the smoothing cannot see — it would cost
// accuracy the user did not ask to trade. When calibration samples are at hand the export checks: the
// same samples through FP32, through the export with the branch and through the MatMulNBits-only export,
// and the branch stays only if its output error is within a margin of MatMulNBits' own.
import type { ModelProto } from '../onnx/proto';
import type { NpyArray } from '../data/npy';
import { serializeModel } from '../onnx/model-io';
import { hasExternalData } from '../onnx/external-data';
import { createSession } from '../runtime/session';
import { feedsFor, sampleCount, fixedRunSize } from '../runtime/batching';
import { sqnrDb } from '../quant/math/metrics';

/** The branch is kept while its error ≤ RATIO × MatMulNBits' error + SLACK (relative L2 of the first output). */
export const INT8_BRANCH_ERROR_RATIO = 1.5;
export const INT8_BRANCH_ERROR_SLACK = 0.005;

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
