// Tensors inside If branches cannot be graph outputs. For calibration, replace each main-graph If whose
// branches hold wanted tensors by the branch the calibration data takes (its condition is read from
// one run of the model), so those tensors become ordinary main-graph values.
import { clone, create, ModelProtoSchema, NodeProtoSchema, type GraphProto, type ModelProto } from '../../onnx/proto';
import { serializeModel } from '../../onnx/model-io';
import type { NpyArray } from '../../data/npy';
import { createSession, type Device } from '../../runtime/session';
import { feedsFor, runSize } from '../../runtime/batching';
import { addGraphOutputs } from './augment';

function producedIn(g: GraphProto, out: Set<string>): Set<string> {
  for (const n of g.node) {
    for (const o of n.output) out.add(o);
    for (const a of n.attribute) for (const sg of [...(a.g ? [a.g] : []), ...a.graphs]) producedIn(sg, out);
  }
  return out;
}

export async function inlineTakenBranches(model: ModelProto, tensors: readonly string[], inputs: Record<string, NpyArray>, device?: Device): Promise<{ model: ModelProto; inlined: string[] }> {
  const wanted = new Set(tensors);
  const g0 = model.graph!;
  const ifs = g0.node.filter((n) => n.opType === 'If' && n.attribute.some((a) => a.g && [...producedIn(a.g, new Set())].some((t) => wanted.has(t))));
  if (ifs.length === 0) return { model, inlined: [] };
  const probe = await createSession(serializeModel(addGraphOutputs(model, ifs.map((n) => n.input[0]!))), { device, source: 'branch probe' });
  const out = await probe.run(feedsFor(inputs, 0, runSize(inputs, 1)), ifs.map((n) => n.input[0]!));
  await probe.release();
  const m = clone(ModelProtoSchema, model);
  const g = m.graph!;
  const inlined: string[] = [];
  g.node = g.node.flatMap((n) => {
    const k = ifs.findIndex((x) => x.name === n.name && x.output[0] === n.output[0]);
    if (k < 0) return [n];
    const cond = Boolean(Number((out[n.input[0]!]!.data as ArrayLike<number | bigint | boolean>)[0]));
    const branch = n.attribute.find((a) => a.name === (cond ? 'then_branch' : 'else_branch'))!.g!;
    inlined.push(`${n.name}:${cond ? 'then' : 'else'}`);
    g.initializer.push(...branch.initializer);
    const tail = branch.output.map((o, i) => create(NodeProtoSchema, { opType: 'Identity', name: `${n.name}_inlined_out_${i}`, input: [o.name], output: [n.output[i]!] }));
    return [...branch.node, ...tail];
  });
  return { model: m, inlined };
}
