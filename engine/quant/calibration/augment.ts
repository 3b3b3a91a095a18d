// Expose intermediate tensors as extra graph outputs so one ORT run returns them (the "augmented
// model" of ORT's calibrate.py). The original model object is not modified.
import { clone, create, ModelProtoSchema, ValueInfoProtoSchema, TypeProtoSchema, TypeProto_TensorSchema, type ModelProto } from '../../onnx/proto';

export function addGraphOutputs(model: ModelProto, tensors: readonly string[]): ModelProto {
  const m = clone(ModelProtoSchema, model);
  const g = m.graph!;
  const have = new Set(g.output.map((o) => o.name));
  const typed = new Map<string, number>();
  for (const v of [...g.valueInfo, ...g.input, ...g.output]) {
    const t = v.type?.value.case === 'tensorType' ? v.type.value.value.elemType : undefined;
    if (t) typed.set(v.name, t);
  }
  for (const name of tensors) {
    if (have.has(name)) continue;
    have.add(name);
    // Unknown element type: leave the type out and let onnxruntime infer it (a guessed float would
    // clash with e.g. a bool condition).
    const elemType = typed.get(name);
    g.output.push(create(ValueInfoProtoSchema, elemType
      ? { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType }) } }) }
      : { name }));
  }
  return m;
}
