// npm run bench:kernels — the native kernels against their baselines, measured side by side in one run.
// One JSON object per line: { kernel, shape, value, unit, baseline, baseline_value, ratio } (ratio > 1 = ours better).
//   quantize / dequantize  GB/s vs a plain memcpy of the fp32 tensor (the faster of 1 and the same number of threads).
//                          Both sides count every byte they read plus every byte they write, once:
//                            quantize int8   reads 4 B + writes 1 B   = 5 B per element
//                            quantize int4   reads 4 B + writes 0.5 B = 4.5 B per element
//                            dequantize int8 reads 1 B + writes 4 B   = 5 B per element
//                            memcpy          reads 4 B + writes 4 B   = 8 B per element
//                          so ratio = (our bytes / our time) / (8 B·n / copy time): a kernel that ran exactly as long
//                          as the copy scores 5/8 = 0.625, not 1 (no credit for writing fewer bytes). Read-for-ownership
//                          traffic and the scale/zero-point reads are not counted on either side.
//   int8 GEMM              GOP/s vs onnxruntime-node MatMulInteger (B a constant initializer, prepacked by ORT;
//                          ours prepacked with packB), 1 thread and all threads
//   histogram              Gvalues/s vs the TypeScript reference twin
//   CUDA (only with a GPU) device-resident quantize vs cudaMemcpy D2D, int8 mma GEMM vs the cuBLASLt figure
//   GPTQ                   matrices/s vs the TypeScript reference (engine/quant/algorithms/gptq-core.ts)
// Flags: --quick (smaller sizes, fewer repeats), --only=quant|hist|gemm|gptq|cuda.
import { createSession, ort } from '../engine/runtime/session';
import { availableParallelism } from 'node:os';
import {
  backend, copyBytesSync, cpuFeatures, cudaBench, dequantizeLinearSync, deviceInfo, gemmInt8, gemmInt8Sync, gemmKernelFor, gemmRunsInline,
  gptqQuantize, hessianAccumulateSync, histogramSync, loadError, nativeAvailable, packB, quantizeLinearSync,
} from '../native-kernels/lib/index';
import { histogramRef } from '../native-kernels/lib/reference/quantize';
import { create, DataType, GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, TensorShapeProto_DimensionSchema, TensorShapeProtoSchema, TypeProto_TensorSchema, TypeProtoSchema, ValueInfoProtoSchema } from '../engine/onnx/proto';
import { makeTensor } from '../engine/onnx/tensor';
import { serializeModel } from '../engine/onnx/model-io';

const quick = process.argv.includes('--quick');
const allThreads = availableParallelism();

function emit(kernel: string, shape: string, value: number, unit: string, baseline: string, baselineValue: number, higherIsBetter = true): void {
  const ratio = higherIsBetter ? value / baselineValue : baselineValue / value;
  console.log(JSON.stringify({ kernel, shape, value: +value.toPrecision(4), unit, baseline, baseline_value: +baselineValue.toPrecision(4), ratio: +ratio.toFixed(3) }));
}

/**
 * Seconds per call for ours and the baseline, measured alternately (ours, baseline, ours, …) so both
 * see the same machine load, for at least `minSeconds`; each side's best (minimum) time is reported:
 * the machine is shared, and the minimum is the figure least disturbed by other processes.
 */
async function timePair(ours: () => unknown, base: () => unknown, minSeconds = quick ? 0.4 : 1.5, minReps = 7): Promise<[number, number]> {
  for (let i = 0; i < 2; i++) { await ours(); await base(); }
  let a = Infinity, b = Infinity, reps = 0;
  const start = performance.now();
  while (reps < minReps || (performance.now() - start) / 1000 < minSeconds) {
    let t0 = performance.now();
    await ours();
    a = Math.min(a, (performance.now() - t0) / 1000);
    t0 = performance.now();
    await base();
    b = Math.min(b, (performance.now() - t0) / 1000);
    if (++reps > 3000) break;
  }
  return [a, b];
}

function randomFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 8) / 16777216 - 0.5) * 6;
  }
  return out;
}
function randomBytes<T extends Int8Array | Uint8Array>(arr: T, seed: number): T {
  let s = seed >>> 0;
  for (let i = 0; i < arr.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    arr[i] = s >>> 24;
  }
  return arr;
}

function matMulIntegerModel(M: number, K: number, N: number, B: Int8Array, aType: number): Uint8Array {
  const dim = (v: number | string) => create(TensorShapeProto_DimensionSchema, typeof v === 'number' ? { value: { case: 'dimValue', value: BigInt(v) } } : { value: { case: 'dimParam', value: v } });
  const vi = (name: string, elemType: number, dims: (number | string)[]) => create(ValueInfoProtoSchema, {
    name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType, shape: create(TensorShapeProtoSchema, { dim: dims.map(dim) }) }) } }),
  });
  const graph = create(GraphProtoSchema, {
    name: 'mmi',
    node: [create(NodeProtoSchema, { opType: 'MatMulInteger', input: ['A', 'B'], output: ['C'], name: 'mmi' })],
    initializer: [makeTensor('B', DataType.INT8, [K, N], B)],
    input: [vi('A', aType, [M, K])],
    output: [vi('C', DataType.INT32, [M, N])],
  });
  return serializeModel(create(ModelProtoSchema, { irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 13n })], graph, producerName: 'kernels-bench' }));
}

