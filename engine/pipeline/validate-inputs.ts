// Check the --data arrays against the model's inputs before any work: every input present, no
// unknown names, dtypes that match, ranks that match, fixed dimensions equal, same sample count, and
// how each array is fed (samples on axis 0, in runs of a fixed size, or whole to every run).
import type { ModelProto } from '../onnx/proto';
import { dataTypeName } from '../onnx/tensor';
import type { NpyArray } from '../data/npy';
import { StudioError, quote } from '../errors';
import { markConstantInput, markFixedRunSize, clearFeedLayout } from '../runtime/batching';
import { TOKEN_INPUT_NAMES, PAST_CACHE_INPUT } from '../data/transformer-inputs';

export interface ModelInput { name: string; dtype: string; dims: (number | string)[] }

export function modelInputs(model: ModelProto): ModelInput[] {
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  return g.input.filter((i) => !inits.has(i.name)).map((i) => {
    const tt = i.type?.value.case === 'tensorType' ? i.type.value.value : undefined;
    const dims = (tt?.shape?.dim ?? []).map((d) => (d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : '?'));
    return { name: i.name, dtype: dataTypeName[tt?.elemType ?? 0] ?? 'unknown', dims };
  });
}

export interface ValidatedInputs {
  /** Samples each run takes when the model fixes its leading axis (undefined: any batch size). */
  fixedRunSize?: number;
  /** What the caller should tell the user (samples left out to fill whole fixed-size runs). */
  notices: string[];
}

const isFixed = (d: number | string | undefined): d is number => typeof d === 'number' && d > 0;
const shapeText = (s: readonly (number | string)[]) => `[${s.join(', ')}]`;

/**
 * Validates `inputs` against the model and marks how each array is fed (runtime/batching). A fixed
 * leading dimension k (batch 1 from tf2onnx, fixed-batch vision exporters) takes samples [N, …] fed
 * in runs of exactly k, or [N, k, …] (one model-shaped batch per sample); arrays replaced by such
 * a reshaped view are written back into `inputs`.
 */
