// Per-layer error measures for the weight-only report, computed from the calibration Gram matrix
// (XᵀX), so no activation needs to be kept: for a weight change Δ (rows × cols)
//   ‖X·Δᵀ‖²_F = Σ_r δ_rᵀ (XᵀX) δ_r.
// The quadratic forms run as one small ORT graph (MatMul + Mul + ReduceSum) — far faster than JS loops.
import { createSession, ort, type StudioSession } from '../../runtime/session';
import { availableParallelism } from 'node:os';
import {
  create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, ValueInfoProtoSchema, TypeProtoSchema,
  TypeProto_TensorSchema, OperatorSetIdProtoSchema, AttributeProtoSchema, AttributeType, toBinary,
} from '../../onnx/proto';
import { DataType, makeTensor } from '../../onnx/tensor';

let sessionPromise: Promise<StudioSession> | null = null;

function quadFormModel(): Uint8Array {
  const vi = (name: string) => create(ValueInfoProtoSchema, {
    name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: DataType.FLOAT }) } }),
  });
  const n = (opType: string, input: string[], output: string[], keepdims?: number) => create(NodeProtoSchema, {
    opType, input, output, name: output[0],
    attribute: keepdims === undefined ? [] : [create(AttributeProtoSchema, { name: 'keepdims', type: AttributeType.INT, i: 0n })],
  });
  const m = create(ModelProtoSchema, {
    irVersion: 8n,
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph: create(GraphProtoSchema, {
      name: 'quadform',
      node: [n('MatMul', ['D', 'H'], ['DH']), n('Mul', ['DH', 'D'], ['P']), n('ReduceSum', ['P', 'axes'], ['q'], 0)],
      initializer: [makeTensor('axes', DataType.INT64, [1], BigInt64Array.from([-1n]))],
      input: [vi('D'), vi('H')],
      output: [vi('q')],
    }),
  });
  return toBinary(ModelProtoSchema, m);
}

async function quadSession(): Promise<StudioSession> {
  sessionPromise ??= createSession(quadFormModel(), { device: 'cpu', threads: availableParallelism(), spinning: false, source: 'group quadratic forms' });
  return sessionPromise;
}

let holders = 0;

/**
 * Marks a run that uses the quadratic forms (GPTQ, AWQ); `release()` at its end closes the shared
 * session once no run holds it. Its arena keeps the largest forms' buffers (D, D·H and their product:
 * for a 1 B-parameter model's LM head [32000, 2048] about 0.8 GB), which otherwise stayed through the
 * evaluation, when the FP32 model is open beside them.
 */
export function holdQuadraticForms(): { release(): Promise<void> } {
  holders++;
  let done = false;
  return {
    async release() {
      if (done) return;
      done = true;
      if (--holders > 0 || !sessionPromise) return;
      const p = sessionPromise;
      sessionPromise = null;
      await (await p).release();
    },
  };
}

/** Whether the shared quadratic-form session is open (tests). */
export function quadraticFormsOpen(): boolean {
  return sessionPromise !== null;
}

/** Per group g and row r: d_grᵀ H_g d_gr, for D [nG, rows, gs] and H [nG, gs, gs] → [nG, rows]. */
export async function groupQuadraticForms(D: Float32Array, nG: number, rows: number, gs: number, H: Float32Array): Promise<Float32Array> {
  const s = await quadSession();
  const res = await s.run({ D: new ort.Tensor('float32', D, [nG, rows, gs]), H: new ort.Tensor('float32', H, [nG, gs, gs]) });
  return res.q!.data as Float32Array;
}

/** d_rᵀ H d_r per row r, for D [rows × cols] and a symmetric H [cols × cols]. */
export async function rowQuadraticForms(D: Float32Array, rows: number, cols: number, H: Float32Array): Promise<Float32Array> {
  const s = await quadSession();
  const res = await s.run({ D: new ort.Tensor('float32', D, [rows, cols]), H: new ort.Tensor('float32', H, [cols, cols]) });
  return res.q!.data as Float32Array;
}

/** Σ_r d_rᵀ H d_r for D [rows × cols] and a symmetric H [cols × cols]. */
export async function quadraticFormSum(D: Float32Array, rows: number, cols: number, H: Float32Array): Promise<number> {
  const s = await quadSession();
  const res = await s.run({ D: new ort.Tensor('float32', D, [rows, cols]), H: new ort.Tensor('float32', H, [cols, cols]) });
  const q = res.q!.data as Float32Array;
  let tot = 0;
  for (let i = 0; i < q.length; i++) tot += q[i]!;
  return tot;
}

export interface LayerErrorPair {
  /** Relative weight error ‖W − Ŵ‖² / ‖W‖². */
  weight: number;
  /** Relative output error ‖X(W − Ŵ)ᵀ‖² / ‖XWᵀ‖² on the calibration activations. */
  output: number;
}

/** Relative weight and output errors of a quantized weight, given H ∝ XᵀX (any positive scale). */
export async function layerErrors(w: Float32Array, wq: Float32Array, rows: number, cols: number, H: Float32Array, outputNorm?: number): Promise<LayerErrorPair & { outputNorm: number }> {
  const d = new Float32Array(w.length);
  let dw = 0, ww = 0;
  for (let i = 0; i < w.length; i++) { const x = w[i]! - wq[i]!; d[i] = x; dw += x * x; ww += w[i]! * w[i]!; }
  const norm = outputNorm ?? await quadraticFormSum(w, rows, cols, H);
  const out = await quadraticFormSum(d, rows, cols, H);
  return { weight: ww > 0 ? dw / ww : 0, output: norm > 0 ? out / norm : 0, outputNorm: norm };
}

/** H = 2·gram / count as float32 (what GPTQ and the error measures take). */
export function hessianFromGram(grams: { gram?: Float64Array; count: number }[], cols: number): Float32Array {
  const H = new Float32Array(cols * cols);
  let count = 0;
  for (const g of grams) count += g.count;
  const f = count > 0 ? 2 / count : 0;
  for (const g of grams) {
    if (!g.gram) continue;
    for (let i = 0; i < H.length; i++) H[i]! += g.gram[i]! * f;
  }
  return H;
}