async function benchQuant(threadsList: number[]): Promise<void> {
  const n = quick ? 1 << 22 : 1 << 24;
  const x = randomFloats(n, 1);
  const q = new Int8Array(n);
  const q4 = new Uint8Array(n / 2);
  const y = new Float32Array(n);
  const src = new Uint8Array(x.buffer), dst = new Uint8Array(n * 4);
  const shape = `${n} fp32`;
  for (const threads of threadsList) {
    const tag = threads === 1 ? '1 thread' : `${threads} threads`;
    // The baseline is the faster of a 1-thread and a `threads`-thread memcpy: on a shared or SMT machine
    // more copy threads can be slower, and the ratio should not flatter us for that.
    const copy = () => copyBytesSync(dst, src, threads);
    const bestCopy = async (ours: () => unknown): Promise<[number, number]> => {
      const [to, tc] = await timePair(ours, copy);
      if (threads === 1) return [to, tc];
      const [, tc1] = await timePair(ours, () => copyBytesSync(dst, src, 1));
      return [to, Math.min(tc, tc1)];
    };
    const base = `memcpy of the fp32 tensor (${threads === 1 ? '1 thread' : `best of 1 and ${threads} threads`}; 8 B/element read+written)`;
    const bytes = (b: number) => `GB/s (${b} B/element read+written)`;
    let [t, tc] = await bestCopy(() => quantizeLinearSync(x, { dtype: 'int8', scale: 0.02, zeroPoint: 3 }, { threads, out: q }));
    emit(`quantize int8 per-tensor (${tag})`, shape, (5 * n) / t / 1e9, bytes(5), base, (8 * n) / tc / 1e9);
    [t, tc] = await bestCopy(() => quantizeLinearSync(x, { dtype: 'int4', scale: 0.3 }, { threads, out: q4 }));
    emit(`quantize int4 packed per-tensor (${tag})`, shape, (4.5 * n) / t / 1e9, bytes(4.5), base, (8 * n) / tc / 1e9);
    [t, tc] = await bestCopy(() => dequantizeLinearSync(q, { dtype: 'int8', scale: 0.02, zeroPoint: 3 }, { threads, out: y }));
    emit(`dequantize int8 per-tensor (${tag})`, shape, (5 * n) / t / 1e9, bytes(5), base, (8 * n) / tc / 1e9);
    const rows = 4096, cols = n / rows;
    const scales = Float32Array.from({ length: rows }, (_, i) => 0.01 + i * 1e-6);
    [t, tc] = await bestCopy(() => quantizeLinearSync(x, { dtype: 'int8', scale: scales, shape: [rows, cols], axis: 0 }, { threads, out: q }));
    emit(`quantize int8 per-channel axis 0 (${tag})`, `${rows}x${cols} fp32`, (5 * n) / t / 1e9, bytes(5), base, (8 * n) / tc / 1e9);
  }
}

async function benchHistogram(): Promise<void> {
  const n = quick ? 1 << 20 : 1 << 22;
  const x = randomFloats(n, 2);
  const bins = 2048;
  const [tOurs, tRef] = await timePair(() => histogramSync(x, { min: -3, max: 3, bins }), () => histogramRef(x, -3, 3, new Float64Array(bins)), 1, 3);
  emit('histogram 2048 bins', `${n} fp32`, n / tOurs / 1e9, 'Gvalues/s', 'TypeScript reference (histogramRef)', n / tRef / 1e9);
}

