// The pipeline editor's node types, declared as data (after strudel-flow's defineNode): the title,
// the parameters with their ranges, and where the node sits in the flow (its stage). The editor, the
// validator and the recipe compiler all read these definitions; nothing here knows about React.
// The algorithm nodes come from the algorithm declarations the engine parses recipes with
// (contract/algorithms.ts): their names, parameters, defaults and bounds are the engine's own.
import { algorithmDecl, algorithmDecls, paramShapes, type AlgorithmDecl } from '../../../../contract/algorithms';
import { DEFAULT_RECIPE, RECIPE_LIMITS, TARGET_METRICS, TARGET_BOUNDS, TARGET_PREFERENCES } from '../../../../contract/recipe';

export type ParamValue = string | number | boolean;
export type Params = Record<string, ParamValue>;

export interface ParamDef {
  key: string;
  label: string;
  kind: 'select' | 'number' | 'boolean' | 'text';
  default: ParamValue;
  options?: readonly string[];
  min?: number;
  max?: number;
  step?: number;
  int?: boolean;
  help?: string;
  /** Hide the control when it has no effect given the other parameters. */
  visible?: (p: Params) => boolean;
}

/** Stages in flow order; an edge may only go forward (the QAT loop's back-edge aside). */
export const STAGES = ['source', 'data', 'calibrate', 'params', 'algorithm', 'output', 'consume'] as const;
export type Stage = (typeof STAGES)[number];

export interface NodeTypeDef {
  id: string;
  title: string;
  stage: Stage;
  description: string;
  parameters: ParamDef[];
  /** Node types that must appear upstream of this one, with the reason shown on the node. */
  requires?: { type: string; why: string }[];
  /** At most one node of this type in a pipeline. */
  unique?: boolean;
  /** Has no input handle / no output handle. */
  source?: boolean;
  sink?: boolean;
}

export function defineNode(def: NodeTypeDef): NodeTypeDef {
  const keys = new Set<string>();
  for (const p of def.parameters) {
    if (keys.has(p.key)) throw new Error(`Node type '${def.id}' declares parameter '${p.key}' twice.`);
    keys.add(p.key);
  }
  return def;
}

const isAct = (p: Params) => p.activationDtype !== 'none';

/** The editor's control for one declared algorithm parameter (only those with a label are drawn). */
export function algorithmParams(decl: AlgorithmDecl): ParamDef[] {
  return paramShapes(decl).filter((p) => decl.ui?.[p.key] && p.default !== undefined).map((p) => {
    const ui = decl.ui![p.key]!;
    return {
      key: p.key, label: ui.label, kind: p.kind, default: p.default!,
      ...(p.min !== undefined && Number.isFinite(p.min) ? { min: p.min } : {}),
      ...(p.max !== undefined && Number.isFinite(p.max) ? { max: p.max } : {}),
      ...(p.int ? { int: true } : {}), ...(ui.step !== undefined ? { step: ui.step } : {}), ...(ui.help ? { help: ui.help } : {}),
    };
  });
}

const qatParam = (key: string): ParamDef => {
  const def = algorithmParams(algorithmDecl('qat')!).find((p) => p.key === key);
  if (!def) throw new Error(`QAT declares no editor parameter '${key}'.`);
  return def;
};

/** One node per declared algorithm (RTN is the default rounding, QAT draws as its loop of three nodes). */
function algorithmNodes(): NodeTypeDef[] {
  return algorithmDecls().filter((d) => d.name !== 'rtn' && d.phase !== 'training').map((d) => defineNode({
    id: d.name, title: d.label, stage: 'algorithm', unique: true, description: d.description,
    ...(d.requires ? { requires: d.requires } : {}),
    parameters: algorithmParams(d),
  }));
}

