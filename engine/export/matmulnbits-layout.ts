// MatMulNBits' weight layout, packing and unpacking: the one place that knows how B, scales and zero
// points sit in the contrib op's inputs. A leaf module: the exporter packs with it and the int8
// prefill branch (int8-prefill.ts) unpacks with it, without either importing the other.
import { StudioError, quote } from '../errors';
import type { WeightOnlyLayerResult } from '../quant/algorithms/weight-only';

/** Smallest power of two ≥ max(16, n): MatMulNBits block sizes are powers of two from 16. */
export function blockSizeFor(groupSize: number, K: number): number {
  let b = 16;
  // Per-channel (groupSize 0): blocks of up to 256 (ORT's largest), each repeating the row's scale.
  const want = groupSize > 0 ? groupSize : Math.min(K, 256);
  while (b < want) b *= 2;
  return b;
}

/**
 * Pack a quantized N × K weight (q in [0, 2^bits − 1], per-group scales / zero points, bits ≤ 4) into
 * MatMulNBits' layout: B uint8 [N, nBlocks, blockSize/2] (two values a byte, low nibble first), scales
 * float [N · nBlocks], zero points uint8 [N · ceil(nBlocks/2)] (low nibble first) or none when every
 * zero point is 8 (ORT's default for 4 bits). Values below 4 bits sit in 4-bit containers unchanged:
 * (q − zp)·scale does not care.
 */
export function packMatMulNBits(r: WeightOnlyLayerResult): { B: Uint8Array; scales: Float32Array; zeroPoints?: Uint8Array; blockSize: number; nBlocks: number } {
  const { rows: N, cols: K } = r.layer;
  const gs = r.config.groupSize;
  if (r.config.bits > 4) throw new StudioError('BAD_RECIPE', `MatMulNBits export supports 3- and 4-bit weights; layer ${quote(r.layer.nodes[0]!.name)} has ${r.config.bits} bits.`);
  const blockSize = blockSizeFor(gs, K);
  if (gs > 0 && blockSize !== gs) throw new StudioError('BAD_RECIPE', `MatMulNBits needs a power-of-two group size of at least 16, not ${quote(gs)}.`);
  const nBlocks = Math.ceil(K / blockSize);
  const nG = gs > 0 ? Math.ceil(K / gs) : 1;
  const blob = blockSize / 2;
  const B = new Uint8Array(N * nBlocks * blob);
  const scales = new Float32Array(N * nBlocks);
  const zpBytes = Math.ceil(nBlocks / 2);
  const zeroPoints = new Uint8Array(N * zpBytes);
  let allEight = true;
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nBlocks; b++) {
      const g = gs > 0 ? b : 0;
      const zp = r.qw.zeroPoints[n * nG + g]!;
      scales[n * nBlocks + b] = r.qw.scales[n * nG + g]!;
      if (zp !== 8) allEight = false;
      zeroPoints[n * zpBytes + (b >> 1)]! |= (zp & 0xf) << ((b & 1) * 4);
      for (let i = 0; i < blockSize; i++) {
        const k = b * blockSize + i;
        const q = k < K ? r.qw.q[n * K + k]! : zp; // padding dequantizes to 0
        B[(n * nBlocks + b) * blob + (i >> 1)]! |= (q & 0xf) << ((i & 1) * 4);
      }
    }
  }
  return { B, scales, zeroPoints: allEight ? undefined : zeroPoints, blockSize, nBlocks };
}

/** Read back a MatMulNBits node's weight as float N × K (for checks). */
export function unpackMatMulNBits(B: Uint8Array, scales: Float32Array, zeroPoints: Uint8Array | undefined, N: number, K: number, blockSize: number): Float32Array {
  const nBlocks = Math.ceil(K / blockSize);
  const blob = blockSize / 2;
  const zpBytes = Math.ceil(nBlocks / 2);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize), i = k % blockSize;
      const q = (B[(n * nBlocks + b) * blob + (i >> 1)]! >> ((i & 1) * 4)) & 0xf;
      const zp = zeroPoints ? (zeroPoints[n * zpBytes + (b >> 1)]! >> ((b & 1) * 4)) & 0xf : 8;
      out[n * K + k] = (q - zp) * scales[n * nBlocks + b]!;
    }
  }
  return out;
}
