// The recipe (../shared/cli-contract.md): the one description of a quantization that the CLI, the job
// runner, the IPC contract and the visual pipeline editor share, as one zod schema. parseRecipe() fills
// the defaults and refuses any unknown key or bad value with a message that names the key path and
// quotes the value: `Recipe algorithms[0].damp: value '"x"' is not a number.` (error code BAD_RECIPE).
// Algorithm entries are read from the algorithm registry (./algorithms.ts), so a registered algorithm's
// parameters are checked here without this file knowing it.
import { z } from 'zod';
import { algorithmDecl, algorithmDecls, algorithmRegistryVersion, int, real, type BuiltinAlgorithmSpec } from './algorithms';

export const WEIGHT_DTYPES = ['int8', 'uint8', 'int4', 'uint4', 'int3'] as const;
export const ACTIVATION_DTYPES = ['uint8', 'int8', 'uint4', 'int4'] as const;
export const SCHEMES = ['symmetric', 'asymmetric'] as const;
export const CALIBRATION_METHODS = ['minmax', 'percentile', 'entropy', 'mse'] as const;
export const EXPORT_FORMATS = ['qdq', 'matmulnbits'] as const;
export const DEVICES = ['auto', 'cpu', 'cuda'] as const;
export const PREFILL_MODES = ['int8', 'matmulnbits'] as const;
export const SUPPORTED_OP_TYPES = ['MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'Gather'] as const;
/** MatMulNBits stores 4-bit containers: these weight dtypes fit. */
export const MATMULNBITS_WEIGHT_DTYPES = ['int4', 'uint4', 'int3'] as const;

// Limits that keep absurd recipes out (the engine would otherwise try to allocate them).
export const RECIPE_LIMITS = { algorithms: 16, opTypes: 32, exclude: 100_000, name: 4096, samples: 10_000_000, batchSize: 4096, group: 65_536 } as const;

export type WeightDType = (typeof WEIGHT_DTYPES)[number];
export type ActivationDType = (typeof ACTIVATION_DTYPES)[number];
export type Scheme = (typeof SCHEMES)[number];
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Quote a value as error messages do: `'${JSON.stringify(value)}'`, shortened (as engine/errors quote()). */
export function quote(value: unknown): string {
  let s: string;
  try { s = JSON.stringify(value) ?? String(value); } catch { s = String(value); }
  if (s.length > 120) s = s.slice(0, 117) + '...';
  return `'${s}'`;
}

/** A bad recipe; the engine turns it into StudioError('BAD_RECIPE'), the renderer shows the message. */
export class RecipeError extends Error {
  readonly code = 'BAD_RECIPE';
  constructor(message: string) {
    super(message);
    this.name = 'RecipeError';
  }
}

/** A strict object whose unknown-key message lists the allowed keys. */
function strict<S extends z.ZodRawShape>(shape: S) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown key ${quote(iss.keys[0])} (allowed: ${allowed}).` : iss.code === 'invalid_type' ? `value ${quote(iss.input)} is not an object.` : undefined),
  });
}

const granularity = z.union([z.enum(['tensor', 'channel']), strict({ group: int(2, RECIPE_LIMITS.group) })], {
  error: (iss) => `value ${quote(iss.input)} is not "tensor", "channel" or { "group": N }.`,
});
export type Granularity = z.output<typeof granularity>;

const weights = strict({
  dtype: z.enum(WEIGHT_DTYPES).default('int8'),
  scheme: z.enum(SCHEMES).default('symmetric'),
  granularity: granularity.default('channel'),
});

const activations = strict({
  dtype: z.enum(ACTIVATION_DTYPES).default('uint8'),
  scheme: z.enum(SCHEMES).default('asymmetric'),
  calibration: strict({
    method: z.enum(CALIBRATION_METHODS).default('minmax'),
    percentile: real(50, 100).default(99.99),
  }).prefault({}),
});

const stringList = (max: number) => z.array(z.string().max(RECIPE_LIMITS.name), { error: (iss) => (iss.code === 'invalid_type' ? `value ${quote(iss.input)} is not a list of strings.` : undefined) }).max(max);

/** `target`: automatic mixed precision's goal on the evaluation data (carried; the engine decides per layer). */
export const TARGET_METRICS = ['sqnr', 'top1', 'perplexity'] as const;
/** Each target metric's threshold key and its bounds (the editor's Target node draws them). */
export const TARGET_BOUNDS = { min: [-1000, 1000], maxDrop: [0, 1], maxIncrease: [0, 1e6] } as const;
/**
 * What the search trades once the target holds: "size" (the default: the smallest model, then the
 * fastest of those) or "latency" (onnxruntime CPU: weights no integer kernel would take, and the slow
 * int8 kernels where the model measures faster so, go float — a larger file that runs faster).
 */
export const TARGET_PREFERENCES = ['size', 'latency'] as const;
const prefer = z.enum(TARGET_PREFERENCES, { error: (iss) => `value ${quote(iss.input)} is not one of size, latency.` }).optional();
export const TargetSchema = z.discriminatedUnion('metric', [
  strict({ metric: z.literal('sqnr'), min: real(...TARGET_BOUNDS.min), prefer }),
  strict({ metric: z.literal('top1'), maxDrop: real(...TARGET_BOUNDS.maxDrop), prefer }),
  strict({ metric: z.literal('perplexity'), maxIncrease: real(...TARGET_BOUNDS.maxIncrease), prefer }),
], { error: (iss) => (iss.code === 'invalid_union' && (iss as { discriminator?: string }).discriminator ? `value ${quote(((iss as { input?: unknown }).input as { metric?: unknown } | undefined)?.metric)} is not one of sqnr, top1, perplexity.` : undefined) });
export type Target = z.output<typeof TargetSchema>;

/**
 * A target alone (the engine reads a recipe's target with this), in the recipe's own words; an
 * unknown key is named before a missing one ({"metric":"top1","min":3} is about "min").
 */
export function parseTargetContract(input: unknown): Target {
  const r = TargetSchema.safeParse(input, { reportInput: true });
  if (r.success) return r.data;
  const iss = r.error.issues.find((i) => i.code === 'unrecognized_keys') ?? r.error.issues[0]!;
  throw new RecipeError(issueMessage({ ...iss, path: ['target', ...iss.path] } as Parameters<typeof issueMessage>[0]));
}

/** One algorithm entry: a name (or a bare string) and that algorithm's registered parameters. */
function algorithmEntry() {
  const decls = algorithmDecls();
  const options = decls.map((d) => d.params.extend({ name: z.literal(d.name) })).map((o) => {
    const allowed = Object.keys(o.shape).sort((a, b) => (a === 'name' ? -1 : b === 'name' ? 1 : 0)).join(', ');
    return z.strictObject(o.shape, { error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown key ${quote(iss.keys[0])} (allowed: ${allowed}).` : undefined) });
  });
  const names = decls.map((d) => d.name).join(', ');
  const union = z.discriminatedUnion('name', options as unknown as [z.ZodObject, ...z.ZodObject[]], {
    error: (iss) => {
      if ((iss.code as string) === 'invalid_type') return `value ${quote(iss.input)} is not an object with a "name".`;
      const n = (iss.input as { name?: unknown } | undefined)?.name;
      return n === undefined ? 'needs a "name".' : `value ${quote(n)} is not one of ${names}.`;
    },
  });
  return z.preprocess((v) => (typeof v === 'string' ? { name: v } : v), union);
}

