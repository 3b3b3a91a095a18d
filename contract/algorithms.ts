// The declarative half of every quantization algorithm: its name, its parameters (a zod schema with
// defaults and bounds), its phase in a run, labels for the pipeline editor and its compatibility
// check against the rest of the recipe. The recipe parser (./recipe.ts), the CLI help and the
// editor's node palette read these; the engine adds the run() half (engine/pipeline/stages/). Both
// sides import this file, so it imports nothing but zod and types.
import { z } from 'zod';
import type { Recipe } from './recipe';

/**
 * When a stage runs, in this order:
 * - `before-calibration`: edits the float model (SmoothQuant);
 * - `weights`: chooses the rounded weights of a weight-only export (RTN, GPTQ, AWQ), in `order`;
 * - `after-calibration`: sees the calibrated plan before the QDQ writer (bias correction);
 * - `training`: calibrates its own plan and writes the output model itself (QAT).
 */
export const PHASES = ['before-calibration', 'weights', 'after-calibration', 'training'] as const;
export type Phase = (typeof PHASES)[number];

export interface ParamUi {
  label: string;
  step?: number;
  help?: string;
  /** The editor writes the key into the recipe only when it differs from the default. */
  omitAtDefault?: boolean;
}

export interface AlgorithmDecl<S extends z.ZodObject = z.ZodObject> {
  name: string;
  /** Title of the editor node; the CLI help lists it beside the name. */
  label: string;
  description: string;
  phase: Phase;
  /** Position among the recipe's stages of the same phase (lower first); default 100. */
  order?: number;
  /** The recipe keys besides "name", with their defaults and bounds. Unknown keys are refused. */
  params: S;
  /** Editor labels of the parameters (a parameter without one is still parsed, not shown). */
  ui?: Record<string, ParamUi>;
  /** GPTQ and AWQ choose the rounded weights themselves: a weight-only recipe naming one needs the
   *  weight-only export even in format "qdq". */
  roundsWeights?: boolean;
  /** Where the recipe cannot run this algorithm: the reason, shown after `Recipe algorithm 'NAME' `. */
  check?: (recipe: Recipe) => string | undefined;
  /** Samples the editor node needs upstream (a Calibrate or a Calibration data node), with the reason. */
  requires?: { type: string; why: string }[];
}

// ---- bounds shared by the parameter schemas (absurd values are refused naming the key) ----
export const int = (min: number, max: number) => z.number().int().min(min).max(max);
export const real = (min: number, max: number) => z.number().min(min).max(max);

// GPTQ and AWQ round the weights of a weight-only export: nothing may quantize activations beside them.
const weightOnlyCheck = (r: Recipe): string | undefined => {
  if (r.activations !== null) return 'is weight-only: set "activations": null.';
  const other = r.algorithms.find((a) => registry.get(a.name)?.phase !== 'weights');
  return other ? `is weight-only: it does not combine with ${JSON.stringify(other.name)} (only rtn, gptq and awq do).` : undefined;
};

const rtn = {
  name: 'rtn' as const, label: 'RTN', phase: 'weights', order: 30,
  description: 'Round to nearest: each weight to its closest grid value (the default).',
  params: z.strictObject({}),
} satisfies AlgorithmDecl;

const gptq = {
  name: 'gptq' as const, label: 'GPTQ', phase: 'weights', order: 20, roundsWeights: true,
  description: 'Second-order weight rounding, column by column, compensating the error with the Hessian.',
  params: z.strictObject({
    damp: real(0, 1).default(0.01),
    actOrder: z.boolean().default(false),
    blockSize: int(1, 4096).default(128),
  }),
  ui: { damp: { label: 'Damping', step: 0.005 }, actOrder: { label: 'Act order' }, blockSize: { label: 'Block size' } },
  check: weightOnlyCheck,
  requires: [{ type: 'data', why: 'GPTQ needs calibration samples for its Hessian' }],
} satisfies AlgorithmDecl;

const awq = {
  name: 'awq' as const, label: 'AWQ', phase: 'weights', order: 10, roundsWeights: true,
  description: 'Activation-aware weight scaling: protects salient channels, searched over a grid.',
  params: z.strictObject({
    gridSize: int(1, 1000).default(20),
    clip: z.boolean().default(true),
  }),
  ui: { gridSize: { label: 'Grid size' }, clip: { label: 'Clip search' } },
  check: weightOnlyCheck,
  requires: [{ type: 'data', why: 'AWQ needs calibration samples to find salient channels' }],
} satisfies AlgorithmDecl;

const smoothquant = {
  name: 'smoothquant' as const, label: 'SmoothQuant', phase: 'before-calibration',
  description: 'Moves activation outliers into the weights (per-channel scale, strength alpha) before calibration.',
  params: z.strictObject({
    alpha: real(0, 1).default(0.5),
    search: z.boolean().default(false),
  }),
  ui: { alpha: { label: 'Alpha', step: 0.05 }, search: { label: 'Search alpha', omitAtDefault: true } },
  requires: [{ type: 'calibrate', why: 'SmoothQuant needs activation statistics: add a Calibrate node upstream' }],
} satisfies AlgorithmDecl;

