// qstudio: the command-line face of the engine (../shared/cli-contract.md). `main` returns the exit
// code; every failure becomes one paragraph on stderr naming the file/node/key, and a non-zero code.
import { isStudioError, toErrorPayload } from '../errors';
import { quantizeCommand } from './quantize-command';
import { inspectCommand } from './inspect-command';
import { evalCommand } from './eval-command';
import { analyzeCommand } from './analyze-command';
import { detectHardware, describeHardware } from '../runtime/hardware';
import { algorithmsHelp } from './algorithms-help';

export const HELP = `qstudio — quantize ONNX models (Quant Studio's command line)

Usage:
  qstudio quantize MODEL.onnx -o OUT.onnx --recipe RECIPE.json [--data INPUT=FILE.npy ...] [--labels FILE.npy]
      Post-training quantization as the recipe says (defaults: int8 symmetric per-channel weights,
      uint8 asymmetric MinMax activations, MatMul/Gemm/Conv, QDQ format). --data arrays are NumPy .npy
      with the samples on axis 0, one per model input; they calibrate the activations. A .txt file is
      text: token windows with --tokenizer tokenizer.json (or the tokenizer.json beside the model),
      byte windows without; a transformer export's masks, positions and empty cache are derived from
      input_ids (docs/models.md). Progress goes to
      stderr; a summary (what was quantized, time, per-layer error) to stdout. OUT.onnx is written
      atomically: a failed run leaves no file.
      Every figure is measured on --eval-data INPUT=FILE.npy (repeatable; --eval-labels FILE.npy for top-1),
      or, without it, on a held-out split of --data (its last 20 %, at least 1 sample; calibration uses
      the rest); the summary says which data and how many samples (at most 512 are evaluated).
      Options: --report FILE.json (full report), --no-eval (skip the FP32 comparison), -q/--quiet.
  qstudio analyze MODEL.onnx --recipe RECIPE.json --data INPUT=FILE.npy ... [--eval-data INPUT=FILE.npy ...] [--report FILE.json]
      Sensitivity of every quantized node and activation tensor: the output error when only it is
      quantized and when only it is left in float, beside its cumulative per-layer error; worst first,
      all of them in --report. Calibrates once; the variants run in parallel worker threads.
      Options: --labels / --eval-labels FILE.npy (rank by top-1), --eval-samples N, -j/--jobs N, --top N, -q.
  qstudio inspect MODEL.onnx
      Opset, inputs/outputs, op counts and what would be quantized.
  qstudio eval MODEL.onnx --data INPUT=FILE.npy [--labels FILE.npy] [--ref FP32.onnx] [--batch N] [--threads N]
      Top-1 on labels, agreement with and latency against a reference model.
  qstudio hardware
      CPU, int8 instruction sets and onnxruntime execution providers on this machine.
  qstudio --help | --version

Exit codes: 0 success, 1 bad input or failed run (the message names the file, node or key), 2 usage.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${HELP}\n${algorithmsHelp()}`);
        return cmd === undefined ? 2 : 0;
      case '--version':
        process.stdout.write('qstudio 0.1.0\n');
        return 0;
      case 'quantize':
        if (rest.includes('--help') || rest.includes('-h')) { process.stdout.write(`${HELP}\n${algorithmsHelp()}`); return 0; }
        return await quantizeCommand(rest);
      case 'inspect':
        return await inspectCommand(rest);
      case 'eval':
        return await evalCommand(rest);
      case 'analyze':
        if (rest.includes('--help') || rest.includes('-h')) { process.stdout.write(`${HELP}\n${algorithmsHelp()}`); return 0; }
        return await analyzeCommand(rest);
      case 'hardware':
        process.stdout.write(describeHardware(detectHardware()) + '\n');
        return 0;
      default:
        process.stderr.write(`qstudio: unknown command '${cmd}'. Run "qstudio --help" for the commands.\n`);
        return 2;
    }
  } catch (e) {
    const { code, message } = toErrorPayload(e);
    process.stderr.write(`\nqstudio: error [${code}]: ${message}\n`);
    if (!isStudioError(e) && process.env.QSTUDIO_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return code === 'BAD_ARGUMENT' ? 2 : 1;
  }
}