function buildSchema() {
  return strict({
    $schema: z.string().max(RECIPE_LIMITS.name).optional(),
    name: z.string().max(RECIPE_LIMITS.name).optional(),
    description: z.string().max(100_000).optional(),
    weights: weights.prefault({}),
    activations: activations.nullable().prefault({}),
    algorithms: z.array(algorithmEntry(), { error: (iss) => (iss.code === 'invalid_type' ? `value ${quote(iss.input)} is not a list.` : undefined) })
      .max(RECIPE_LIMITS.algorithms)
      .default([{ name: 'rtn' }])
      // An empty list means the default rounding, as an absent one does.
      .transform((a) => (a.length === 0 ? [{ name: 'rtn' }] : a)),
    opTypes: stringList(RECIPE_LIMITS.opTypes).default(['MatMul', 'Gemm', 'Conv']),
    exclude: stringList(RECIPE_LIMITS.exclude).default([]),
    /** format "matmulnbits" below 8 bits: these nodes' weights are stored at 8 bits (MatMulNBits bits=8). */
    int8Layers: stringList(RECIPE_LIMITS.exclude).optional(),
    format: z.enum(EXPORT_FORMATS).default('qdq'),
    calibration: strict({
      samples: int(1, RECIPE_LIMITS.samples).default(512),
      batchSize: int(1, RECIPE_LIMITS.batchSize).default(32),
    }).prefault({}),
    /** Where calibration/evaluation sessions run. */
    device: z.enum(DEVICES).default('auto'),
    /** format "matmulnbits": steps of several rows through ORT's int8 QGEMM ("int8", the default) or MatMulNBits too. */
    prefill: z.enum(PREFILL_MODES).optional(),
    target: TargetSchema.optional(),
    /**
     * The wreck guard (docs/sensitivity.md): a W8A8 QDQ run without a "target" whose worst output SQNR on
     * the evaluation data falls below 20 dB is searched again with a 30 dB target, so the layers most
     * responsible stay in float. Absent = on; false keeps the fully quantized result (with its warning).
     */
    guard: z.boolean({ error: (iss) => `value ${quote(iss.input)} is not true or false.` }).optional(),
  }).superRefine((r, ctx) => {
    for (const [i, op] of r.opTypes.entries()) {
      if (!(SUPPORTED_OP_TYPES as readonly string[]).includes(op)) ctx.addIssue({ code: 'custom', path: ['opTypes', i], message: `op type ${quote(op)} cannot be quantized (supported: ${SUPPORTED_OP_TYPES.join(', ')}).` });
    }
    if (r.format === 'matmulnbits') {
      if (!(MATMULNBITS_WEIGHT_DTYPES as readonly string[]).includes(r.weights.dtype)) ctx.addIssue({ code: 'custom', path: ['format'], message: `"matmulnbits" needs 4-bit or 3-bit weights, not ${quote(r.weights.dtype)}.` });
      if (r.activations !== null) ctx.addIssue({ code: 'custom', path: ['format'], message: '"matmulnbits" is weight-only: set "activations": null.' });
    }
    if (r.prefill !== undefined && r.format !== 'matmulnbits') ctx.addIssue({ code: 'custom', path: ['prefill'], message: 'applies to format "matmulnbits" only.' });
    // A QDQ model has one weight dtype (int8 is the default one; "exclude" leaves a layer in float).
    if (r.int8Layers?.length && r.format !== 'matmulnbits') ctx.addIssue({ code: 'custom', path: ['int8Layers'], message: 'applies to format "matmulnbits" only (QDQ writes one weight dtype per model; "exclude" leaves a layer in float).' });
  });
}