export function validateInputs(model: ModelProto, inputs: Record<string, NpyArray>, source: string, sources: Record<string, string> = {}): ValidatedInputs {
  const wanted = modelInputs(model);
  const names = wanted.map((w) => w.name);
  const file = (n: string) => (sources[n] ? ` (file ${quote(sources[n])})` : '');
  for (const n of Object.keys(inputs)) {
    if (!names.includes(n)) throw new StudioError('BAD_DATA', `Data given for input ${quote(n)}${file(n)}, but model ${quote(source)} has no such input; its inputs are ${names.map((x) => quote(x)).join(', ')}.`);
  }
  const derived = deriveAuxiliaryInputs(wanted, inputs);
  // Inputs with a free leading axis carry the samples; when one exists, an array shaped exactly like a
  // fixed-leading input is a constant fed whole to every run (an RNN state, a mask), not one sample.
  const freeLead = wanted.some((w) => w.dims.length > 0 && !isFixed(w.dims[0]));
  let samples: number | undefined;
  let fixedRun: number | undefined;
  const notices: string[] = [];
  const later: [string, number][] = [];
  const agree = (name: string, n: number) => {
    if (samples !== undefined && n !== samples) throw new StudioError('BAD_DATA', `Data arrays disagree on the sample count: input ${quote(name)}${file(name)} has ${n} samples, another input has ${samples}.`);
    samples = n;
  };
  for (const w of wanted) {
    let a = inputs[w.name];
    if (!a) throw new StudioError('BAD_DATA', `Model ${quote(source)} needs data for input ${quote(w.name)} (${w.dtype} ${shapeText(w.dims)}): pass --data ${w.name}=FILE.npy.`);
    if (a.dtype !== w.dtype) throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} is ${a.dtype}, but model ${quote(source)} expects ${w.dtype} ${shapeText(w.dims)}.`);
    // The layout marks travel with copies of the array: a mark made for another model must not stay.
    clearFeedLayout(a);
    const tailMatches = (shape: readonly number[], dims: readonly (number | string)[]) => shape.length === dims.length && dims.every((d, i) => !isFixed(d) || shape[i] === d);
    if (w.dims.length === 0) {
      if (a.shape.length !== 0) throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} has shape ${shapeText(a.shape)}, but model ${quote(source)} expects a scalar (fed whole to every run).`);
      markConstantInput(a);
      continue;
    }
    const lead = w.dims[0];
    if (isFixed(lead)) {
      const batchAxis = w.dims.findIndex((d, i) => i > 0 && !isFixed(d));
      const exact = tailMatches(a.shape, w.dims);
      if (batchAxis > 0 && exact) {
        // A state such as [2, batch, 128]: fed whole, its batch axis tiled or sliced per run.
        const perSample = a.shape[batchAxis] !== 1;
        markConstantInput(a, batchAxis, perSample);
        if (perSample) later.push([w.name, a.shape[batchAxis]!]);
        continue;
      }
      if (exact && a.shape[0] === lead && freeLead) { markConstantInput(a); continue; }
      if (a.shape.length === w.dims.length + 1 && a.shape[1] === lead && tailMatches(a.shape.slice(1), w.dims)) {
        // [N, k, …]: N model-shaped batches, viewed as N·k samples (no copy).
        a = { dtype: a.dtype, shape: [a.shape[0]! * lead, ...a.shape.slice(2)], data: a.data };
        inputs[w.name] = a;
      } else if (!(a.shape.length === w.dims.length && tailMatches(a.shape.slice(1), w.dims.slice(1)))) {
        throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} has shape ${shapeText(a.shape)}, but model ${quote(source)} expects ${shapeText(w.dims)}, whose first axis is fixed to ${lead}: give the samples as ${shapeText(['N', ...w.dims.slice(1)])} (fed ${lead} per run) or ${shapeText(['N', ...w.dims])}.`);
      }
      if (fixedRun !== undefined && fixedRun !== lead) throw new StudioError('BAD_DATA', `Model ${quote(source)} fixes the first axis of input ${quote(w.name)} to ${lead} but another input's to ${fixedRun}: the inputs cannot be fed in common runs.`);
      fixedRun = lead;
      if ((a.shape[0] ?? 0) < lead) throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} holds ${a.shape[0]} sample(s), fewer than one run of ${lead} (model ${quote(source)} fixes the first axis of ${shapeText(w.dims)}).`);
      markFixedRunSize(a, lead);
      const left = a.shape[0]! % lead;
      if (left) notices.push(`Input ${quote(w.name)} takes runs of exactly ${lead} samples (the model fixes its first axis): the last ${left} of ${a.shape[0]} sample(s) are left out.`);
      agree(w.name, a.shape[0]!);
      continue;
    }
    if (a.shape.length !== w.dims.length) throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} has shape ${shapeText(a.shape)} (rank ${a.shape.length}), but model ${quote(source)} expects rank ${w.dims.length}: ${shapeText(w.dims)} with the samples on axis 0.`);
    w.dims.forEach((d, i) => {
      if (i > 0 && isFixed(d) && a!.shape[i] !== d) throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} has shape ${shapeText(a!.shape)}, but model ${quote(source)} expects ${shapeText(w.dims)}: axis ${i} must be ${d}.`);
    });
    if ((a.shape[0] ?? 0) === 0) throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} holds no samples (axis 0 is 0).`);
    agree(w.name, a.shape[0]!);
  }
  for (const [name, n] of later) {
    if (samples !== undefined && n !== samples) throw new StudioError('BAD_DATA', `Data for input ${quote(name)}${file(name)} holds ${n} samples along its batch axis, but the other inputs hold ${samples}.`);
  }
  checkTokenRange(model, inputs, source, file);
  if (derived.length) notices.unshift(`Derived ${derived.join(', ')} from the token ids (the model's auxiliary inputs; give them with --data to override).`);
  return { ...(fixedRun !== undefined ? { fixedRunSize: fixedRun } : {}), notices };
}

/**
 * Token ids past the embedding table would fail in the first calibration run with an ORT Gather error
 * (a tokenizer of another model, a byte model fed BPE ids): checked here, naming the table's size.
 */
function checkTokenRange(model: ModelProto, inputs: Record<string, NpyArray>, source: string, file: (n: string) => string): void {
  const g = model.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  for (const n of g.node) {
    if (n.opType !== 'Gather' || !inputs[n.input[1] ?? '']) continue;
    const table = inits.get(n.input[0] ?? '');
    const axis = Number(n.attribute.find((x) => x.name === 'axis')?.i ?? 0);
    if (!table || axis !== 0 || table.dims.length < 1) continue;
    const rows = Number(table.dims[0]);
    const a = inputs[n.input[1]!]!;
    if (a.dtype !== 'int64' && a.dtype !== 'int32') continue;
    let max = -Infinity;
    for (let i = 0; i < a.data.length; i++) { const v = Number(a.data[i] as bigint | number); if (v > max) max = v; }
    if (max < rows) continue;
    const at = `(Gather ${quote(n.name || n.output[0]!)} on ${quote(table.name)})`;
    if (/position/i.test(n.input[1]!)) throw new StudioError('BAD_DATA', `Input ${quote(n.input[1]!)} reaches position ${max}, but model ${quote(source)} embeds ${rows} positions ${at}: use windows of at most ${rows} tokens.`);
    throw new StudioError('BAD_DATA', `Data for input ${quote(n.input[1]!)}${file(n.input[1]!)} holds token id ${max}, but model ${quote(source)} embeds ${rows} tokens ${at}: was the text tokenized with this model's tokenizer?`);
  }
}

