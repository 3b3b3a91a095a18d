// The data flags `quantize` and `analyze` share: --data / --eval-data INPUT=FILE.npy or INPUT=TEXT.txt (repeatable),
// --labels / --eval-labels FILE.npy (int64 or int32 [N]).
import { StudioError, quote } from '../errors';
import { readNpy, type NpyArray } from '../data/npy';
import { textCalibrationWindows, tokenizerBeside } from '../data/tokenizer';
import { assertFiniteInputs } from '../data/finite';
import { loadModel } from '../onnx/model-io';
import { modelInputs } from '../pipeline/validate-inputs';
import type { ParsedArgs } from './args';

export async function readDataFlag(flag: string, specs: string[], modelPath: string, tokenizer?: string): Promise<{ inputs: Record<string, NpyArray>; sources: Record<string, string> }> {
  const inputs: Record<string, NpyArray> = {};
  const sources: Record<string, string> = {};
  let names: string[] | undefined;
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    let name: string, file: string;
    if (eq > 0) { name = spec.slice(0, eq); file = spec.slice(eq + 1); }
    else {
      names ??= modelInputs((await loadModel(modelPath)).model).map((i) => i.name);
      if (names.length !== 1) throw new StudioError('BAD_ARGUMENT', `--${flag} ${quote(spec)} names no input, and model ${quote(modelPath)} has ${names.length} inputs (${names.join(', ')}): write --${flag} INPUT=FILE.npy.`);
      name = names[0]!; file = spec;
    }
    if (inputs[name]) throw new StudioError('BAD_ARGUMENT', `--${flag} gives input ${quote(name)} twice.`);
    // A .txt file is text, as for --data: token windows through the tokenizer, byte windows without one.
    inputs[name] = file.endsWith('.txt') ? textCalibrationWindows(file, tokenizer) : readNpy(file);
    sources[name] = file;
    assertFiniteInputs({ [name]: inputs[name]! }, sources, flag === 'eval-data' ? 'evaluation' : 'calibration');
  }
  return { inputs, sources };
}

export function readLabelsFlag(p: ParsedArgs, flag: string): NpyArray | undefined {
  const path = p.flags.get(flag)?.[0];
  if (!path) return undefined;
  const labels = readNpy(path);
  if (labels.shape.length !== 1 || (labels.dtype !== 'int64' && labels.dtype !== 'int32')) throw new StudioError('BAD_DATA', `Labels file ${quote(path)} (--${flag}) must be int64 [N], got ${labels.dtype} [${labels.shape.join(', ')}].`);
  return labels;
}

/** --eval-data and --eval-labels, checked against each other. */
export async function readEvalFlags(p: ParsedArgs, modelPath: string, tokenizer = p.flags.get('tokenizer')?.[0] ?? tokenizerBeside(modelPath)): Promise<{ evalInputs?: Record<string, NpyArray>; evalLabels?: NpyArray }> {
  const specs = p.flags.get('eval-data') ?? [];
  const evalLabels = readLabelsFlag(p, 'eval-labels');
  if (evalLabels && specs.length === 0) throw new StudioError('BAD_ARGUMENT', '--eval-labels needs --eval-data INPUT=FILE.npy (the samples the labels belong to).');
  if (specs.length === 0) return {};
  const { inputs } = await readDataFlag('eval-data', specs, modelPath, tokenizer);
  return { evalInputs: inputs, evalLabels };
}