// The schema for the built-ins, for types; the parser rebuilds it when an algorithm is registered.
const builtinSchema = buildSchema();
let cached = { version: algorithmRegistryVersion(), schema: builtinSchema };
function currentSchema() {
  const v = algorithmRegistryVersion();
  if (cached.version !== v) cached = { version: v, schema: buildSchema() };
  return cached.schema;
}

type Parsed = z.output<typeof builtinSchema>;
export type WeightSpec = Parsed['weights'];
export type ActivationSpec = NonNullable<Parsed['activations']>;
/** A recipe entry of an algorithm, defaults filled (a registered algorithm's entry has its own keys). */
export type AlgorithmSpec = BuiltinAlgorithmSpec;
export interface Recipe {
  weights: WeightSpec;
  activations: ActivationSpec | null;
  algorithms: AlgorithmSpec[];
  opTypes: string[];
  exclude: string[];
  format: ExportFormat;
  calibration: { samples: number; batchSize: number };
  device: 'auto' | 'cpu' | 'cuda';
  prefill?: 'int8' | 'matmulnbits';
  /** MatMulNBits below 8 bits: nodes whose weights are stored at 8 bits. */
  int8Layers?: string[];
  target?: Target;
  /** The wreck guard: absent or true = on, false = off (W8A8 QDQ runs without a target). */
  guard?: boolean;
}
/** One algorithm entry as written: a name and that algorithm's keys (checked against its declaration). */
export type AlgorithmInput = { name: string } & { [key: string]: string | number | boolean };
/** The recipe as written (every key optional): what the editor compiles to and a file holds. */
export type RecipeInput = Omit<z.input<typeof builtinSchema>, 'algorithms'> & { algorithms?: (AlgorithmInput | string)[] };

export const DEFAULT_RECIPE: Recipe = {
  weights: { dtype: 'int8', scheme: 'symmetric', granularity: 'channel' },
  activations: { dtype: 'uint8', scheme: 'asymmetric', calibration: { method: 'minmax', percentile: 99.99 } },
  algorithms: [{ name: 'rtn' }],
  opTypes: ['MatMul', 'Gemm', 'Conv'],
  exclude: [],
  format: 'qdq',
  calibration: { samples: 512, batchSize: 32 },
  device: 'auto',
};

