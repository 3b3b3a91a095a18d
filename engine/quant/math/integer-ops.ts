// Plain reference twins of ONNX's integer kernels (MatMulInteger, ConvInteger, QLinearMatMul,
// QLinearConv): exact int32 accumulation, then ONNX requantization. Native and fused kernels are
// tested against these; they are not meant to be fast.
import { StudioError, quote } from '../../errors';
import { quantizeValue } from './quantize';

export interface IntTensor { data: ArrayLike<number>; dims: readonly number[] }

/** Zero-point per tensor ([] or [1]) or per row/column as ONNX allows; returns a lookup. */
function zpAt(zp: ArrayLike<number> | undefined, n: number, what: string): (i: number) => number {
  if (!zp || zp.length === 0) return () => 0;
  if (zp.length === 1) { const z = zp[0]!; return () => z; }
  if (zp.length !== n) throw new StudioError('BAD_ARGUMENT', `${what} zero-point has ${zp.length} values, expected 1 or ${n}.`);
  return (i) => zp[i]!;
}

/** MatMulInteger: (A - a_zp) · (B - b_zp) in int32, numpy-style batch broadcast of leading dims.
 *  a_zp is per tensor or per row of A's last-but-one dim; b_zp per tensor or per column. */
export function matMulInteger(a: IntTensor, b: IntTensor, aZp?: ArrayLike<number>, bZp?: ArrayLike<number>): IntTensor & { data: Int32Array } {
  const ar = a.dims.length, br = b.dims.length;
  if (ar < 1 || br < 1) throw new StudioError('BAD_ARGUMENT', 'MatMulInteger needs inputs of rank >= 1.');
  const aD = ar === 1 ? [1, a.dims[0]!] : [...a.dims];
  const bD = br === 1 ? [b.dims[0]!, 1] : [...b.dims];
  const M = aD[aD.length - 2]!, K = aD[aD.length - 1]!, K2 = bD[bD.length - 2]!, N = bD[bD.length - 1]!;
  if (K !== K2) throw new StudioError('BAD_ARGUMENT', `MatMulInteger: inner dims differ, A ${quote(a.dims)} vs B ${quote(b.dims)}.`);
  const aBatch = aD.slice(0, -2), bBatch = bD.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (d: number[]) => [...new Array(rank - d.length).fill(1), ...d];
  const ab = pad(aBatch), bb = pad(bBatch);
  const ob = ab.map((x, i) => {
    const y = bb[i]!;
    if (x !== y && x !== 1 && y !== 1) throw new StudioError('BAD_ARGUMENT', `MatMulInteger: batch dims ${quote(a.dims)} and ${quote(b.dims)} do not broadcast.`);
    return Math.max(x, y);
  });
  const nb = ob.reduce((p, q) => p * q, 1);
  const za = zpAt(aZp, M, 'A'), zb = zpAt(bZp, N, 'B');
  const out = new Int32Array(nb * M * N);
  const idx = new Array(rank).fill(0);
  for (let bi = 0; bi < nb; bi++) {
    let t = bi;
    for (let d = rank - 1; d >= 0; d--) { idx[d] = t % ob[d]!; t = Math.floor(t / ob[d]!); }
    let ao = 0, bo = 0;
    for (let d = 0; d < rank; d++) {
      ao = ao * ab[d]! + (ab[d] === 1 ? 0 : idx[d]);
      bo = bo * bb[d]! + (bb[d] === 1 ? 0 : idx[d]);
    }
    ao *= M * K; bo *= K * N;
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += (a.data[ao + m * K + k]! - za(m)) * (b.data[bo + k * N + n]! - zb(n));
      out[bi * M * N + m * N + n] = acc;
    }
  }
  const dims = [...ob, ...(ar === 1 ? [] : [M]), ...(br === 1 ? [] : [N])];
  return { data: out, dims };
}

export interface ConvAttrs { pads?: readonly number[]; strides?: readonly number[]; dilations?: readonly number[]; group?: number }

