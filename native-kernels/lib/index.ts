// The TypeScript face of the native kernel addon (native-kernels/build/Release/quant_kernels.node).
// After sharp and better-sqlite3: every argument is checked here before it crosses into C++, one
// actionable error says what was tried when the binary cannot load, and long kernels run on a
// Napi::AsyncWorker (the Promise-returning functions) so the JS thread never blocks; the *Sync variants
// are for small inputs. When the addon is missing, the kernels with a TypeScript twin run that twin
// (backend() says which), and nativeAvailable() / loadError() let the engine say so.
// This module imports nothing of the app (layering rule).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { layoutScaleCount, type KernelLayout } from './layout';
import { dequantizeRef, fakeQuantBackwardRef, fakeQuantForwardRef, histogramRef, minMaxRef, quantizeRef } from './reference/quantize';
import { gemmInt8Ref, hessianAccumulateRef } from './reference/gemm';

export type { KernelLayout } from './layout';

// ---------------------------------------------------------------- errors and validation

export class NativeKernelError extends Error {
  constructor(readonly code: 'BAD_ARGUMENT' | 'NATIVE_UNAVAILABLE' | 'CUDA_UNAVAILABLE' | 'CUDA_FAILED' | 'KERNEL_FAILED', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NativeKernelError';
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of length ${(v as unknown as { length?: number }).length ?? v.byteLength}`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  return typeof v;
}

/** sharp's lib/is.js message: `Expected ${expected} for ${name} but received ${actual}`. */
function invalid(expected: string, name: string, actual: unknown): NativeKernelError {
  return new NativeKernelError('BAD_ARGUMENT', `Expected ${expected} for ${name} but received ${describe(actual)}`);
}
const isInt = (v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
function checkInt(v: unknown, name: string, min = 0, max = 2 ** 31 - 1): number {
  if (!isInt(v, min, max)) throw invalid(`an integer between ${min} and ${max}`, name, v);
  return v;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function checkArray<T = any>(v: unknown, ctors: (new (...a: never[]) => ArrayBufferView)[], name: string, length?: number): T {
  if (!ctors.some((c) => v instanceof c)) throw invalid(ctors.map((c) => c.name).join(' or '), name, v);
  const len = (v as unknown as { length: number }).length;
  if (length !== undefined && len !== length) throw invalid(`${ctors.map((c) => c.name).join(' or ')} of length ${length}`, name, v);
  return v as T;
}
function checkFiniteFloats(a: Float32Array, name: string, positive: boolean): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (!Number.isFinite(v) || (positive && !(v > 0))) throw invalid(positive ? 'finite positive numbers' : 'finite numbers', `${name}[${i}]`, v);
  }
}

// ---------------------------------------------------------------- loading

interface Binding {
  abiVersion: number;
  cudaCompiled: boolean;
  cpuFeatures(): CpuFeatures;
  deviceInfo(): Omit<DeviceInfo, 'reason'> & { reason: string };
  quantize(async: boolean, x: Float32Array, s: Float32Array, z: Int32Array, outer: number, axisLen: number, inner: number, block: number, qmin: number, qmax: number, bits: number, out: Uint8Array, impl: number, threads: number): Promise<void> | void;
  dequantize(async: boolean, q: Uint8Array, s: Float32Array, z: Int32Array, outer: number, axisLen: number, inner: number, block: number, signed: boolean, bits: number, out: Float32Array, impl: number, threads: number): Promise<void> | void;
  minmax(async: boolean, x: Float32Array, outer: number, axisLen: number, inner: number, block: number, mins: Float32Array, maxs: Float32Array, impl: number, threads: number): Promise<void> | void;
  histogram(async: boolean, x: Float32Array, lo: number, hi: number, counts: Float64Array, zeroNaN: Float64Array | null, impl: number, threads: number): Promise<void> | void;
  fakeQuantForward(async: boolean, x: Float32Array, s: Float32Array, z: Int32Array, outer: number, axisLen: number, inner: number, block: number, qmin: number, qmax: number, y: Float32Array, mask: Uint8Array | null, impl: number, threads: number): Promise<void> | void;
  fakeQuantBackward(async: boolean, x: Float32Array, gy: Float32Array, s: Float32Array, z: Int32Array, outer: number, axisLen: number, inner: number, block: number, qmin: number, qmax: number, gx: Float32Array, impl: number, threads: number): Promise<void> | void;
  copyBytes(async: boolean, dst: Uint8Array, src: Uint8Array, threads: number): Promise<void> | void;
  packB(async: boolean, B: Int8Array, K: number, N: number, packed: Uint8Array, colSums: Int32Array): Promise<void> | void;
  packedBSize(K: number, N: number): number;
  gemm(async: boolean, A: Uint8Array, aSigned: boolean, aZp: number, packed: Uint8Array, colSums: Int32Array, bZp: number, M: number, K: number, N: number, C: Int32Array, impl: number, threads: number): Promise<void> | void;
  gemmImpl(impl: number, M: number): number;
  gemmRef(async: boolean, A: Uint8Array, aSigned: boolean, aZp: number, B: Int8Array, bZp: number, M: number, K: number, N: number, C: Int32Array): Promise<void> | void;
  cudaGemmS8(async: boolean, A: Int8Array, B: Int8Array, M: number, K: number, N: number, C: Int32Array): Promise<void> | void;
  hessianAccumulate(async: boolean, gram: Float64Array, X: Float32Array, rows: number, cols: number, threads: number): Promise<void> | void;
  gptq(async: boolean, W: Float32Array, rows: number, cols: number, H: Float32Array, bits: number, groupSize: number, symmetric: boolean, damp: number, blockSize: number, actOrder: boolean, q: Int8Array, scales: Float32Array, zps: Int32Array, deq: Float32Array, device: number, threads: number): Promise<void> | void;
  cudaBench(kind: 'quantize' | 'copy' | 'gemm', a: number, b: number, c: number, iters: number): { ms: number; work: number };
}

const ADDON_NAME = 'quant_kernels.node';
/** The binding's argument layout this face calls (addon.cc exports the same number; 2: histogram's zero/NaN tally). */
const ABI_VERSION = 2;
let binding: Binding | null = null;
let loadErrorMessage: string | null = null;
let loaded = false;
let loadedFrom: string | null = null;

function candidatePaths(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const list: string[] = [];
  if (process.env.QSTUDIO_NATIVE_ADDON) list.push(resolve(process.env.QSTUDIO_NATIVE_ADDON));
  list.push(join(here, '..', 'build', 'Release', ADDON_NAME));
  list.push(join(process.cwd(), 'native-kernels', 'build', 'Release', ADDON_NAME));
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  if (resources) list.push(join(resources, 'native', ADDON_NAME));
  return [...new Set(list)];
}

function load(): Binding | null {
  if (loaded) return binding;
  loaded = true;
  const req = createRequire(import.meta.url);
  const tried: string[] = [];
  // QSTUDIO_NATIVE_ADDON names the one binary to use: when it is set, nothing else is tried.
  const paths = process.env.QSTUDIO_NATIVE_ADDON ? [resolve(process.env.QSTUDIO_NATIVE_ADDON)] : candidatePaths();
  for (const p of paths) {
    if (!existsSync(p)) { tried.push(`${p} (not found)`); continue; }
    try {
      const b = req(p) as Binding;
      if (b.abiVersion !== ABI_VERSION) { tried.push(`${p} (abiVersion ${b.abiVersion}, this face needs ${ABI_VERSION}: rebuild)`); continue; }
      binding = b;
      loadedFrom = p;
      return b;
    } catch (e) {
      tried.push(`${p} (${(e as Error).message.split('\n')[0]})`);
    }
  }
  loadErrorMessage =
    `The native kernel addon could not be loaded; the TypeScript reference kernels are used instead. Tried: ${tried.join('; ')}. ` +
    'Build it with `npm run build:native` (needs cmake >= 3.18 and a C++17 compiler; nvcc adds the CUDA kernels), ' +
    'or set QSTUDIO_NATIVE_ADDON to a built quant_kernels.node.';
  return null;
}

/** True when the native addon loaded. */
export function nativeAvailable(): boolean {
  return load() !== null;
}
/** Why the addon did not load (what was tried and how to fix it), or null when it loaded. */
export function loadError(): string | null {
  load();
  return loadErrorMessage;
}
/** Which implementation the kernels below run: the native addon or the TypeScript reference twins. */
export function backend(): 'native' | 'reference' {
  return nativeAvailable() ? 'native' : 'reference';
}
export function addonPath(): string | null {
  load();
  return loadedFrom;
}
function kernelFailed(e: unknown): NativeKernelError {
  if (e instanceof NativeKernelError) return e;
  const msg = (e as Error)?.message ?? String(e);
  return new NativeKernelError(/^CUDA /.test(msg) ? 'CUDA_FAILED' : 'KERNEL_FAILED', msg, { cause: e });
}

/** Runs a native call sync or async and hands back `result` when it is done; native errors become NativeKernelError. */
function finish<T>(async: boolean, call: () => Promise<void> | void, result: () => T): Promise<T> | T {
  let done: Promise<void> | void;
  try { done = call(); } catch (e) { throw kernelFailed(e); }
  return async ? (done as Promise<void>).then(result, (e: unknown) => { throw kernelFailed(e); }) : result();
}

function need(what: string): Binding {
  const b = load();
  if (!b) throw new NativeKernelError('NATIVE_UNAVAILABLE', `${what} needs the native addon. ${loadErrorMessage}`);
  return b;
}

// ---------------------------------------------------------------- hardware

export interface CpuFeatures {
  vendor: string;
  brand: string;
  threads: number;
  avx2: boolean;
  fma: boolean;
  avx512f: boolean;
  avx512bw: boolean;
  avx512vl: boolean;
  avx512dq: boolean;
  avx512vnni: boolean;
  avxVnni: boolean;
  amxTile: boolean;
  amxInt8: boolean;
  /** The Linux kernel granted AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM). */
  amxPermitted: boolean;
  /** Why AMX is not usable when the CPU has it. */
  amxNote: string;
}

export interface DeviceInfo {
  /** The addon was built with nvcc. */
  compiled: boolean;
  /** A CUDA device answered and can run the kernels. */
  available: boolean;
  /** Why not, when not available. */
  reason: string;
  name: string;
  computeCapability: string;
  multiprocessors: number;
  totalMemory: number;
  freeMemory: number;
  driverVersion: number;
  runtimeVersion: number;
  deviceCount: number;
  /** What the binary carries, e.g. "90-real,80-virtual" (sm_90 SASS + compute_80 PTX). */
  archs: string;
}

/** CPU features from cpuid (native) — without the addon only the thread count is known. */
export function cpuFeatures(): CpuFeatures {
  const b = load();
  if (b) return b.cpuFeatures();
  return { vendor: '', brand: '', threads: availableParallelism(), avx2: false, fma: false, avx512f: false, avx512bw: false, avx512vl: false, avx512dq: false, avx512vnni: false, avxVnni: false, amxTile: false, amxInt8: false, amxPermitted: false, amxNote: 'unknown: the native addon is not loaded' };
}

/** The GPU as the addon sees it (name, memory, compute capability), or why there is none. */
export function deviceInfo(): DeviceInfo {
  const b = load();
  const empty: DeviceInfo = { compiled: false, available: false, reason: '', name: '', computeCapability: '', multiprocessors: 0, totalMemory: 0, freeMemory: 0, driverVersion: 0, runtimeVersion: 0, deviceCount: 0, archs: '' };
  if (!b) return { ...empty, reason: `the native addon is not loaded: ${loadErrorMessage}` };
  return b.deviceInfo();
}

export type Device = 'cpu' | 'cuda' | 'auto';
/** 'auto' → 'cuda' when a CUDA device is available, else 'cpu'; 'cuda' without one throws CUDA_UNAVAILABLE with the reason. */
export function resolveDevice(device: Device = 'auto'): 'cpu' | 'cuda' {
  if (device !== 'cpu' && device !== 'cuda' && device !== 'auto') throw invalid("one of 'cpu', 'cuda', 'auto'", 'device', device);
  if (device === 'cpu') return 'cpu';
  const info = deviceInfo();
  if (info.available) return 'cuda';
  if (device === 'cuda') throw new NativeKernelError('CUDA_UNAVAILABLE', `CUDA was requested but cannot be used: ${info.reason}`);
  return 'cpu';
}

/** One object for the UI's hardware panel and the engine's run report (cpuKernels: the quantizers' path; gemmKernel: the int8 GEMM's for M = 1024). */
export function hardwareSummary(): { native: { available: boolean; error: string | null; path: string | null }; cpu: CpuFeatures; gpu: DeviceInfo; cpuKernels: string; gemmKernel: string } {
  const cpu = cpuFeatures();
  const available = nativeAvailable();
  const cpuKernels = !available ? 'typescript-reference' : cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq ? 'avx512' : cpu.avx2 ? 'avx2' : 'scalar';
  let gemmKernel = 'typescript-reference';
  if (available) gemmKernel = IMPL_NAMES[binding!.gemmImpl(0, 1024)] ?? 'unknown';
  return { native: { available, error: loadErrorMessage, path: loadedFrom }, cpu, gpu: deviceInfo(), cpuKernels, gemmKernel };
}

// ---------------------------------------------------------------- run options

export type KernelImpl = 'auto' | 'reference' | 'avx2' | 'avx512' | 'vnni' | 'amx' | 'avxvnni';
const IMPL_CODES: Record<KernelImpl, number> = { auto: 0, reference: 1, avx2: 2, avx512: 3, vnni: 4, amx: 5, avxvnni: 6 };
const IMPL_NAMES: Record<number, string> = { 1: 'reference', 2: 'avx2', 3: 'avx512', 4: 'vnni', 5: 'amx', 6: 'avxvnni' };
const CUDA_CODE = 100;

export interface RunOptions {
  /**
   * CPU implementation; 'auto' picks the best the CPU has ('reference' = the scalar C++ twin). GEMM: 'amx',
   * 'vnni' (AVX-512 VNNI), 'avxvnni' (256-bit), 'avx2' (vpmaddwd); quantize/dequantize: 'avx512', 'avx2'.
   */
  impl?: KernelImpl;
  /** CPU threads, 0 = all cores. */
  threads?: number;
  /** 'cpu' (default), 'cuda', or 'auto' (CUDA when available). */
  device?: Device;
  /** Write the result here instead of allocating (quantize: the packed bytes; dequantize: Float32Array). */
  out?: Uint8Array | Int8Array | Float32Array;
}

/** An output the kernel overwrites completely: uninitialized memory (no zero-fill pass over large outputs). */
function uninit<T extends Uint8Array | Float32Array | Int32Array>(ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }, n: number): T {
  if (n * ctor.BYTES_PER_ELEMENT < 1 << 16) return new (ctor as unknown as new (n: number) => T)(n);
  const buf = Buffer.allocUnsafeSlow(n * ctor.BYTES_PER_ELEMENT);
  return new ctor(buf.buffer as ArrayBuffer, buf.byteOffset, n);
}

function outBuffer<T extends Uint8Array | Float32Array>(o: RunOptions | undefined, ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }, n: number): T {
  if (o?.out === undefined) return uninit(ctor, n);
  const want = ctor === (Float32Array as unknown) ? 'Float32Array' : 'Uint8Array or Int8Array';
  const ok = ctor === (Float32Array as unknown) ? o.out instanceof Float32Array : o.out instanceof Uint8Array || o.out instanceof Int8Array;
  if (!ok || o.out.length !== n) throw invalid(`${want} of length ${n}`, 'out', o.out);
  return (o.out instanceof Int8Array ? new Uint8Array(o.out.buffer, o.out.byteOffset, o.out.length) : o.out) as T;
}

function runCode(o: RunOptions | undefined, cudaCapable: boolean): { impl: number; threads: number } {
  const impl = o?.impl ?? 'auto';
  if (!(impl in IMPL_CODES)) throw invalid(`one of ${Object.keys(IMPL_CODES).map((k) => `'${k}'`).join(', ')}`, 'impl', impl);
  const threads = o?.threads ?? 0;
  checkInt(threads, 'threads', 0, 1024);
  const device = resolveDevice(o?.device ?? 'cpu');
  if (device === 'cuda' && !cudaCapable) return { impl: IMPL_CODES[impl], threads }; // no CUDA twin: stays on the CPU
  return { impl: device === 'cuda' ? CUDA_CODE : IMPL_CODES[impl], threads };
}

// ---------------------------------------------------------------- quantization parameters

export type QuantDtype = 'int8' | 'uint8' | 'int4' | 'uint4';
const DTYPES: Record<QuantDtype, { qmin: number; qmax: number; bits: 8 | 4; signed: boolean }> = {
  int8: { qmin: -128, qmax: 127, bits: 8, signed: true },
  uint8: { qmin: 0, qmax: 255, bits: 8, signed: false },
  int4: { qmin: -8, qmax: 7, bits: 4, signed: true },
  uint4: { qmin: 0, qmax: 15, bits: 4, signed: false },
};

export interface QuantParams {
  dtype: QuantDtype;
  /** One scale (per-tensor), one per channel along `axis`, or one per block (blocked, with blockSize). */
  scale: number | Float32Array;
  /** Same count as scale; default 0. */
  zeroPoint?: number | Int32Array | Int8Array | Uint8Array;
  /** The tensor's shape; needed for per-channel and blocked. Default: [length] (per-tensor). */
  shape?: readonly number[];
  /** Quantization axis (ONNX default 1; negative counts from the end). Ignored per-tensor. */
  axis?: number;
  /** > 0: ONNX blocked quantization along axis. */
  blockSize?: number;
  /** Narrow the range, e.g. [-127, 127] for symmetric int8 weights. Default: the dtype's full range. */
  range?: [number, number];
}

interface Prepared {
  L: KernelLayout;
  scales: Float32Array;
  zps: Int32Array;
  qmin: number;
  qmax: number;
  bits: 8 | 4;
  signed: boolean;
  n: number;
}

/** Resolves shape/axis/blockSize into the kernel layout and checks the scales against it. */
export function quantLayout(n: number, shape: readonly number[] | undefined, axis: number | undefined, blockSize: number | undefined, scaleCount: number): KernelLayout {
  if (shape !== undefined) {
    if (!Array.isArray(shape) || !shape.every((d) => isInt(d))) throw invalid('an array of non-negative integers', 'shape', shape);
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== n) throw invalid(`a shape with ${n} elements (the data length)`, 'shape', `[${shape.join(', ')}] (${count} elements)`);
  }
  const dims = shape ?? [n];
  const block = blockSize ?? 0;
  checkInt(block, 'blockSize', 0);
  if (scaleCount === 1 && block === 0) return { outer: 1, axisLen: 1, inner: n, block: 0 };
  if (shape === undefined) throw invalid('a shape (per-channel or blocked scales need it)', 'shape', shape);
  const rank = dims.length;
  const ax = axis ?? 1;
  if (!isInt(ax, -rank, rank - 1)) throw invalid(`an integer axis in [${-rank}, ${rank - 1}]`, 'axis', axis);
  const a = ax < 0 ? ax + rank : ax;
  const outer = dims.slice(0, a).reduce((x, y) => x * y, 1);
  const inner = dims.slice(a + 1).reduce((x, y) => x * y, 1);
  const L: KernelLayout = { outer, axisLen: dims[a]!, inner, block };
  const want = layoutScaleCount(L);
  if (want !== scaleCount) throw invalid(`${want} scales (${block > 0 ? `blocked, block ${block} along axis ${a}` : `one per channel along axis ${a}`})`, 'scale', `${scaleCount} scales`);
  return L;
}

function prepare(n: number, p: QuantParams): Prepared {
  if (p === null || typeof p !== 'object') throw invalid('an object of quantization parameters', 'params', p);
  const dt = DTYPES[p.dtype];
  if (!dt) throw invalid("one of 'int8', 'uint8', 'int4', 'uint4'", 'dtype', p.dtype);
  const scales = typeof p.scale === 'number' ? Float32Array.of(p.scale) : checkArray(p.scale, [Float32Array], 'scale');
  if (scales.length === 0) throw invalid('at least one scale', 'scale', scales);
  checkFiniteFloats(scales, 'scale', true);
  const zpIn = p.zeroPoint ?? 0;
  let zps: Int32Array;
  if (typeof zpIn === 'number') zps = new Int32Array(scales.length).fill(checkInt(zpIn, 'zeroPoint', dt.qmin, dt.qmax));
  else {
    checkArray(zpIn, [Int32Array, Int8Array, Uint8Array], 'zeroPoint', scales.length);
    zps = zpIn instanceof Int32Array ? zpIn : Int32Array.from(zpIn);
  }
  let [qmin, qmax] = [dt.qmin, dt.qmax];
  if (p.range !== undefined) {
    if (!Array.isArray(p.range) || p.range.length !== 2 || !isInt(p.range[0], dt.qmin, dt.qmax) || !isInt(p.range[1], p.range[0], dt.qmax))
      throw invalid(`[qmin, qmax] inside [${dt.qmin}, ${dt.qmax}]`, 'range', p.range);
    [qmin, qmax] = p.range;
  }
  for (let i = 0; i < zps.length; i++) if (!(zps[i]! >= dt.qmin && zps[i]! <= dt.qmax)) throw invalid(`a zero point in [${dt.qmin}, ${dt.qmax}] (${p.dtype})`, `zeroPoint[${i}]`, zps[i]);
  const L = quantLayout(n, p.shape, p.axis, p.blockSize, scales.length);
  return { L, scales, zps, qmin, qmax, bits: dt.bits, signed: dt.signed, n };
}

/** Packed bytes as the dtype's natural array: Int8Array for int8, Uint8Array otherwise (int4/uint4 packed, first element in the low nibble). */
export type QuantizedData<D extends QuantDtype = QuantDtype> = D extends 'int8' ? Int8Array : Uint8Array;
const view = (bytes: Uint8Array, dtype: QuantDtype): Int8Array | Uint8Array => (dtype === 'int8' ? new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length) : bytes);

function quantizeImpl(async: boolean, x: Float32Array, p: QuantParams, o?: RunOptions): Promise<Int8Array | Uint8Array> | Int8Array | Uint8Array {
  checkArray(x, [Float32Array], 'x');
  const q = prepare(x.length, p);
  const b = load();
  if (!b) {
    const r = view(quantizeRef(x, q.L, q.scales, q.zps, q.qmin, q.qmax, q.bits), p.dtype);
    return async ? Promise.resolve(r) : r;
  }
  const { impl, threads } = runCode(o, true);
  const out = outBuffer(o, Uint8Array, q.bits === 8 ? x.length : (x.length + 1) >> 1);
  return finish(async, () => b.quantize(async, x, q.scales, q.zps, q.L.outer, q.L.axisLen, q.L.inner, q.L.block, q.qmin, q.qmax, q.bits, out, impl, threads), () => view(out, p.dtype));
}

/** ONNX QuantizeLinear (round half to even, saturate), per-tensor / per-channel / blocked; int8, uint8, int4, uint4. */
export function quantizeLinear(x: Float32Array, p: QuantParams, o?: RunOptions): Promise<Int8Array | Uint8Array> {
  try { return quantizeImpl(true, x, p, o) as Promise<Int8Array | Uint8Array>; } catch (e) { return Promise.reject(e); }
}
export function quantizeLinearSync(x: Float32Array, p: QuantParams, o?: RunOptions): Int8Array | Uint8Array {
  return quantizeImpl(false, x, p, o) as Int8Array | Uint8Array;
}

function dequantizeImpl(async: boolean, q: Int8Array | Uint8Array, count: number | undefined, p: QuantParams, o?: RunOptions): Promise<Float32Array> | Float32Array {
  checkArray(q, [Int8Array, Uint8Array], 'q');
  const bytes = new Uint8Array(q.buffer, q.byteOffset, q.byteLength);
  const dt = DTYPES[p?.dtype];
  if (!dt) throw invalid("one of 'int8', 'uint8', 'int4', 'uint4'", 'dtype', p?.dtype);
  const n = count ?? (dt.bits === 8 ? q.length : q.length * 2);
  checkInt(n, 'count', 0, Number.MAX_SAFE_INTEGER);
  const needBytes = dt.bits === 8 ? n : (n + 1) >> 1;
  if (bytes.length !== needBytes) throw invalid(`${needBytes} bytes for ${n} ${p.dtype} values`, 'q', q);
  const pr = prepare(n, p);
  const b = load();
  if (!b) {
    const r = dequantizeRef(bytes, n, pr.L, pr.scales, pr.zps, pr.signed, pr.bits);
    return async ? Promise.resolve(r) : r;
  }
  const { impl, threads } = runCode(o, true);
  const out = outBuffer(o, Float32Array, n);
  return finish(async, () => b.dequantize(async, bytes, pr.scales, pr.zps, pr.L.outer, pr.L.axisLen, pr.L.inner, pr.L.block, pr.signed, pr.bits, out, impl, threads), () => out);
}

/** ONNX DequantizeLinear: (q − zp) · scale. For int4/uint4 pass `count` when the element count is odd. */
export function dequantizeLinear(q: Int8Array | Uint8Array, p: QuantParams & { count?: number }, o?: RunOptions): Promise<Float32Array> {
  try { return dequantizeImpl(true, q, p?.count, p, o) as Promise<Float32Array>; } catch (e) { return Promise.reject(e); }
}
export function dequantizeLinearSync(q: Int8Array | Uint8Array, p: QuantParams & { count?: number }, o?: RunOptions): Float32Array {
  return dequantizeImpl(false, q, p?.count, p, o) as Float32Array;
}

// ---------------------------------------------------------------- calibration statistics

export interface ReduceLayout {
  shape?: readonly number[];
  /** Reduce per channel along this axis (omit for one min/max over everything). */
  axis?: number;
  blockSize?: number;
}

function minMaxImpl(async: boolean, x: Float32Array, r: ReduceLayout | undefined, o?: RunOptions) {
  checkArray(x, [Float32Array], 'x');
  let L: KernelLayout = { outer: 1, axisLen: 1, inner: x.length, block: 0 };
  if (r?.axis !== undefined || r?.blockSize) {
    if (!r.shape) throw invalid('a shape (per-channel or blocked min/max needs it)', 'shape', r.shape);
    const rank = r.shape.length;
    const ax = r.axis ?? 1;
    if (!isInt(ax, -rank, rank - 1)) throw invalid(`an integer axis in [${-rank}, ${rank - 1}]`, 'axis', r.axis);
    const a = ax < 0 ? ax + rank : ax;
    const probe: KernelLayout = { outer: r.shape.slice(0, a).reduce((p, q) => p * q, 1), axisLen: r.shape[a]!, inner: r.shape.slice(a + 1).reduce((p, q) => p * q, 1), block: r.blockSize ?? 0 };
    L = quantLayout(x.length, r.shape, ax, r.blockSize, layoutScaleCount(probe));
  }
  const slots = layoutScaleCount(L);
  const b = load();
  if (!b) { const res = minMaxRef(x, L, slots); return async ? Promise.resolve(res) : res; }
  const { impl, threads } = runCode(o, false);
  const min = new Float32Array(slots), max = new Float32Array(slots);
  return finish(async, () => b.minmax(async, x, L.outer, L.axisLen, L.inner, L.block, min, max, impl, threads), () => ({ min, max }));
}

/** Min and max (NaN ignored) over the tensor, per channel along `axis`, or per block. Empty slots give (+Inf, −Inf). */
export function minMax(x: Float32Array, r?: ReduceLayout, o?: RunOptions): Promise<{ min: Float32Array; max: Float32Array }> {
  try { return minMaxImpl(true, x, r, o) as Promise<{ min: Float32Array; max: Float32Array }>; } catch (e) { return Promise.reject(e); }
}
export function minMaxSync(x: Float32Array, r?: ReduceLayout, o?: RunOptions): { min: Float32Array; max: Float32Array } {
  return minMaxImpl(false, x, r, o) as { min: Float32Array; max: Float32Array };
}

export interface HistogramOptions {
  /** Range [min, max]; values outside and NaN are skipped, max itself falls in the last bin. */
  min: number;
  max: number;
  /** Number of bins (when counts is not given). */
  bins?: number;
  /** Accumulate into these counts (calibration over many batches). */
  counts?: Float64Array;
  /**
   * Float64Array(2): adds the number of values equal to 0 (either sign) and of NaN values, over the whole
   * input (in range or not), counted in the same pass as the bins (the calibration collector needs both).
   */
  zeroNaN?: Float64Array;
}

function histogramImpl(async: boolean, x: Float32Array, h: HistogramOptions, o?: RunOptions): Promise<Float64Array> | Float64Array {
  checkArray(x, [Float32Array], 'x');
  if (h === null || typeof h !== 'object') throw invalid('an object { min, max, bins | counts }', 'options', h);
  if (typeof h.min !== 'number' || !Number.isFinite(h.min)) throw invalid('a finite number', 'min', h.min);
  if (typeof h.max !== 'number' || !Number.isFinite(h.max) || !(h.max > h.min)) throw invalid(`a finite number greater than min (${h.min})`, 'max', h.max);
  const counts = h.counts !== undefined ? checkArray(h.counts, [Float64Array], 'counts') : new Float64Array(checkInt(h.bins, 'bins', 1, 1 << 24));
  if (counts.length < 1 || counts.length > 1 << 24) throw invalid('between 1 and 16777216 bins', 'counts', counts);
  if (h.counts !== undefined && h.bins !== undefined && h.bins !== counts.length) throw invalid(`bins equal to counts.length (${counts.length})`, 'bins', h.bins);
  const zeroNaN = h.zeroNaN !== undefined ? checkArray<Float64Array>(h.zeroNaN, [Float64Array], 'zeroNaN', 2) : null;
  const b = load();
  if (!b) { histogramRef(x, h.min, h.max, counts, zeroNaN ?? undefined); return async ? Promise.resolve(counts) : counts; }
  const { impl, threads } = runCode(o, true);
  return finish(async, () => b.histogram(async, x, h.min, h.max, counts, zeroNaN, impl, threads), () => counts);
}

/** Histogram for calibration (entropy / percentile calibrators); adds into `counts` when given. */
export function histogram(x: Float32Array, h: HistogramOptions, o?: RunOptions): Promise<Float64Array> {
  try { return histogramImpl(true, x, h, o) as Promise<Float64Array>; } catch (e) { return Promise.reject(e); }
}
export function histogramSync(x: Float32Array, h: HistogramOptions, o?: RunOptions): Float64Array {
  return histogramImpl(false, x, h, o) as Float64Array;
}

// ---------------------------------------------------------------- fake quant (QAT)

function fqForward(async: boolean, x: Float32Array, p: QuantParams, o?: RunOptions) {
  checkArray(x, [Float32Array], 'x');
  const q = prepare(x.length, p);
  const b = load();
  if (!b) { const r = fakeQuantForwardRef(x, q.L, q.scales, q.zps, q.qmin, q.qmax); return async ? Promise.resolve(r) : r; }
  const { impl, threads } = runCode(o, true);
  const y = new Float32Array(x.length), mask = new Uint8Array(x.length);
  return finish(async, () => b.fakeQuantForward(async, x, q.scales, q.zps, q.L.outer, q.L.axisLen, q.L.inner, q.L.block, q.qmin, q.qmax, y, mask, impl, threads), () => ({ y, mask }));
}

/** y = dequantize(quantize(x)); mask[i] = 1 where x[i] is inside the clip range (the STE passes gradient there). */
export function fakeQuantForward(x: Float32Array, p: QuantParams, o?: RunOptions): Promise<{ y: Float32Array; mask: Uint8Array }> {
  try { return fqForward(true, x, p, o) as Promise<{ y: Float32Array; mask: Uint8Array }>; } catch (e) { return Promise.reject(e); }
}
export function fakeQuantForwardSync(x: Float32Array, p: QuantParams, o?: RunOptions): { y: Float32Array; mask: Uint8Array } {
  return fqForward(false, x, p, o) as { y: Float32Array; mask: Uint8Array };
}

function fqBackward(async: boolean, x: Float32Array, gy: Float32Array, p: QuantParams, o?: RunOptions): Promise<Float32Array> | Float32Array {
  checkArray(x, [Float32Array], 'x');
  checkArray(gy, [Float32Array], 'gradY', x.length);
  const q = prepare(x.length, p);
  const b = load();
  if (!b) { const r = fakeQuantBackwardRef(x, gy, q.L, q.scales, q.zps, q.qmin, q.qmax); return async ? Promise.resolve(r) : r; }
  const { impl, threads } = runCode(o, true);
  const gx = new Float32Array(x.length);
  return finish(async, () => b.fakeQuantBackward(async, x, gy, q.scales, q.zps, q.L.outer, q.L.axisLen, q.L.inner, q.L.block, q.qmin, q.qmax, gx, impl, threads), () => gx);
}

/** Straight-through estimator: gradX = gradY where round(x/s)+zp is inside [qmin, qmax], else 0. */
export function fakeQuantBackward(x: Float32Array, gradY: Float32Array, p: QuantParams, o?: RunOptions): Promise<Float32Array> {
  try { return fqBackward(true, x, gradY, p, o) as Promise<Float32Array>; } catch (e) { return Promise.reject(e); }
}
export function fakeQuantBackwardSync(x: Float32Array, gradY: Float32Array, p: QuantParams, o?: RunOptions): Float32Array {
  return fqBackward(false, x, gradY, p, o) as Float32Array;
}

// ---------------------------------------------------------------- int8 GEMM

/** B [K, N] int8 packed once for gemmInt8 (what ORT does for constant MatMulInteger weights). */
export interface PackedB {
  readonly kind: 'packed-b';
  readonly K: number;
  readonly N: number;
  readonly data: Uint8Array;
  readonly colSums: Int32Array;
  /** The original, for the reference path. */
  readonly source: Int8Array;
}

export function packB(B: Int8Array, K: number, N: number): PackedB {
  checkInt(K, 'K', 1);
  checkInt(N, 'N', 1);
  checkArray(B, [Int8Array], 'B', K * N);
  const b = load();
  if (!b) return { kind: 'packed-b', K, N, data: new Uint8Array(0), colSums: new Int32Array(0), source: B };
  const data = new Uint8Array(b.packedBSize(K, N));
  const colSums = new Int32Array(N);
  b.packB(false, B, K, N, data, colSums);
  return { kind: 'packed-b', K, N, data, colSums, source: B };
}

export interface GemmShape {
  M: number;
  K: number;
  N: number;
  /** MatMulInteger a_zero_point (scalar). Default 0. */
  aZeroPoint?: number;
  /** MatMulInteger b_zero_point (scalar). Default 0. */
  bZeroPoint?: number;
}

function gemmImpl(async: boolean, A: Int8Array | Uint8Array, B: Int8Array | PackedB, s: GemmShape, o?: RunOptions): Promise<Int32Array> | Int32Array {
  if (s === null || typeof s !== 'object') throw invalid('an object { M, K, N }', 'shape', s);
  const M = checkInt(s.M, 'M', 1), K = checkInt(s.K, 'K', 1), N = checkInt(s.N, 'N', 1);
  checkArray(A, [Int8Array, Uint8Array], 'A', M * K);
  const aSigned = A instanceof Int8Array;
  const aZp = s.aZeroPoint ?? 0, bZp = s.bZeroPoint ?? 0;
  checkInt(aZp, 'aZeroPoint', aSigned ? -128 : 0, aSigned ? 127 : 255);
  checkInt(bZp, 'bZeroPoint', -128, 127);
  let packed: PackedB;
  if (B instanceof Int8Array) {
    checkArray(B, [Int8Array], 'B', K * N);
    packed = packB(B, K, N);
  } else {
    if (!B || (B as PackedB).kind !== 'packed-b') throw invalid('Int8Array or the result of packB()', 'B', B);
    if (B.K !== K || B.N !== N) throw invalid(`a packed B of ${K}×${N}`, 'B', `a packed B of ${B.K}×${B.N}`);
    packed = B;
  }
  const b = load();
  if (!b) { const r = gemmInt8Ref(A, packed.source, M, K, N, aZp, bZp); return async ? Promise.resolve(r) : r; }
  const { impl, threads } = runCode(o, false);
  const C = uninit(Int32Array, M * N);
  const a8 = new Uint8Array(A.buffer, A.byteOffset, A.byteLength);
  if (o?.impl === 'reference') {
    return finish(async, () => b.gemmRef(async, a8, aSigned, aZp, packed.source, bZp, M, K, N, C), () => C);
  }
  // A product worth at most about 2 ms of kernel time runs inline even from gemmInt8 (an already-resolved
  // Promise): the hop to a worker thread and back costs 60-80 µs median here plus a cold thread, about as
  // much as a 512³ kernel (measured 1447 async vs 1972 GOP/s sync). onnxruntime-node's session.run runs
  // every size on the JS thread (setImmediate + a synchronous native run).
  const inline = async && gemmRunsInline(M, K, N, o?.impl ?? 'auto');
  const r = finish(async && !inline, () => b.gemm(async && !inline, a8, aSigned, aZp, packed.data, packed.colSums, bZp, M, K, N, C, impl, threads), () => C);
  return inline ? Promise.resolve(r as Int32Array) : r;
}

/** Multiply-adds (M·K·N) that gemmInt8 runs inline: about 2 ms of work on AMX-INT8 (1024³, ~1 TOP/s on
 *  one core here) or on the VNNI / AVX2 / reference paths (512³). Larger products go off the JS thread. */
export const GEMM_INLINE_MACS = { amx: 1024 ** 3, other: 512 ** 3 } as const;
/** Whether gemmInt8 runs an M×K×N product on the calling thread (no worker hop). */
export function gemmRunsInline(M: number, K: number, N: number, impl: KernelImpl = 'auto'): boolean {
  const limit = gemmKernelFor(M, impl) === 'amx' ? GEMM_INLINE_MACS.amx : GEMM_INLINE_MACS.other;
  return M * K * N <= limit;
}

/** C[M,N] int32 = (A − aZp)(B − bZp), A int8 or uint8 [M,K], B int8 [K,N] or packB(B). VNNI / AMX on the CPU.
 *  Off the JS thread, except products of about 2 ms of work or less (GEMM_INLINE_MACS), which run inline. */
export function gemmInt8(A: Int8Array | Uint8Array, B: Int8Array | PackedB, s: GemmShape, o?: RunOptions): Promise<Int32Array> {
  try { return gemmImpl(true, A, B, s, o) as Promise<Int32Array>; } catch (e) { return Promise.reject(e); }
}
export function gemmInt8Sync(A: Int8Array | Uint8Array, B: Int8Array | PackedB, s: GemmShape, o?: RunOptions): Int32Array {
  return gemmImpl(false, A, B, s, o) as Int32Array;
}
/** The CPU kernel gemmInt8 runs for M rows with this impl ('amx', 'vnni' or 'reference'). */
export function gemmKernelFor(M: number, impl: KernelImpl = 'auto'): string {
  checkInt(M, 'M', 1);
  const b = load();
  if (!b) return 'typescript-reference';
  if (!(impl in IMPL_CODES)) throw invalid(`one of ${Object.keys(IMPL_CODES).join(', ')}`, 'impl', impl);
  try { return IMPL_NAMES[b.gemmImpl(IMPL_CODES[impl], M)] ?? 'unknown'; } catch (e) { throw new NativeKernelError('KERNEL_FAILED', (e as Error).message); }
}

/** s8 × s8 → s32 on the GPU's Tensor Cores (mma.sync m16n8k32). Throws CUDA_UNAVAILABLE without a device. */
export async function gemmInt8Cuda(A: Int8Array, B: Int8Array, s: { M: number; K: number; N: number }): Promise<Int32Array> {
  const M = checkInt(s?.M, 'M', 1), K = checkInt(s?.K, 'K', 1), N = checkInt(s?.N, 'N', 1);
  checkArray(A, [Int8Array], 'A', M * K);
  checkArray(B, [Int8Array], 'B', K * N);
  const b = need('gemmInt8Cuda');
  resolveDevice('cuda');
  const C = new Int32Array(M * N);
  await b.cudaGemmS8(true, A, B, M, K, N, C);
  return C;
}

// ---------------------------------------------------------------- GPTQ

/** GPTQ's options, shared with engine/quant/algorithms/gptq-core.ts gptqQuantize (the TypeScript reference); the result mirrors it. */
export interface GptqOptions {
  weight: Float32Array;
  rows: number;
  cols: number;
  hessian: Float32Array;
  bits: number;
  groupSize: number;
  symmetric: boolean;
  damp: number;
  blockSize: number;
  actOrder: boolean;
}
export interface GptqResult {
  q: Int8Array;
  scales: Float32Array;
  zeroPoints: Int32Array;
  dequantized: Float32Array;
}

function gptqImpl(async: boolean, o: GptqOptions, run?: RunOptions): Promise<GptqResult> | GptqResult {
  if (o === null || typeof o !== 'object') throw invalid('an object of GPTQ options', 'options', o);
  const rows = checkInt(o.rows, 'rows', 1), cols = checkInt(o.cols, 'cols', 1);
  checkArray(o.weight, [Float32Array], 'weight', rows * cols);
  checkArray(o.hessian, [Float32Array], 'hessian', cols * cols);
  const bits = checkInt(o.bits, 'bits', 2, 8);
  const groupSize = checkInt(o.groupSize, 'groupSize', 0);
  if (typeof o.symmetric !== 'boolean') throw invalid('a boolean', 'symmetric', o.symmetric);
  if (typeof o.actOrder !== 'boolean') throw invalid('a boolean', 'actOrder', o.actOrder);
  if (typeof o.damp !== 'number' || !Number.isFinite(o.damp) || o.damp < 0) throw invalid('a finite number >= 0', 'damp', o.damp);
  if (typeof o.blockSize !== 'number' || !(o.blockSize >= 1)) throw invalid('a number >= 1', 'blockSize', o.blockSize);
  const b = need('gptqQuantize');
  const threads = checkInt(run?.threads ?? 0, 'threads', 0, 1024);
  const device = resolveDevice(run?.device ?? 'cpu');
  const nG = groupSize > 0 ? Math.ceil(cols / groupSize) : 1;
  const res: GptqResult = { q: new Int8Array(rows * cols), scales: new Float32Array(rows * nG), zeroPoints: new Int32Array(rows * nG), dequantized: new Float32Array(rows * cols) };
  return finish(async, () => b.gptq(async, o.weight, rows, cols, o.hessian, bits, groupSize, o.symmetric, o.damp, Math.floor(o.blockSize), o.actOrder, res.q, res.scales, res.zeroPoints, res.dequantized, device === 'cuda' ? CUDA_CODE : 0, threads), () => res);
}

/**
 * Native GPTQ for one weight matrix, synchronous (the engine's GptqFn): the twin of gptq-core.ts,
 * bit-exact with it on the CPU (same float64/float32 operation order; rows in parallel, SIMD across columns).
 */
export function gptqQuantize(o: GptqOptions, run?: RunOptions): GptqResult {
  return gptqImpl(false, o, run) as GptqResult;
}
/** The same off the JS thread. device 'cuda' does the trailing block updates on the GPU (float32: close, not bit-exact). */
export function gptqQuantizeAsync(o: GptqOptions, run?: RunOptions): Promise<GptqResult> {
  try { return gptqImpl(true, o, run) as Promise<GptqResult>; } catch (e) { return Promise.reject(e); }
}

function hessianImpl(async: boolean, gram: Float64Array, X: Float32Array, rows: number, cols: number, o?: RunOptions): Promise<Float64Array> | Float64Array {
  checkInt(rows, 'rows', 0);
  checkInt(cols, 'cols', 1);
  checkArray(gram, [Float64Array], 'gram', cols * cols);
  checkArray(X, [Float32Array], 'X', rows * cols);
  const b = load();
  if (!b) { hessianAccumulateRef(gram, X, rows, cols); return async ? Promise.resolve(gram) : gram; }
  const threads = checkInt(o?.threads ?? 0, 'threads', 0, 1024);
  return finish(async, () => b.hessianAccumulate(async, gram, X, rows, cols, threads), () => gram);
}

/** GPTQ's Hessian statistics: gram[cols × cols] += XᵀX (float64) for activations X [rows × cols]; H = 2·gram / samples. */
export function hessianAccumulate(gram: Float64Array, X: Float32Array, rows: number, cols: number, o?: RunOptions): Promise<Float64Array> {
  try { return hessianImpl(true, gram, X, rows, cols, o) as Promise<Float64Array>; } catch (e) { return Promise.reject(e); }
}
export function hessianAccumulateSync(gram: Float64Array, X: Float32Array, rows: number, cols: number, o?: RunOptions): Float64Array {
  return hessianImpl(false, gram, X, rows, cols, o) as Float64Array;
}

// ---------------------------------------------------------------- bench helpers

/** memcpy of src into dst on `threads` threads: the bandwidth baseline the bench compares quantize against. */
export function copyBytesSync(dst: Uint8Array, src: Uint8Array, threads = 0): void {
  checkArray(dst, [Uint8Array], 'dst');
  checkArray(src, [Uint8Array], 'src', dst.length);
  checkInt(threads, 'threads', 0, 1024);
  need('copyBytes').copyBytes(false, dst, src, threads);
}

/** Device-resident CUDA timings for the bench (ms per call). Throws CUDA_UNAVAILABLE without a device. */
export function cudaBench(kind: 'quantize' | 'copy' | 'gemm', dims: number[], iters = 20): { ms: number; work: number } {
  const b = need('cudaBench');
  resolveDevice('cuda');
  if (!['quantize', 'copy', 'gemm'].includes(kind)) throw invalid("'quantize', 'copy' or 'gemm'", 'kind', kind);
  const [a = 0, c = 0, d = 0] = dims;
  return b.cudaBench(kind, a, c, d, checkInt(iters, 'iters', 1, 10000));
}