export const NODE_TYPES: readonly NodeTypeDef[] = [
  defineNode({
    id: 'model', title: 'FP32 model', stage: 'source', unique: true, source: true,
    description: "The project's float model (ONNX).", parameters: [],
  }),
  defineNode({
    id: 'data', title: 'Calibration data', stage: 'data', unique: true,
    description: 'Samples fed through the model to observe activation ranges (and to train, for QAT).',
    requires: [{ type: 'model', why: 'data is fed through the FP32 model' }],
    parameters: [
      { key: 'samples', label: 'Samples', kind: 'number', default: DEFAULT_RECIPE.calibration.samples, min: 1, max: RECIPE_LIMITS.samples, int: true },
      { key: 'batchSize', label: 'Batch size', kind: 'number', default: DEFAULT_RECIPE.calibration.batchSize, min: 1, max: RECIPE_LIMITS.batchSize, int: true },
    ],
  }),
  defineNode({
    id: 'calibrate', title: 'Calibrate', stage: 'calibrate', unique: true,
    description: 'Chooses the float range of every activation from the observed values.',
    requires: [{ type: 'data', why: 'calibration needs samples: connect a Calibration data node upstream' }],
    parameters: [
      { key: 'method', label: 'Method', kind: 'select', default: 'minmax', options: ['minmax', 'percentile', 'entropy', 'mse'] },
      { key: 'percentile', label: 'Percentile', kind: 'number', default: 99.99, min: 50, max: 100, step: 0.01, visible: (p) => p.method === 'percentile' },
    ],
  }),
  defineNode({
    id: 'quant-params', title: 'Quantization params', stage: 'params', unique: true,
    description: 'Integer types, schemes and granularity for weights and activations.',
    requires: [{ type: 'model', why: 'there is no model to quantize upstream' }],
    parameters: [
      { key: 'weightDtype', label: 'Weight dtype', kind: 'select', default: 'int8', options: ['int8', 'uint8', 'int4', 'uint4', 'int3'] },
      { key: 'weightScheme', label: 'Weight scheme', kind: 'select', default: 'symmetric', options: ['symmetric', 'asymmetric'] },
      { key: 'granularity', label: 'Granularity', kind: 'select', default: 'channel', options: ['tensor', 'channel', 'group'] },
      { key: 'groupSize', label: 'Group size', kind: 'number', default: 32, min: 2, max: RECIPE_LIMITS.group, int: true, visible: (p) => p.granularity === 'group' },
      { key: 'activationDtype', label: 'Activation dtype', kind: 'select', default: 'uint8', options: ['uint8', 'int8', 'uint4', 'int4', 'none'], help: "'none' = weight-only" },
      { key: 'activationScheme', label: 'Activation scheme', kind: 'select', default: 'asymmetric', options: ['symmetric', 'asymmetric'], visible: isAct },
      { key: 'opTypes', label: 'Op types', kind: 'text', default: 'MatMul, Gemm, Conv', help: 'comma-separated' },
      { key: 'exclude', label: 'Exclude nodes', kind: 'text', default: '', help: 'comma-separated node names left in float' },
      { key: 'int8Layers', label: 'Int8 nodes', kind: 'text', default: '', help: 'comma-separated node names stored at 8 bits (MatMulNBits below 8 bits)', visible: (p) => p.activationDtype === 'none' },
    ],
  }),
  ...algorithmNodes(),
  defineNode({
    id: 'qat-forward', title: 'Forward (fake-quant)', stage: 'algorithm', unique: true,
    description: 'QAT step 1: forward pass with simulated quantization (QDQ) on weights and activations.',
    requires: [{ type: 'data', why: 'fine-tuning needs training samples' }, { type: 'quant-params', why: 'fake quantization needs the integer types' }],
    parameters: [
      qatParam('steps'),
      qatParam('batchSize'),
    ],
  }),
  defineNode({
    id: 'qat-backward', title: 'Backward (STE)', stage: 'algorithm', unique: true,
    description: 'QAT step 2: gradients pass through rounding with the straight-through estimator.',
    requires: [{ type: 'qat-forward', why: 'the backward pass follows a fake-quant forward pass' }],
    parameters: [qatParam('learnScales')],
  }),
  defineNode({
    id: 'qat-update', title: 'Update FP32 weights', stage: 'algorithm', unique: true,
    description: 'QAT step 3: the optimizer updates the float shadow weights; loops back to the forward pass.',
    requires: [{ type: 'qat-backward', why: 'weights are updated from the backward pass' }],
    parameters: [qatParam('lr')],
  }),
  defineNode({
    id: 'target', title: 'Accuracy target', stage: 'algorithm', unique: true,
    description: 'Automatic mixed precision: the cheapest per-layer precision (the recipe dtype, int8, float) that keeps this accuracy on the evaluation data; every decision is in the run report.',
    requires: [{ type: 'quant-params', why: 'the target chooses among the integer types of a Quantization params node' }],
    parameters: [
      { key: 'metric', label: 'Metric', kind: 'select', default: 'sqnr', options: TARGET_METRICS, help: 'sqnr: output SQNR vs FP32; top1: needs labels; perplexity: token windows' },
      { key: 'min', label: 'Min output SQNR (dB)', kind: 'number', default: 30, min: TARGET_BOUNDS.min[0], max: TARGET_BOUNDS.min[1], step: 0.5, visible: (p) => p.metric === 'sqnr' },
      { key: 'maxDrop', label: 'Max top-1 drop (fraction)', kind: 'number', default: 0.005, min: TARGET_BOUNDS.maxDrop[0], max: TARGET_BOUNDS.maxDrop[1], step: 0.001, visible: (p) => p.metric === 'top1' },
      { key: 'maxIncrease', label: 'Max perplexity increase', kind: 'number', default: 0.004, min: TARGET_BOUNDS.maxIncrease[0], max: TARGET_BOUNDS.maxIncrease[1], step: 0.001, visible: (p) => p.metric === 'perplexity' },
      { key: 'prefer', label: 'Then prefer', kind: 'select', default: 'size', options: TARGET_PREFERENCES, help: 'size: the smallest model that meets it; latency: weights no CPU integer kernel runs stay float (larger, faster)' },
    ],
  }),
  defineNode({
    id: 'quantized-model', title: 'Quantized model', stage: 'output', unique: true,
    description: 'The integer model, written as QDQ pairs or MatMulNBits.',
    requires: [{ type: 'quant-params', why: 'connect a Quantization params node upstream' }],
    parameters: [
      { key: 'format', label: 'Format', kind: 'select', default: 'qdq', options: ['qdq', 'matmulnbits'] },
      // docs/int4-export.md: 'int8' adds ORT's int8 QGEMM for steps of several rows (prompts, batches)
      { key: 'prefill', label: 'Multi-token steps', kind: 'select', default: 'int8', options: ['int8', 'matmulnbits'], visible: (p) => p.format === 'matmulnbits' },
    ],
  }),
  defineNode({
    id: 'evaluate', title: 'Evaluate', stage: 'consume', unique: true,
    description: 'Accuracy (or perplexity), per-layer error and latency against the FP32 model.',
    requires: [{ type: 'quantized-model', why: 'there is no quantized model upstream to evaluate' }],
    parameters: [{ key: 'latency', label: 'Measure latency', kind: 'boolean', default: true }],
  }),
  defineNode({
    id: 'export', title: 'Export', stage: 'consume', unique: true, sink: true,
    description: 'Keeps the quantized model as a run artifact you can save anywhere.',
    requires: [{ type: 'quantized-model', why: 'there is no quantized model upstream to export' }],
    parameters: [{ key: 'fileName', label: 'File name', kind: 'text', default: 'model.int8.onnx' }],
  }),
];

const byId = new Map(NODE_TYPES.map((t) => [t.id, t]));

export function nodeType(id: string): NodeTypeDef | undefined {
  return byId.get(id);
}

export function defaultParams(typeId: string): Params {
  const t = byId.get(typeId);
  const out: Params = {};
  for (const p of t?.parameters ?? []) out[p.key] = p.default;
  return out;
}

export const stageIndex = (s: Stage): number => STAGES.indexOf(s);
