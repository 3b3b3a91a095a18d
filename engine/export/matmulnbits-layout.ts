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

/** Bits of the container a weight of `bits` is stored in: 4 (int2…int4) or 8 (int5…int8). */
export const containerBits = (bits: number) => (bits <= 4 ? 4 : 8);

/** Bytes of one block of `blockSize` codes in B. */
export const blockBytes = (blockSize: number, bits: number) => (blockSize * containerBits(bits)) / 8;

/** Bytes of one row's zero points: 4-bit ones two a byte (low nibble first), 8-bit ones a byte each. */
export const zeroPointRowBytes = (nBlocks: number, bits: number) => (containerBits(bits) === 4 ? Math.ceil(nBlocks / 2) : nBlocks);

export interface PackedMatMulNBits {
  B: Uint8Array;
  scales: Float32Array;
  zeroPoints?: Uint8Array;
  blockSize: number;
  nBlocks: number;
  /** The `bits` attribute: 4 or 8. */
  bits: 4 | 8;
}

/**
 * Pack a quantized N × K weight (q in [0, 2^bits − 1], per-group scales / zero points) into MatMulNBits'
 * layout. bits ≤ 4: B uint8 [N, nBlocks, blockSize/2] (two codes a byte, low nibble first), zero points
 * uint8 [N · ceil(nBlocks/2)] (low nibble first), omitted when every one is 8 (ORT's default). Values
 * below 4 bits sit in 4-bit containers unchanged: (q − zp)·scale does not care. bits 5…8: B uint8
 * [N, nBlocks, blockSize] (a code a byte), zero points uint8 [N · nBlocks], omitted when all are 128.
 * Scales float [N · nBlocks] either way.
 */
export function packMatMulNBits(r: WeightOnlyLayerResult): PackedMatMulNBits {
  const { rows: N, cols: K } = r.layer;
  const gs = r.config.groupSize;
  if (r.config.bits > 8 || r.config.bits < 2) throw new StudioError('BAD_RECIPE', `MatMulNBits export takes 2- to 8-bit weights; layer ${quote(r.layer.nodes[0]!.name)} has ${r.config.bits} bits.`);
  const bits = containerBits(r.config.bits) as 4 | 8;
  const blockSize = blockSizeFor(gs, K);
  if (gs > 0 && blockSize !== gs) throw new StudioError('BAD_RECIPE', `MatMulNBits needs a power-of-two group size of at least 16, not ${quote(gs)}.`);
  const nBlocks = Math.ceil(K / blockSize);
  const nG = gs > 0 ? Math.ceil(K / gs) : 1;
  const blob = blockBytes(blockSize, bits);
  const B = new Uint8Array(N * nBlocks * blob);
  const scales = new Float32Array(N * nBlocks);
  const zpBytes = zeroPointRowBytes(nBlocks, bits);
  const zeroPoints = new Uint8Array(N * zpBytes);
  const defaultZp = 1 << (bits - 1);
  let allDefault = true;
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nBlocks; b++) {
      const g = gs > 0 ? b : 0;
      const zp = r.qw.zeroPoints[n * nG + g]!;
      scales[n * nBlocks + b] = r.qw.scales[n * nG + g]!;
      if (zp !== defaultZp) allDefault = false;
      const base = (n * nBlocks + b) * blob;
      if (bits === 4) {
        zeroPoints[n * zpBytes + (b >> 1)]! |= (zp & 0xf) << ((b & 1) * 4);
        for (let i = 0; i < blockSize; i++) {
          const k = b * blockSize + i;
          const q = k < K ? r.qw.q[n * K + k]! : zp; // padding dequantizes to 0
          B[base + (i >> 1)]! |= (q & 0xf) << ((i & 1) * 4);
        }
      } else {
        zeroPoints[n * zpBytes + b] = zp & 0xff;
        for (let i = 0; i < blockSize; i++) {
          const k = b * blockSize + i;
          B[base + i] = (k < K ? r.qw.q[n * K + k]! : zp) & 0xff;
        }
      }
    }
  }
  return { B, scales, zeroPoints: allDefault ? undefined : zeroPoints, blockSize, nBlocks, bits };
}

/** Read back a MatMulNBits node's weight as float N × K (for checks, and the int8 prefill branch). */
export function unpackMatMulNBits(B: Uint8Array, scales: Float32Array, zeroPoints: Uint8Array | undefined, N: number, K: number, blockSize: number, bits: number = 4): Float32Array {
  const nBlocks = Math.ceil(K / blockSize);
  const cb = containerBits(bits);
  const blob = blockBytes(blockSize, cb);
  const zpBytes = zeroPointRowBytes(nBlocks, cb);
  const defaultZp = 1 << (cb - 1);
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize), i = k % blockSize;
      const base = (n * nBlocks + b) * blob;
      const q = cb === 4 ? (B[base + (i >> 1)]! >> ((i & 1) * 4)) & 0xf : B[base + i]!;
      const zp = !zeroPoints ? defaultZp : cb === 4 ? (zeroPoints[n * zpBytes + (b >> 1)]! >> ((b & 1) * 4)) & 0xf : zeroPoints[n * zpBytes + b]!;
      out[n * K + k] = (q - zp) * scales[n * nBlocks + b]!;
    }
  }
  return out;
}