// Transformer exports as users have them (Hugging Face Optimum / transformers.js decoders and BERT-style
// encoders) take more than the tokens: masks, positions, an empty KV cache, a use-cache switch. Given
// input_ids [B,T] alone, those follow from it; anything else missing is still reported as missing.
/** Fills in the auxiliary inputs of a transformer export from `input_ids` (in place); returns their names. */
export function deriveAuxiliaryInputs(wanted: ModelInput[], inputs: Record<string, NpyArray>): string[] {
  const idsName = TOKEN_INPUT_NAMES.find((n) => inputs[n]);
  const ids = idsName ? inputs[idsName]! : undefined;
  const idsInput = wanted.find((w) => w.name === idsName);
  if (!ids || !idsInput || ids.shape.length !== 2) return [];
  const [B, T] = [ids.shape[0]!, ids.shape[1]!];
  const seqParam = idsInput.dims[1];
  const made: string[] = [];
  const fill = (w: ModelInput, shape: number[], value: (b: number, t: number, i: number) => number): NpyArray | undefined => {
    const n = shape.reduce((a, b) => a * b, 1);
    const inner = n / Math.max(1, shape[0] ?? 1) / Math.max(1, shape[1] ?? 1);
    switch (w.dtype) {
      case 'int64': return { dtype: 'int64', shape, data: BigInt64Array.from({ length: n }, (_, i) => BigInt(value(Math.floor(i / (n / Math.max(1, shape[0] ?? 1))), Math.floor(i / inner) % (shape[1] ?? 1), i))) };
      case 'int32': return { dtype: 'int32', shape, data: Int32Array.from({ length: n }, (_, i) => value(Math.floor(i / (n / Math.max(1, shape[0] ?? 1))), Math.floor(i / inner) % (shape[1] ?? 1), i)) };
      case 'float32': return { dtype: 'float32', shape, data: Float32Array.from({ length: n }, (_, i) => value(Math.floor(i / (n / Math.max(1, shape[0] ?? 1))), Math.floor(i / inner) % (shape[1] ?? 1), i)) };
      case 'float16': return { dtype: 'float16', shape, data: new Uint16Array(n).fill(value(0, 0, 0) ? 0x3c00 : 0) };
      case 'bool': return { dtype: 'bool', shape, data: new Uint8Array(n).fill(value(0, 0, 0) ? 1 : 0) };
      default: return undefined;
    }
  };
  for (const w of wanted) {
    if (inputs[w.name]) continue;
    const name = w.name.toLowerCase();
    let a: NpyArray | undefined;
    if (name === 'attention_mask' && w.dims.length === 2) a = fill(w, [B, T], () => 1);
    else if (name === 'position_ids' && w.dims.length === 2) a = fill(w, [B, T], (_b, t) => t);
    else if (name === 'token_type_ids' && w.dims.length === 2) a = fill(w, [B, T], () => 0);
    // ORT GenAI-style decoders (GroupQueryAttention): per-sequence past length and the total length.
    else if (name === 'seqlens_k' && w.dims.length === 1) a = fill(w, [B], () => T - 1);
    else if (name === 'total_sequence_length' && w.dims.length === 0) a = fill(w, [], () => T);
    else if (PAST_CACHE_INPUT.test(name) && w.dims.length >= 3) {
      // Empty cache: the batch axis B, the sequence axis (the symbolic one that is not the batch) 0.
      const shape = w.dims.map((d, i) => (i === 0 ? B : typeof d === 'number' && d > 0 ? d : d === seqParam ? T : 0));
      a = fill(w, shape, () => 0);
    } else if (name === 'use_cache_branch' && w.dims.length <= 1) {
      a = fill(w, w.dims.length ? [1] : [], () => 0);
      if (a) { inputs[w.name] = a; made.push(w.name); }
      continue;
    }
    if (a) { inputs[w.name] = a; made.push(w.name); }
  }
  return made;
}
