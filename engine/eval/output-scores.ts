// Scores of a model's outputs against the FP32 reference on the same samples, accumulated batch by
// batch: SQNR / cosine, top-1 agreement (only where the first output is class scores), top-1 accuracy
// on labels and, for a language model fed token windows, perplexity — each for both models, so a task
// metric's drop is measured on exactly the same samples. Undefined metrics carry their reason.
// SQNR / cosine / MSE are the worst output's: a detector's heads (scores for two anchor grids, box
// offsets) are separate outputs of different scale, and scoring only the first let a target search
// meet 30 dB there while another head's scores were at 7-16 dB (false faces on every photo).
import type { NpyArray } from '../data/npy';
import { AgreementAccumulator, NON_FINITE_REASON, argmaxRows, top1NotApplicable, type Agreement } from './agreement';
import { widenHalf, widenBfloat16 } from '../onnx/tensor';
import { isDecoderAuxiliaryInput } from '../data/transformer-inputs';

export interface TensorLike { data: ArrayLike<number> | unknown; dims: readonly number[]; type?: string }

export interface OutputScores extends Agreement {
  samples: number;
  top1Agreement?: number;
  /** The output the SQNR / cosine / MSE figures are from, when the model has several float outputs (the worst). */
  worstOutput?: string;
  /** Why top-1 agreement has no value (the output is not class scores). */
  top1AgreementUndefined?: string;
  /** Top-1 accuracy on the labels, FP32 and quantized (when labels were given and the output is class scores). */
  top1Fp32?: number;
  top1Quantized?: number;
  /** Next-token perplexity on the token windows, FP32 and quantized (int64 [B,T] input, [B,T,V] output). */
  perplexityFp32?: number;
  perplexityQuantized?: number;
}

/**
 * The token windows that make an LM's perplexity computable: one int64 [B,T] input, beside which only
 * a decoder's auxiliary inputs (attention_mask, position_ids, an empty KV cache, seqlens_k, ...) may be fed.
 */
export function lmWindows(inputs: Record<string, NpyArray>): NpyArray | undefined {
  const v = Object.entries(inputs).filter(([name]) => !isDecoderAuxiliaryInput(name)).map(([, a]) => a);
  return v.length === 1 && v[0]!.dtype === 'int64' && v[0]!.shape.length === 2 ? v[0] : undefined;
}

const FLOAT_TYPES = new Set(['float32', 'float16', 'bfloat16', 'float64']);

/**
 * A float output's values as float32, the form every score is computed in: a float16 / bfloat16 /
 * float64 output (a model exported in half precision keeps its output so) is widened. Data already
 * widened (a reference kept between runs) passes as is. undefined: not a float output.
 */
export function scoreValues(t: TensorLike): Float32Array | undefined {
  const d = t.data;
  if (t.type !== undefined && !FLOAT_TYPES.has(t.type)) return undefined;
  if (d instanceof Float32Array) return d;
  // onnxruntime-node hands float16 as raw bits (Uint16Array), or as Float16Array where the runtime has one.
  if (t.type === 'float16') return d instanceof Uint16Array ? widenHalf(d) : Float32Array.from(d as ArrayLike<number>);
  if (t.type === 'bfloat16') return widenBfloat16(d as Uint16Array);
  if (t.type === 'float64') return Float32Array.from(d as Float64Array);
  return undefined;
}

export class OutputScorer {
  private agreement = new AgreementAccumulator();
  private agree = 0;
  private rows = 0;
  private notClasses?: string;
  private correct = [0, 0];
  private labelled = 0;
  private nll = [0, 0];
  private tokens = 0;
  /** A token id at or past the output's last axis: that output is no distribution over the tokens. */
  private outOfVocabulary = false;
  private samples = 0;
  private readonly others = new Map<string, AgreementAccumulator>();

  /** `labels` [N] and `ids` [N,T] are indexed by the sample numbers passed to add(). */
  constructor(private readonly o: { labels?: NpyArray; ids?: NpyArray } = {}) {}

