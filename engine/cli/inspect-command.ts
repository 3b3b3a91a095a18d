// `qstudio inspect MODEL.onnx`: opset, inputs/outputs, op counts, what the default recipe would quantize.
import { loadModel } from '../onnx/model-io';
import { StudioError, quote } from '../errors';
import { modelInputs, deriveAuxiliaryInputs } from '../pipeline/validate-inputs';
import { TOKEN_INPUT_NAMES } from '../data/transformer-inputs';
import { walkGraphs } from '../onnx/graph';
import { planQdq } from '../export/qdq-plan';
import { modelSupport } from '../pipeline/model-support';
import { parseRecipe } from '../pipeline/recipe';
import { detectHardware, describeHardware } from '../runtime/hardware';
import { ACTIVATION_QUANT_OP_TYPES } from '../core/ops';

export async function inspectCommand(argv: string[]): Promise<number> {
  if (argv.length !== 1) throw new StudioError('BAD_ARGUMENT', `"qstudio inspect" takes one model file, got ${argv.length ? argv.map((a) => quote(a)).join(' ') : 'none'}.`);
  const { model } = await loadModel(argv[0]!);
  const g = model.graph!;
  const counts = new Map<string, number>();
  for (const n of g.node) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  const out: string[] = [];
  out.push(`${argv[0]}: IR ${model.irVersion}, opsets ${model.opsetImport.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}, ${g.node.length} nodes, ${g.initializer.length} initializers`);
  for (const i of modelInputs(model)) out.push(`  input  ${i.name}: ${i.dtype} [${i.dims.join(', ')}]`);
  for (const o of g.output) {
    const tt = o.type?.value.case === 'tensorType' ? o.type.value.value : undefined;
    out.push(`  output ${o.name}: [${(tt?.shape?.dim ?? []).map((d) => (d.value.case ? String(d.value.value) : '?')).join(', ')}]`);
  }
  out.push(`  ops: ${[...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const plan = planQdq(model, parseRecipe({ opTypes: [...ACTIVATION_QUANT_OP_TYPES] }), argv[0]);
  // The plan sees op types; model-support adds what the writers refuse (float types) and what is quantized already.
  const support = modelSupport(model, [...ACTIVATION_QUANT_OP_TYPES], true);
  const refused = new Set(support.unsupported.map((u) => u.node));
  const quantizable = plan.targets.filter((t) => !refused.has(t.node.name || t.node.output[0] || t.node.opType)).length;
  out.push(`  quantizable with the default recipe: ${quantizable} node(s)${support.floatTypes.size ? ` (${[...support.floatTypes].join(', ')})` : ''}; left in float: ${plan.skipped.length + plan.targets.length - quantizable}`);
  if (support.unsupported.length) out.push(`  not quantizable: ${support.unsupported.length} node(s): ${support.unsupported[0]!.reason}`);
  if (support.quantizedOps.size) out.push(`  already quantized: ${[...support.quantizedOps].map(([k, v]) => `${v} ${k}`).join(', ')}`);
  // Contrib ops (GroupQueryAttention, RotaryEmbedding, SkipSimplifiedLayerNormalization, ...) have no
  // quantized form here: they run in float between the quantized MatMuls, and no Q/DQ is put on them.
  const contrib = new Map<string, number>();
  for (const { graph } of walkGraphs(g)) for (const n of graph.node) if (n.domain && n.domain !== 'ai.onnx' && !support.quantizedOps.has(n.opType)) contrib.set(`${n.opType} (${n.domain})`, (contrib.get(`${n.opType} (${n.domain})`) ?? 0) + 1);
  if (contrib.size) out.push(`  kept in float: ${[...contrib].map(([k, v]) => `${v} ${k}`).join(', ')}`);
  // What a transformer export derives from the token ids when --data gives only them.
  const wanted = modelInputs(model);
  const tokens = wanted.find((w) => TOKEN_INPUT_NAMES.includes(w.name));
  if (tokens && tokens.dims.length === 2) {
    const derived = deriveAuxiliaryInputs(wanted, { [tokens.name]: { dtype: 'int64', shape: [1, 1], data: new BigInt64Array(1) } });
    if (derived.length) out.push(`  derived from ${tokens.name} when not given: ${derived.join(', ')}`);
  }
  out.push(`  this machine: ${describeHardware(detectHardware())}`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