const pathOf = (path: readonly PropertyKey[]): string => {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : `${s ? '.' : ''}${String(p)}`;
  return s || 'top level';
};

/** One zod issue in the recipe's words: the key path, then what is wrong with the quoted value. */
function issueMessage(iss: z.core.$ZodIssue & { input?: unknown }): string {
  let path = [...iss.path];
  let msg: string;
  const v = iss.input;
  switch (iss.code) {
    case 'invalid_type':
      if (iss.expected === 'number') msg = `value ${quote(v)} is not a number.`;
      else if (iss.expected === 'int') msg = `value ${quote(v)} must be an integer.`;
      else if (iss.expected === 'boolean') msg = `value ${quote(v)} is not true or false.`;
      else if (iss.expected === 'string') {
        // An entry of a list of strings: name the list, as the message does.
        if (typeof path[path.length - 1] === 'number') path = path.slice(0, -1);
        msg = `is not a list of strings (entry ${quote(v)}).`;
      } else msg = iss.message.startsWith('Invalid input') ? `value ${quote(v)} is not a ${iss.expected}.` : iss.message;
      break;
    case 'too_small':
      msg = iss.origin === 'array' || iss.origin === 'string' ? `is shorter than ${String(iss.minimum)}.` : `value ${quote(v)} is below ${String(iss.minimum)}.`;
      break;
    case 'too_big':
      msg = iss.origin === 'array' ? `has more than ${String(iss.maximum)} entries.` : iss.origin === 'string' ? `is longer than ${String(iss.maximum)} characters.` : `value ${quote(v)} is above ${String(iss.maximum)}.`;
      break;
    case 'invalid_value':
      msg = `value ${quote(v)} is not one of ${iss.values.map(String).join(', ')}.`;
      break;
    case 'invalid_union': {
      // An object that reached the object branch: its own problem is the useful one.
      const objectBranch = typeof v === 'object' && v !== null && !Array.isArray(v) ? iss.errors.find((e) => e.length && e[0]!.code !== 'invalid_value') : undefined;
      if (objectBranch?.length) {
        const inner = objectBranch[0]!;
        if (inner.code === 'invalid_type' && inner.path.length === 1 && inner.path[0] === 'group' && (inner as { input?: unknown }).input === undefined) {
          return `Recipe ${pathOf(path)}: an object granularity needs "group": N.`;
        }
        return issueMessage({ ...inner, path: [...path, ...inner.path] } as typeof iss);
      }
      // A discriminated union reports at the discriminator; "needs a name" belongs on the entry.
      if ((iss as { discriminator?: string }).discriminator && iss.message === 'needs a "name".') path = path.slice(0, -1);
      msg = iss.message;
      break;
    }
    default:
      msg = iss.message;
  }
  return `Recipe ${pathOf(path)}: ${msg}`;
}

/**
 * Validate a recipe object (already JSON-parsed) and fill the defaults; throws RecipeError naming the
 * key. `source` names where the recipe came from when the whole value is not an object.
 */
export function parseRecipeContract(input: unknown, source = 'recipe'): Recipe {
  if (input === undefined || input === null) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) throw new RecipeError(`Recipe ${quote(source)} must be a JSON object, got ${quote(input)}.`);
  const r = currentSchema().safeParse(input, { reportInput: true });
  if (!r.success) throw new RecipeError(issueMessage(r.error.issues[0]!));
  const recipe = r.data as unknown as Recipe;
  // What each algorithm says about the rest of the recipe (weight-only algorithms, combinations).
  for (const a of recipe.algorithms) {
    const why = algorithmDecl(a.name)?.check?.(recipe);
    if (why) throw new RecipeError(`Recipe algorithm ${quote(a.name)} ${why}`);
  }
  const { $schema: _s, name: _n, description: _d, ...rest } = recipe as Recipe & { $schema?: string; name?: string; description?: string };
  if (rest.prefill === undefined) delete rest.prefill;
  if (rest.target === undefined) delete rest.target;
  if (rest.int8Layers === undefined) delete rest.int8Layers;
  if (rest.guard === undefined) delete rest.guard;
  return rest;
}

/** The first problem of a recipe, or undefined when it parses (for the editor's messages). */
export function recipeProblem(input: unknown): string | undefined {
  try { parseRecipeContract(input); return undefined; } catch (e) {
    if (e instanceof RecipeError) return e.message;
    throw e;
  }
}
