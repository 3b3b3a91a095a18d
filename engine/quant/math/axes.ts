// Which axis of a weight holds the output channels (one scale each for per-channel), and which
// holds the input/reduction dimension K (blocks of `group` elements run along it).
import { StudioError, quote } from '../../errors';

export interface WeightAxes {
  /** Per-channel axis: one scale per output channel. */
  channelAxis: number;
  /** Reduction (K) axis: per-group blocks run along it. */
  blockAxis: number;
}

/**
 * @param opType  the consuming node's op type
 * @param rank    the weight's rank
 * @param attrs   the node's relevant attributes (Gemm: transB)
 */
export function weightAxes(opType: string, rank: number, attrs: { transB?: number } = {}, nodeName?: string): WeightAxes {
  const where = nodeName ? ` (node ${quote(nodeName)})` : '';
  switch (opType) {
    case 'Conv': // W [M, C/group, k...]
      return { channelAxis: 0, blockAxis: 1 };
    case 'ConvTranspose': // W [C, M/group, k...]
      return { channelAxis: 1, blockAxis: 0 };
    case 'Gemm': // B [K, N], or [N, K] with transB=1
      if (rank !== 2) throw new StudioError('BAD_MODEL', `Gemm weight${where} has rank ${rank}, expected 2.`);
      return attrs.transB ? { channelAxis: 0, blockAxis: 1 } : { channelAxis: 1, blockAxis: 0 };
    case 'MatMul': // B [..., K, N]
      if (rank < 2) throw new StudioError('BAD_MODEL', `MatMul weight${where} has rank ${rank}; per-channel quantization needs rank >= 2.`);
      return { channelAxis: rank - 1, blockAxis: rank - 2 };
    case 'Gather': // embedding table [V, D]: one scale per row, blocks along D
      return { channelAxis: 0, blockAxis: rank - 1 };
    default:
      throw new StudioError('UNSUPPORTED_OP', `No weight quantization axis is known for op type ${quote(opType)}${where}.`);
  }
}
