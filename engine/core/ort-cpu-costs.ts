// What onnxruntime's CPU execution provider (onnxruntime-node 1.30, MLAS) makes of a QDQ node, as
// measured: where its integer kernel is slower than the float one, which QDQ shapes it cannot fuse into
// an integer kernel at all, and where zero-padding a Conv's input channels pays. The target search
// (engine/analysis/cpu-latency.ts) and the QDQ planner (engine/export/qdq-plan.ts) read this table
// only, so a new measurement changes one row.
//
// How the rows were measured: `node bin/run-ts.mjs bench/ort-cpu-op-costs.ts` — each case is a chain
// of 6 identical ops (one op where the shape changes) exported through planQdq + rewriteQdq in every
// form, 1 intra-op thread, process CPU time, the fastest of 21 interleaved rounds of 10 runs against
// float's fastest; 2-core AVX-512 VNNI machine shared with other jobs (load 6-11), 2026-12-07. The
// ratios below are int8 time / float time for the same op; every int8 form was tried (uint8 or
// int8 activations, per-channel or per-tensor weights): they priced the same within the noise, so
// no other form is offered where int8 loses (ORT fuses every one of them into the same QLinearConv).

/** What the rows look at: the node's op type and, for convolutions, the channel grouping. */
export interface KernelShape {
  opType: string;
  /** Conv/ConvTranspose `group` (1 otherwise). */
  group: number;
  inChannels: number;
  outChannels: number;
}

export interface IntegerKernelCost {
  id: string;
  applies(k: KernelShape): boolean;
  /** int8 time / float time, lowest and highest measured. */
  int8OverFloat: readonly [number, number];
  measured: string;
}

/**
 * Ops whose int8 QDQ kernel ORT's CPU provider runs slower than its float kernel. The figures are for
 * the kernel alone (a chain of them); between int8 neighbours a float one also costs a
 * DequantizeLinear, a QuantizeLinear and layout changes, and that can outweigh the kernel: a depthwise
 * Conv after an int8 pointwise one measured 1.25x FP32 left float vs 1.75x int8 at 24 channels on
 * 128x128, but 0.64x vs 0.57x at 96 channels on 32x32. So the target search times the model with these
 * left float against the model with them int8 and keeps the faster (engine/analysis/mixed-precision.ts).
 */
export const SLOWER_IN_INT8_ON_CPU: readonly IntegerKernelCost[] = Object.freeze([
  {
    id: 'depthwise Conv',
    applies: (k) => k.opType === 'Conv' && k.group > 1 && k.group === k.inChannels,
    int8OverFloat: [1.46, 3.48],
    measured: 'depthwise 3x3, C=96 at 32x32: 0.272 vs 0.186 ms (1.46x); C=24 at 128x128: 2.963 vs 0.852 ms (3.48x); BlazeFace full-range profile: 7.9 vs 3.4 ms for its 33 depthwise Convs (2.3x)',
  },
  {
    id: 'grouped Conv',
    applies: (k) => k.opType === 'Conv' && k.group > 1 && k.group !== k.inChannels,
    int8OverFloat: [1.21, 1.23],
    measured: '3x3, 48 channels in 4 groups at 64x64: 4.19 vs 3.40 ms (1.23x)',
  },
  {
    id: 'ConvTranspose',
    applies: (k) => k.opType === 'ConvTranspose',
    int8OverFloat: [1.16, 1.18],
    measured: '2x2 stride 2, 32->16 channels at 64x64: 0.446 vs 0.377 ms (1.18x)',
  },
]);

/** The row that makes this node's int8 form slower than float on ORT's CPU provider, if any. */
export function slowerInInt8OnCpu(k: KernelShape): IntegerKernelCost | undefined {
  return SLOWER_IN_INT8_ON_CPU.find((r) => r.applies(k));
}

/**
 * A quantized weight only pays on the CPU inside a fused integer kernel. ORT fuses DQ -> op -> Q into
 * QLinearConv / QLinearMatMul / QGemm when the op's activation input is quantized; a Conv also needs
 * its output quantized (QLinearConv takes the output scale; there is no Conv kernel with an integer
 * input and a float output), while MatMul (MatMulIntegerToFloat) and Gemm (QGemm) take a float output.
 * (Seen in the graph ORT optimizes: DQ(x), DQ(w) -> MatMul becomes MatMulIntegerToFloat, -> Gemm QGemm,
 * -> Conv stays DequantizeLinear + float Conv; test/engine/analysis/cpu-latency.test.ts checks it.)
 * Any other shape runs the float kernel on a weight dequantized on every run: int8 weight under a float
 * input measured 1.03-5.3x the float op (3x3 32->32: 4.11 vs 2.53 ms, 1.63x; depthwise C=96: 0.99 vs
 * 0.19 ms; pointwise 24->24: 1.47 vs 1.32 ms), and a hand edit of the BlazeFace target export that
 * left those weights float went from 2.12x to 1.40x FP32.
 */
export function fusesToIntegerKernel(opType: string, inputQuantized: boolean, outputQuantized: boolean): boolean {
  if (!inputQuantized) return false;
  return opType === 'Conv' || opType === 'ConvTranspose' ? outputQuantized : true;
}

/**
 * Whether zero-padding a uint8 Conv's input channels up to a multiple of 4 (MLAS's symmetric int8
 * "ConvSym" kernel needs it; the padding is exact: the new channels meet zero filters) pays: for a
 * 1-channel input it does (3x3 1->16 at 28x28, batch 64: 2.069 padded vs 2.305 ms unpadded, 10 %),
 * for 3 channels the Pad costs what the kernel saves (5x5 stride 2 3->24 at 256x256: 0.949 vs
 * 0.984 ms, within the noise; BlazeFace full-range as a whole 1.397x vs 1.391x FP32 without it).
 */
export function channelPadPays(inChannels: number): boolean {
  return inChannels === 1;
}