const biasCorrection = {
  name: 'bias-correction' as const, label: 'Bias correction', phase: 'after-calibration',
  description: 'Corrects the mean shift each quantized layer adds to its output.',
  params: z.strictObject({}),
  check: (r) => {
    if (!r.activations || r.format !== 'qdq') return 'corrects the int32 biases of a QDQ model with quantized activations: it needs "activations" set and "format": "qdq".';
    if (r.algorithms.some((a) => a.name === 'qat')) return 'does not combine with \'"qat"\': QAT trains the weights and biases it exports.';
    return undefined;
  },
  requires: [{ type: 'data', why: 'bias correction needs samples to measure the shift' }],
} satisfies AlgorithmDecl;

const qat = {
  name: 'qat' as const, label: 'QAT', phase: 'training',
  description: 'Fine-tunes with simulated quantization (forward fake-quant, backward STE, FP32 update), looped.',
  params: z.strictObject({
    steps: int(1, 1_000_000).default(600),
    lr: real(0, 10).default(1e-4),
    batchSize: int(1, 65_536).default(64),
    learnScales: z.boolean().default(false),
    trainSamples: int(1, 1_000_000_000).optional(),
    evalEvery: int(1, 1_000_000).optional(),
    checkpointEvery: int(1, 1_000_000).optional(),
  }),
  ui: { steps: { label: 'Steps' }, batchSize: { label: 'Batch size' }, learnScales: { label: 'Learn scales (LSQ)' }, lr: { label: 'Learning rate', step: 0.0001 } },
} satisfies AlgorithmDecl;

/** The built-in algorithms, in the order the CLI help and the palette list them. */
export const BUILTIN_ALGORITHMS = [rtn, smoothquant, gptq, awq, biasCorrection, qat] as const;

type Builtin = (typeof BUILTIN_ALGORITHMS)[number];
/** One recipe entry of a built-in algorithm, defaults filled. */
type Params<O> = string extends keyof O ? unknown : O; // an empty strict object's output is Record<string, never>
export type BuiltinAlgorithmSpec = { [A in Builtin as A['name']]: { name: A['name'] } & Params<z.output<A['params']>> }[Builtin['name']];

const registry = new Map<string, AlgorithmDecl>();
let version = 0;

/**
 * Add an algorithm (its declarative half). The recipe parser accepts its name and parameters from
 * then on; registering a name twice is refused, so two modules cannot silently shadow each other.
 */
export function registerAlgorithm(decl: AlgorithmDecl): void {
  if (!/^[a-z][a-z0-9-]{0,39}$/.test(decl.name)) throw new Error(`Algorithm name '${JSON.stringify(decl.name)}' must be lower-case letters, digits and dashes.`);
  if (registry.has(decl.name)) throw new Error(`Algorithm '${JSON.stringify(decl.name)}' is registered twice.`);
  registry.set(decl.name, decl);
  version++;
}

/** Remove a registered algorithm (tests that register a toy one clean up after themselves). */
export function unregisterAlgorithm(name: string): void {
  if (BUILTIN_ALGORITHMS.some((a) => a.name === name)) throw new Error(`Built-in algorithm '${JSON.stringify(name)}' cannot be removed.`);
  if (registry.delete(name)) version++;
}

for (const a of BUILTIN_ALGORITHMS) registerAlgorithm(a as unknown as AlgorithmDecl);

export function algorithmDecl(name: string): AlgorithmDecl | undefined {
  return registry.get(name);
}

export function algorithmDecls(): AlgorithmDecl[] {
  return [...registry.values()];
}

/** Changes whenever the registry does (the recipe schema is rebuilt then). */
export function algorithmRegistryVersion(): number {
  return version;
}

/** A parameter as the editor draws it, read from the zod schema (kind, default, bounds). */
export interface ParamShape {
  key: string;
  kind: 'number' | 'boolean' | 'text';
  default: number | boolean | string | undefined;
  optional: boolean;
  min?: number;
  max?: number;
  int?: boolean;
}

export function paramShapes(decl: AlgorithmDecl): ParamShape[] {
  const out: ParamShape[] = [];
  for (const [key, schema] of Object.entries(decl.params.shape)) {
    let s = schema as z.ZodType;
    let dflt: unknown;
    let optional = false;
    // Unwrap default/optional wrappers down to the base type.
    for (;;) {
      if (s instanceof z.ZodDefault) { dflt = s.def.defaultValue; s = s.def.innerType as z.ZodType; continue; }
      if (s instanceof z.ZodOptional) { optional = true; s = s.def.innerType as z.ZodType; continue; }
      break;
    }
    if (s instanceof z.ZodNumber) {
      out.push({ key, kind: 'number', default: dflt as number | undefined, optional, min: s.minValue ?? undefined, max: s.maxValue ?? undefined, int: s.isInt });
    } else if (s instanceof z.ZodBoolean) out.push({ key, kind: 'boolean', default: dflt as boolean | undefined, optional });
    else out.push({ key, kind: 'text', default: dflt as string | undefined, optional });
  }
  return out;
}