  add(ref: TensorLike, test: TensorLike, start: number, end: number): void {
    this.samples += end - start;
    const x = scoreValues(ref), y = scoreValues(test);
    if (!x || !y) { this.notClasses ??= `the output is ${x ? test.type : ref.type}, not float scores`; return; }
    this.agreement.add(x, y);
    const dims = ref.dims.map(Number);
    const reason = top1NotApplicable(dims);
    if (reason) { this.notClasses ??= reason; return; }
    const classes = dims[dims.length - 1]!;
    const px = argmaxRows(x, classes), py = argmaxRows(y, classes);
    for (let i = 0; i < px.length; i++) if (px[i] === py[i]) this.agree++;
    this.rows += px.length;
    const labels = this.o.labels;
    if (labels && dims.length === 2) {
      for (let r = 0; r < px.length && start + r < labels.shape[0]!; r++) {
        const l = Number(labels.data[start + r] as number | bigint);
        if (px[r] === l) this.correct[0]!++;
        if (py[r] === l) this.correct[1]!++;
        this.labelled++;
      }
    }
    const ids = this.o.ids;
    if (ids && dims.length === 3 && dims[1] === ids.shape[1]) {
      const T = dims[1]!, V = classes;
      for (let r = 0; r < end - start; r++) {
        for (let t = 0; t < T - 1; t++) {
          const target = Number(ids.data[(start + r) * T + t + 1] as bigint);
          if (target >= V) this.outOfVocabulary = true;
          if (target < 0 || target >= V) continue;
          const base = (r * T + t) * V;
          this.nll[0]! += nllAt(x, base, V, target);
          this.nll[1]! += nllAt(y, base, V, target);
          this.tokens++;
        }
      }
    }
  }

  /**
   * One of the model's further outputs (after the first, which add() takes) on the same samples: it
   * counts in SQNR / cosine / MSE only, each output accumulated apart and the worst reported. Outputs
   * that are not float values (indices, masks of ints) are left out.
   */
  addOutput(name: string, ref: TensorLike, test: TensorLike): void {
    const x = scoreValues(ref), y = scoreValues(test);
    if (!x || !y) return;
    let acc = this.others.get(name);
    if (!acc) this.others.set(name, acc = new AgreementAccumulator());
    acc.add(x, y);
  }

  result(): OutputScores {
    let a: Agreement = this.agreement.result();
    let worst: string | undefined;
    for (const [name, acc] of this.others) {
      const r = acc.result();
      // Non-finite values in any output win over every number (that output is not usable); a first
      // output with no float values compared (indices) gives way to the next one that has them.
      if (a.undefinedReason === NON_FINITE_REASON) break;
      if (r.undefinedReason === NON_FINITE_REASON || a.undefinedReason || r.sqnrDb < a.sqnrDb) { a = r; worst = name; }
    }
    const out: OutputScores = { ...a, samples: this.samples };
    if (worst !== undefined) out.worstOutput = worst;
    if (this.notClasses) out.top1AgreementUndefined = this.notClasses;
    else if (this.rows) out.top1Agreement = this.agree / this.rows;
    if (this.labelled) { out.top1Fp32 = this.correct[0]! / this.labelled; out.top1Quantized = this.correct[1]! / this.labelled; }
    // An encoder fed only input_ids and attention_mask (DistilBERT-style) also has a [B,T,D] first output;
    // its hidden size D is no vocabulary, and token ids past it show it.
    if (this.tokens && !this.outOfVocabulary) { out.perplexityFp32 = Math.exp(this.nll[0]! / this.tokens); out.perplexityQuantized = Math.exp(this.nll[1]! / this.tokens); }
    return out;
  }
}

/** -log softmax(row)[target], computed stably. */
function nllAt(logits: Float32Array, base: number, V: number, target: number): number {
  let m = -Infinity;
  for (let v = 0; v < V; v++) if (logits[base + v]! > m) m = logits[base + v]!;
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[base + v]! - m);
  return Math.log(sum) + m - logits[base + target]!;
}
