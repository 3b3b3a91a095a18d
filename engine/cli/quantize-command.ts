// `qstudio quantize MODEL.onnx -o OUT.onnx --recipe RECIPE.json [--data INPUT=FILE.npy ...] [--labels FILE.npy]`
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StudioError, quote } from '../errors';
import { readNpy, type NpyArray } from '../data/npy';
import { textCalibrationWindows, tokenizerBeside } from '../data/tokenizer';
import { assertFiniteInputs } from '../data/finite';
import { loadModel, writeFileAtomic } from '../onnx/model-io';
import { parseRecipe, type Recipe } from '../pipeline/recipe';
import { quantizeModel } from '../pipeline/quantize';
import { modelInputs } from '../pipeline/validate-inputs';
import { parseArgs, one, has } from './args';
import { checkCommandOutputs } from './io-paths';
import { stderrProgress } from './progress-printer';
import { formatSummary } from './summary';
import { readEvalFlags } from './data-flags';
import { parseJsonBounded, readTextFileBounded, RECIPE_JSON_LIMITS } from '../util/json-limits';

export const QUANTIZE_FLAGS = [
  { name: 'output', alias: '-o', takesValue: true },
  { name: 'recipe', alias: '-r', takesValue: true },
  { name: 'data', alias: '-d', takesValue: true, repeatable: true },
  { name: 'tokenizer', takesValue: true },
  { name: 'labels', takesValue: true },
  { name: 'eval-data', takesValue: true, repeatable: true },
  { name: 'eval-labels', takesValue: true },
  { name: 'report', takesValue: true },
  { name: 'no-eval', takesValue: false },
  { name: 'quiet', alias: '-q', takesValue: false },
];

export function readRecipeFile(path: string): Recipe {
  // Size and nesting are bounded before parsing (the schema walks the value recursively).
  const what = `Recipe file ${quote(path)}`;
  const json = parseJsonBounded(readTextFileBounded(path, what, RECIPE_JSON_LIMITS.maxBytes, 'BAD_RECIPE'), what, RECIPE_JSON_LIMITS, 'BAD_RECIPE');
  try { return parseRecipe(json, path); } catch (e) {
    if (e instanceof StudioError) throw new StudioError(e.code, `${e.message.replace(/^Recipe /, `Recipe file ${quote(path)}, `)}`);
    throw e;
  }
}

async function readData(specs: string[], modelPath: string, tokenizer?: string): Promise<{ inputs: Record<string, NpyArray>; sources: Record<string, string> }> {
  const inputs: Record<string, NpyArray> = {};
  const sources: Record<string, string> = {};
  let names: string[] | undefined;
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    let name: string, file: string;
    if (eq > 0) { name = spec.slice(0, eq); file = spec.slice(eq + 1); }
    else {
      names ??= modelInputs((await loadModel(modelPath)).model).map((i) => i.name);
      if (names.length !== 1) throw new StudioError('BAD_ARGUMENT', `--data ${quote(spec)} names no input, and model ${quote(modelPath)} has ${names.length} inputs (${names.join(', ')}): write --data INPUT=FILE.npy.`);
      name = names[0]!; file = spec;
    }
    if (inputs[name]) throw new StudioError('BAD_ARGUMENT', `--data gives input ${quote(name)} twice.`);
    // A .txt file is text calibration: token windows with --tokenizer, byte windows without.
    inputs[name] = file.endsWith('.txt') ? textCalibrationWindows(file, tokenizer) : readNpy(file);
    sources[name] = file;
    assertFiniteInputs({ [name]: inputs[name]! }, sources);
  }
  return { inputs, sources };
}