/** ConvInteger for 2-D NCHW: X [N,C,H,W], W [M,C/group,kh,kw]; x_zp per tensor, w_zp per tensor or per M. */
export function convInteger(x: IntTensor, w: IntTensor, xZp?: ArrayLike<number>, wZp?: ArrayLike<number>, attrs: ConvAttrs = {}): IntTensor & { data: Int32Array } {
  if (x.dims.length !== 4 || w.dims.length !== 4) throw new StudioError('BAD_ARGUMENT', `convInteger supports 2-D NCHW only; got X ${quote(x.dims)}, W ${quote(w.dims)}.`);
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const [M, Cg, KH, KW] = w.dims as [number, number, number, number];
  const group = attrs.group ?? 1;
  if (Cg * group !== C || M % group !== 0) throw new StudioError('BAD_ARGUMENT', `convInteger: X has ${C} channels, W ${quote(w.dims)} with group ${group} does not match.`);
  const [pt, pl, pb, pr] = attrs.pads ?? [0, 0, 0, 0];
  const [sh, sw] = attrs.strides ?? [1, 1];
  const [dh, dw] = attrs.dilations ?? [1, 1];
  const OH = Math.floor((H + pt! + pb! - dh! * (KH - 1) - 1) / sh!) + 1;
  const OW = Math.floor((W + pl! + pr! - dw! * (KW - 1) - 1) / sw!) + 1;
  const zx = zpAt(xZp, 1, 'X')(0), zw = zpAt(wZp, M, 'W');
  const out = new Int32Array(N * M * OH * OW);
  const mPerG = M / group;
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) {
    const g = Math.floor(m / mPerG);
    for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      let acc = 0;
      for (let c = 0; c < Cg; c++) for (let i = 0; i < KH; i++) for (let j = 0; j < KW; j++) {
        const ih = oh * sh! - pt! + i * dh!, iw = ow * sw! - pl! + j * dw!;
        // Padding holds the zero-point: (x_zp - x_zp) contributes 0.
        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
        const xv = x.data[((n * C + g * Cg + c) * H + ih) * W + iw]! - zx;
        acc += xv * (w.data[((m * Cg + c) * KH + i) * KW + j]! - zw(m));
      }
      out[((n * M + m) * OH + oh) * OW + ow] = acc;
    }
  }
  return { data: out, dims: [N, M, OH, OW] };
}

/** int32 accumulators -> output integers: q = saturate(round(acc · fp32(sIn·sW / sOut)) + zOut).
 *  `multiplier` may be per output channel (axis `channelAxis` of the accumulator). */
export function requantize(acc: IntTensor, multiplier: ArrayLike<number>, outZp: number, qmin: number, qmax: number, channelAxis = 1, bias?: ArrayLike<number>): Int32Array {
  const out = new Int32Array(acc.data.length);
  let inner = 1;
  for (let k = channelAxis + 1; k < acc.dims.length; k++) inner *= acc.dims[k]!;
  const C = multiplier.length > 1 ? acc.dims[channelAxis]! : 1;
  for (let i = 0; i < out.length; i++) {
    const c = C > 1 ? Math.floor(i / inner) % C : 0;
    const a = acc.data[i]! + (bias ? bias[bias.length > 1 ? c : 0]! : 0);
    // fp32 product, then the same rounding/saturation as QuantizeLinear (scale 1).
    const r = Math.fround(Math.fround(a) * multiplier[multiplier.length > 1 ? c : 0]!);
    out[i] = quantizeValue(r, 1, outZp, qmin, qmax);
  }
  return out;
}

/** fp32(sa·sb/sy) per output channel, as ORT computes the requantization multiplier. */
export function requantMultiplier(aScale: number, bScale: ArrayLike<number>, yScale: number): Float32Array {
  const out = new Float32Array(bScale.length);
  for (let i = 0; i < bScale.length; i++) out[i] = Math.fround(Math.fround(aScale * bScale[i]!) / yScale);
  return out;
}
