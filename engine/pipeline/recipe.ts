// The recipe: the one description of a quantization that the CLI, the job runner and the visual
// pipeline editor share (../shared/cli-contract.md). parseRecipe() fills defaults and rejects any
// unknown key or bad value with a message that names the key and quotes the value.
import { StudioError, quote } from '../errors';

export type WeightDType = 'int8' | 'uint8' | 'int4' | 'uint4' | 'int3';
export type ActivationDType = 'uint8' | 'int8' | 'uint4' | 'int4';
export type Scheme = 'symmetric' | 'asymmetric';
export type Granularity = 'tensor' | 'channel' | { group: number };
export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy' | 'mse';
export type ExportFormat = 'qdq' | 'matmulnbits';

export interface WeightSpec { dtype: WeightDType; scheme: Scheme; granularity: Granularity }
export interface ActivationSpec {
  dtype: ActivationDType;
  scheme: Scheme;
  calibration: { method: CalibrationMethod; percentile: number };
}
export type AlgorithmSpec =
  | { name: 'rtn' }
  | { name: 'gptq'; damp: number; actOrder: boolean; blockSize: number }
  | { name: 'awq'; gridSize: number; clip: boolean }
  | { name: 'smoothquant'; alpha: number; search?: boolean }
  | { name: 'qat'; steps: number; lr: number; batchSize: number; learnScales: boolean; trainSamples?: number; evalEvery?: number; checkpointEvery?: number }
  | { name: 'bias-correction' };

export interface Recipe {
  weights: WeightSpec;
  activations: ActivationSpec | null;
  algorithms: AlgorithmSpec[];
  opTypes: string[];
  exclude: string[];
  format: ExportFormat;
  calibration: { samples: number; batchSize: number };
  /** Where calibration/evaluation sessions run. */
  device: 'auto' | 'cpu' | 'cuda';
  /** format "matmulnbits": steps of several rows through ORT's int8 QGEMM ("int8", the default) or MatMulNBits too. */
  prefill?: 'int8' | 'matmulnbits';
}

export const SUPPORTED_OP_TYPES = ['MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'Gather'] as const;

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

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(where: string, msg: string): never {
  throw new StudioError('BAD_RECIPE', `Recipe ${where}: ${msg}`);
}

function checkKeys(o: Obj, allowed: readonly string[], where: string) {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) fail(where, `unknown key ${quote(k)} (allowed: ${allowed.join(', ')}).`);
  }
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], where: string, dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !allowed.includes(v as T)) fail(where, `value ${quote(v)} is not one of ${allowed.join(', ')}.`);
  return v as T;
}

function num(v: unknown, where: string, dflt: number, opts: { min?: number; max?: number; int?: boolean } = {}): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `value ${quote(v)} is not a number.`);
  if (opts.int && !Number.isInteger(v)) fail(where, `value ${quote(v)} must be an integer.`);
  if (opts.min !== undefined && v < opts.min) fail(where, `value ${quote(v)} is below ${opts.min}.`);
  if (opts.max !== undefined && v > opts.max) fail(where, `value ${quote(v)} is above ${opts.max}.`);
  return v;
}

function bool(v: unknown, where: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') fail(where, `value ${quote(v)} is not true or false.`);
  return v;
}

function strList(v: unknown, where: string, dflt: string[]): string[] {
  if (v === undefined) return [...dflt];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(where, `value ${quote(v)} is not a list of strings.`);
  return [...(v as string[])];
}

function parseGranularity(v: unknown, where: string): Granularity {
  if (v === undefined) return 'channel';
  if (v === 'tensor' || v === 'channel') return v;
  if (isObj(v)) {
    checkKeys(v, ['group'], where);
    const g = num(v.group, `${where}.group`, NaN, { min: 2, int: true });
    if (Number.isNaN(g)) fail(where, `an object granularity needs "group": N.`);
    return { group: g };
  }
  fail(where, `value ${quote(v)} is not "tensor", "channel" or { "group": N }.`);
}

