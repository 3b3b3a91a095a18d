// Check the --data arrays against the model's inputs before any work: every input present, no
// unknown names, dtypes that match, ranks that match, fixed dimensions equal, same sample count.
import type { ModelProto } from '../onnx/proto';
import { dataTypeName } from '../onnx/tensor';
import type { NpyArray } from '../data/npy';
import { StudioError, quote } from '../errors';
import { markConstantInput } from '../runtime/batching';

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

export function validateInputs(model: ModelProto, inputs: Record<string, NpyArray>, source: string, sources: Record<string, string> = {}): void {
  const wanted = modelInputs(model);
  const names = wanted.map((w) => w.name);
  const file = (n: string) => (sources[n] ? ` (file ${quote(sources[n])})` : '');
  for (const n of Object.keys(inputs)) {
    if (!names.includes(n)) throw new StudioError('BAD_DATA', `Data given for input ${quote(n)}${file(n)}, but model ${quote(source)} has no such input; its inputs are ${names.map((x) => quote(x)).join(', ')}.`);
  }
  let samples: number | undefined;
  const later: [string, number][] = [];
  for (const w of wanted) {
    const a = inputs[w.name];
    if (!a) throw new StudioError('BAD_DATA', `Model ${quote(source)} needs data for input ${quote(w.name)} (${w.dtype} [${w.dims.join(', ')}]): pass --data ${w.name}=FILE.npy.`);
    const dtypeOk = a.dtype === w.dtype || (w.dtype === 'float16' && a.dtype === 'float16');
    if (!dtypeOk) throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} is ${a.dtype}, but model ${quote(source)} expects ${w.dtype} [${w.dims.join(', ')}].`);
    // An input with no sample axis (rank 0, or a fixed first dimension) is fed whole to every run.
    if (w.dims.length === 0 || (typeof w.dims[0] === 'number' && w.dims[0] > 0)) {
      if (a.shape.length !== w.dims.length || w.dims.some((d, i) => typeof d === 'number' && d > 0 && a.shape[i] !== d)) {
        throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} has shape [${a.shape.join(', ')}], but model ${quote(source)} expects [${w.dims.join(', ')}] (this input has no sample axis: give it exactly that shape, symbolic dimensions as 1).`);
      }
      const batchAxis = w.dims.findIndex((d, i) => i > 0 && typeof d !== 'number');
      const perSample = batchAxis > 0 && a.shape[batchAxis] !== 1;
      markConstantInput(a, batchAxis > 0 ? batchAxis : undefined, perSample);
      if (perSample) later.push([w.name, a.shape[batchAxis]!]);
      continue;
    }
    if (w.dims.length && a.shape.length !== w.dims.length) throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} has shape [${a.shape.join(', ')}] (rank ${a.shape.length}), but model ${quote(source)} expects rank ${w.dims.length}: [${w.dims.join(', ')}] with the samples on axis 0.`);
    w.dims.forEach((d, i) => {
      if (i > 0 && typeof d === 'number' && d > 0 && a.shape[i] !== d) throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} has shape [${a.shape.join(', ')}], but model ${quote(source)} expects [${w.dims.join(', ')}]: axis ${i} must be ${d}.`);
    });
    if ((a.shape[0] ?? 0) === 0) throw new StudioError('BAD_DATA', `Data for input ${quote(w.name)}${file(w.name)} holds no samples (axis 0 is 0).`);
    if (samples !== undefined && a.shape[0] !== samples) throw new StudioError('BAD_DATA', `Data arrays disagree on the sample count: input ${quote(w.name)}${file(w.name)} has ${a.shape[0]} samples, another input has ${samples}.`);
    samples = a.shape[0];
  }
  for (const [name, n] of later) {
    if (samples !== undefined && n !== samples) throw new StudioError('BAD_DATA', `Data for input ${quote(name)}${file(name)} holds ${n} samples along its batch axis, but the other inputs hold ${samples}.`);
  }
}