async function benchGemm(threadsList: number[]): Promise<void> {
  const shapes: [number, number, number][] = quick ? [[512, 512, 512], [1, 4096, 4096]] : [[512, 512, 512], [1024, 1024, 1024], [1, 4096, 4096]];
  for (const [M, K, N] of shapes) {
    const B = randomBytes(new Int8Array(K * N), 3);
    const pb = packB(B, K, N);
    for (const [aName, A, aType] of [['u8', randomBytes(new Uint8Array(M * K), 4), DataType.UINT8], ['s8', randomBytes(new Int8Array(M * K), 5), DataType.INT8]] as const) {
      const model = matMulIntegerModel(M, K, N, B, aType);
      for (const threads of threadsList) {
        const tag = threads === 1 ? '1 thread' : `${threads} threads`;
        const session = (await createSession(model, { device: 'cpu', threads, optimization: 'all' })).session;
        const feeds = { A: new ort.Tensor(aType === DataType.UINT8 ? 'uint8' : 'int8', A, [M, K]) };
        // both sides checked once: same numbers
        const ref = (await session.run(feeds)).C!.data as Int32Array;
        const ours = gemmInt8Sync(A, pb, { M, K, N }, { threads });
        for (let i = 0; i < ref.length; i += 97) if (ref[i] !== ours[i]) throw new Error(`GEMM mismatch vs ORT at ${i}: ${ours[i]} vs ${ref[i]}`);
        // gemmInt8, the API the engine calls: products of at most GEMM_INLINE_MACS (512³, a decode GEMV) run
        // inline, larger ones on a worker thread; ORT's session.run is awaited the same way
        const inline = gemmRunsInline(M, K, N);
        const [tOurs, tOrt] = await timePair(() => gemmInt8(A, pb, { M, K, N }, { threads }), () => session.run(feeds));
        const ops = 2 * M * N * K;
        emit(`gemm ${aName}×s8→s32 [${gemmKernelFor(M)}, ${inline ? 'inline' : 'worker thread'}] (${tag})`, `${M}x${K}x${N}`, ops / tOurs / 1e9, 'GOP/s', `onnxruntime-node MatMulInteger (${tag})`, ops / tOrt / 1e9);
        await session.release();
      }
    }
  }
}

async function benchGptq(): Promise<void> {
  // GPTQ for one weight matrix, native port vs the TypeScript reference it is bit-exact with
  const { gptqQuantize: gptqReference } = await import('../engine/quant/algorithms/gptq-core');
  const [rows, cols, samples] = quick ? [64, 256, 256] : [128, 512, 512];
  const X = randomFloats(samples * cols, 7);
  const gram = new Float64Array(cols * cols);
  hessianAccumulateSync(gram, X, samples, cols);
  const hessian = Float32Array.from(gram, (v) => (2 * v) / samples);
  const o = { weight: randomFloats(rows * cols, 8), hessian, rows, cols, bits: 4, groupSize: 128, symmetric: true, damp: 0.01, blockSize: 128, actOrder: true };
  const [tOurs, tRef] = await timePair(() => gptqQuantize(o), () => gptqReference(o), 1, 3);
  emit('gptq 4-bit g128 act-order (bit-exact with the reference)', `${rows}x${cols}`, 1 / tOurs, 'matrices/s', 'TypeScript reference (engine/quant/algorithms/gptq-core.ts)', 1 / tRef);
}

async function benchCuda(): Promise<void> {
  const d = deviceInfo();
  if (!d.available) {
    console.error(`[kernels-bench] CUDA part skipped: ${d.reason || 'no CUDA device'}`);
    return;
  }
  const n = 1 << 28;
  const copy = cudaBench('copy', [n], 20);
  const quant = cudaBench('quantize', [n], 20);
  emit(`cuda quantize int8 per-tensor (${d.name})`, `${n} fp32`, quant.work / quant.ms / 1e6, 'GB/s', 'cudaMemcpy device-to-device (same run)', copy.work / copy.ms / 1e6);
  emit(`cuda quantize int8 vs datasheet copy`, `${n} fp32`, quant.work / quant.ms / 1e6, 'GB/s', 'H100 D2D copy 2958 GB/s (peer-and-ceilings.md)', 2958);
  for (const [M, K, N] of [[8192, 8192, 8192], [128, 4096, 4096], [32, 4096, 4096]] as const) {
    const g = cudaBench('gemm', [M, K, N], M === 8192 ? 10 : 50);
    const cublas = M === 8192 ? 803 : M === 128 ? 142 : 35;
    emit(`cuda gemm s8×s8→s32 mma.sync (${d.name})`, `${M}x${K}x${N}`, g.work / g.ms / 1e9, 'TOP/s', `cuBLASLt ${cublas} TOPS on the lent H100 (peer-and-ceilings.md, not this run)`, cublas);
  }
}

async function main(): Promise<void> {
  if (!nativeAvailable()) {
    console.error(`[kernels-bench] ${loadError()}`);
    process.exit(1);
  }
  const f = cpuFeatures();
  console.error(`[kernels-bench] backend ${backend()}, CPU ${f.brand || f.vendor}, ${f.threads} threads, avx512 ${f.avx512f}, vnni ${f.avx512vnni}, amx ${f.amxInt8 && f.amxPermitted}; onnxruntime-node ${ort.env.versions?.common ?? ''}`);
  const threadsList = allThreads > 1 ? [1, allThreads] : [1];
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
  if (!only || only === 'quant') await benchQuant(threadsList);
  if (!only || only === 'hist') await benchHistogram();
  if (!only || only === 'gemm') await benchGemm(threadsList);
  if (!only || only === 'gptq') await benchGptq();
  if (!only || only === 'cuda') await benchCuda();
}

await main();