function parseAlgorithm(v: unknown, i: number): AlgorithmSpec {
  const where = `algorithms[${i}]`;
  if (typeof v === 'string') v = { name: v };
  if (!isObj(v)) fail(where, `value ${quote(v)} is not an object with a "name".`);
  const name = oneOf(v.name, ['rtn', 'gptq', 'awq', 'smoothquant', 'qat', 'bias-correction'] as const, `${where}.name`, 'rtn');
  if (v.name === undefined) fail(where, 'needs a "name".');
  switch (name) {
    case 'rtn':
    case 'bias-correction':
      checkKeys(v, ['name'], where);
      return { name };
    case 'gptq':
      checkKeys(v, ['name', 'damp', 'actOrder', 'blockSize'], where);
      return { name, damp: num(v.damp, `${where}.damp`, 0.01, { min: 0, max: 1 }), actOrder: bool(v.actOrder, `${where}.actOrder`, false), blockSize: num(v.blockSize, `${where}.blockSize`, 128, { min: 1, int: true }) };
    case 'awq':
      checkKeys(v, ['name', 'gridSize', 'clip'], where);
      return { name, gridSize: num(v.gridSize, `${where}.gridSize`, 20, { min: 1, max: 1000, int: true }), clip: bool(v.clip, `${where}.clip`, true) };
    case 'smoothquant':
      checkKeys(v, ['name', 'alpha', 'search'], where);
      return { name, alpha: num(v.alpha, `${where}.alpha`, 0.5, { min: 0, max: 1 }), search: bool(v.search, `${where}.search`, false) };
    case 'qat':
      checkKeys(v, ['name', 'steps', 'lr', 'batchSize', 'learnScales', 'trainSamples', 'evalEvery', 'checkpointEvery'], where);
      return {
        name,
        steps: num(v.steps, `${where}.steps`, 600, { min: 1, int: true }),
        lr: num(v.lr, `${where}.lr`, 1e-4, { min: 0, max: 10 }),
        batchSize: num(v.batchSize, `${where}.batchSize`, 64, { min: 1, int: true }),
        learnScales: bool(v.learnScales, `${where}.learnScales`, false),
        ...(v.trainSamples !== undefined ? { trainSamples: num(v.trainSamples, `${where}.trainSamples`, 0, { min: 1, int: true }) } : {}),
        ...(v.evalEvery !== undefined ? { evalEvery: num(v.evalEvery, `${where}.evalEvery`, 0, { min: 1, int: true }) } : {}),
        ...(v.checkpointEvery !== undefined ? { checkpointEvery: num(v.checkpointEvery, `${where}.checkpointEvery`, 0, { min: 1, int: true }) } : {}),
      };
  }
}