export async function quantizeCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, QUANTIZE_FLAGS, 'quantize');
  if (p.positionals.length !== 1) throw new StudioError('BAD_ARGUMENT', `"qstudio quantize" takes one model file, got ${p.positionals.length ? p.positionals.map((x) => quote(x)).join(' ') : 'none'}. Usage: qstudio quantize MODEL.onnx -o OUT.onnx --recipe RECIPE.json [--data INPUT=FILE.npy ...]`);
  const modelPath = p.positionals[0]!;
  const outputPath = one(p, 'output');
  if (!outputPath) throw new StudioError('BAD_ARGUMENT', '"qstudio quantize" needs -o OUT.onnx (where to write the quantized model).');
  if (existsSync(outputPath) && statSync(outputPath).isDirectory()) throw new StudioError('BAD_ARGUMENT', `Output ${quote(outputPath)} is a folder; give a file name like ${quote(`${outputPath}/model-int8.onnx`)}.`);
  if (!existsSync(dirname(resolve(outputPath)))) throw new StudioError('NOT_FOUND', `Output folder ${quote(dirname(outputPath))} does not exist.`);
  const reportPath = one(p, 'report');
  // `-o` also writes `<OUT>.data` when the model keeps (or needs) external data.
  await checkCommandOutputs(p, modelPath, [
    { role: '-o', path: outputPath }, { role: '-o (its external data file)', path: `${outputPath}.data` },
    // QAT keeps a checkpoint beside the output while it trains, and deletes it at the end.
    { role: '-o (its QAT checkpoint)', path: `${outputPath}.qat-checkpoint` },
    ...(reportPath ? [{ role: '--report', path: reportPath }] : []),
  ]);
  const recipePath = one(p, 'recipe');
  const recipe = recipePath ? readRecipeFile(recipePath) : parseRecipe({});
  if (!existsSync(modelPath)) throw new StudioError('NOT_FOUND', `Model file ${quote(modelPath)} does not exist.`);
  const { inputs, sources } = await readData(p.flags.get('data') ?? [], modelPath, one(p, 'tokenizer') ?? tokenizerBeside(modelPath));
  let labels: NpyArray | undefined;
  const labelsPath = one(p, 'labels');
  if (labelsPath) {
    labels = readNpy(labelsPath);
    if (labels.shape.length !== 1 || (labels.dtype !== 'int64' && labels.dtype !== 'int32')) throw new StudioError('BAD_DATA', `Labels file ${quote(labelsPath)} must be int64 [N], got ${labels.dtype} [${labels.shape.join(', ')}].`);
  }
  if (recipe.activations && Object.keys(inputs).length === 0) {
    const names = modelInputs((await loadModel(modelPath)).model).map((i) => i.name);
    throw new StudioError('BAD_ARGUMENT', `The recipe quantizes activations, which needs calibration data: pass --data ${names.map((n) => `${n}=FILE.npy`).join(' --data ')} (or set "activations": null for weight-only).`);
  }
  // Evaluation data apart from calibration (without it, a held-out split of --data: engine/eval/eval-data.ts).
  const { evalInputs, evalLabels } = await readEvalFlags(p, modelPath);
  const quiet = has(p, 'quiet');
  const progress = stderrProgress();
  const existed = existsSync(outputPath);
  let report: Awaited<ReturnType<typeof quantizeModel>>;
  try {
    report = await quantizeModel({
      modelPath, outputPath, recipe, inputs, labels, evalInputs, evalLabels, inputSources: sources, evaluate: !has(p, 'no-eval') && Object.keys(inputs).length > 0,
      ctx: quiet ? undefined : progress,
    });
    progress.done();
  } catch (e) {
    progress.done();
    if (!existed && existsSync(outputPath)) { try { unlinkSync(outputPath); } catch { /* keep the original error */ } }
    throw e;
  }
  process.stdout.write(`${formatSummary(report)}\nWrote ${outputPath}\n`);
  // The model is finished and in place: a report that cannot be written is an error, not a reason to
  // delete the model. The report goes through a temp file + rename, so it is whole or absent.
  if (reportPath) {
    try { await writeFileAtomic(reportPath, JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2)); } catch (e) {
      throw new StudioError('IO_ERROR', `The quantized model was written to ${quote(outputPath)}, but the report was not: ${(e as Error).message}`, { cause: e });
    }
  }
  return 0;
}