/** Validate a recipe object (already JSON-parsed) and fill defaults. */
export function parseRecipe(input: unknown, source = 'recipe'): Recipe {
  if (input === undefined || input === null) input = {};
  if (!isObj(input)) throw new StudioError('BAD_RECIPE', `Recipe ${quote(source)} must be a JSON object, got ${quote(input)}.`);
  checkKeys(input, ['weights', 'activations', 'algorithms', 'opTypes', 'exclude', 'format', 'calibration', 'device', 'prefill', '$schema', 'name', 'description'], 'top level');

  const w = input.weights ?? {};
  if (!isObj(w)) fail('weights', `value ${quote(w)} is not an object.`);
  checkKeys(w, ['dtype', 'scheme', 'granularity'], 'weights');
  const weights: WeightSpec = {
    dtype: oneOf(w.dtype, ['int8', 'uint8', 'int4', 'uint4', 'int3'] as const, 'weights.dtype', 'int8'),
    scheme: oneOf(w.scheme, ['symmetric', 'asymmetric'] as const, 'weights.scheme', 'symmetric'),
    granularity: parseGranularity(w.granularity, 'weights.granularity'),
  };

  let activations: ActivationSpec | null;
  if (input.activations === null) activations = null;
  else {
    const a = input.activations ?? {};
    if (!isObj(a)) fail('activations', `value ${quote(a)} is not an object or null.`);
    checkKeys(a, ['dtype', 'scheme', 'calibration'], 'activations');
    const c = a.calibration ?? {};
    if (!isObj(c)) fail('activations.calibration', `value ${quote(c)} is not an object.`);
    checkKeys(c, ['method', 'percentile'], 'activations.calibration');
    activations = {
      dtype: oneOf(a.dtype, ['uint8', 'int8', 'uint4', 'int4'] as const, 'activations.dtype', 'uint8'),
      scheme: oneOf(a.scheme, ['symmetric', 'asymmetric'] as const, 'activations.scheme', 'asymmetric'),
      calibration: {
        method: oneOf(c.method, ['minmax', 'percentile', 'entropy', 'mse'] as const, 'activations.calibration.method', 'minmax'),
        percentile: num(c.percentile, 'activations.calibration.percentile', 99.99, { min: 50, max: 100 }),
      },
    };
  }

  if (input.algorithms !== undefined && !Array.isArray(input.algorithms)) fail('algorithms', `value ${quote(input.algorithms)} is not a list.`);
  const algorithms = ((input.algorithms as unknown[] | undefined) ?? [{ name: 'rtn' }]).map(parseAlgorithm);
  if (algorithms.length === 0) algorithms.push({ name: 'rtn' });

  const opTypes = strList(input.opTypes, 'opTypes', DEFAULT_RECIPE.opTypes);
  for (const op of opTypes) {
    if (!(SUPPORTED_OP_TYPES as readonly string[]).includes(op)) fail('opTypes', `op type ${quote(op)} cannot be quantized (supported: ${SUPPORTED_OP_TYPES.join(', ')}).`);
  }
  const exclude = strList(input.exclude, 'exclude', []);
  const format = oneOf(input.format, ['qdq', 'matmulnbits'] as const, 'format', 'qdq');
  const cal = input.calibration ?? {};
  if (!isObj(cal)) fail('calibration', `value ${quote(cal)} is not an object.`);
  checkKeys(cal, ['samples', 'batchSize'], 'calibration');
  const calibration = {
    samples: num(cal.samples, 'calibration.samples', 512, { min: 1, int: true }),
    batchSize: num(cal.batchSize, 'calibration.batchSize', 32, { min: 1, max: 4096, int: true }),
  };
  const device = oneOf(input.device, ['auto', 'cpu', 'cuda'] as const, 'device', 'auto');

  if (format === 'matmulnbits') {
    if (!['int4', 'uint4', 'int3'].includes(weights.dtype)) fail('format', `"matmulnbits" needs 4-bit or 3-bit weights, not ${quote(weights.dtype)}.`);
    if (activations !== null) fail('format', '"matmulnbits" is weight-only: set "activations": null.');
  }
  if (input.prefill !== undefined && format !== 'matmulnbits') fail('prefill', 'applies to format "matmulnbits" only.');
  const prefill = input.prefill === undefined ? undefined : oneOf(input.prefill, ['int8', 'matmulnbits'] as const, 'prefill', 'int8');
  return { weights, activations, algorithms, opTypes, exclude, format, calibration, device, ...(prefill ? { prefill } : {}) };
}

/** Bits and signedness of a quantized dtype. */
export function dtypeInfo(dtype: WeightDType | ActivationDType): { bits: number; signed: boolean; qmin: number; qmax: number } {
  switch (dtype) {
    case 'int8': return { bits: 8, signed: true, qmin: -128, qmax: 127 };
    case 'uint8': return { bits: 8, signed: false, qmin: 0, qmax: 255 };
    case 'int4': return { bits: 4, signed: true, qmin: -8, qmax: 7 };
    case 'uint4': return { bits: 4, signed: false, qmin: 0, qmax: 15 };
    case 'int3': return { bits: 3, signed: true, qmin: -4, qmax: 3 };
  }
}
