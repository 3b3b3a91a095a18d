// `qstudio eval MODEL.onnx --data INPUT=FILE.npy [--labels FILE.npy] [--ref FP32.onnx] [--batch N] [--threads N]`:
// top-1 on labels, agreement with a reference model, latency (median) against the reference.
import { StudioError, quote } from '../errors';
import { readNpy, type NpyArray } from '../data/npy';
import { assertFiniteInputs } from '../data/finite';
import { loadModel } from '../onnx/model-io';
import { createSession, withModelFolder } from '../runtime/session';
import { dirname, resolve } from 'node:path';
import { top1Accuracy } from '../eval/task-metrics';
import { compareModels } from '../eval/layer-error';
import { measureLatency } from '../eval/latency';
import { validateInputs } from '../pipeline/validate-inputs';
import { parseArgs, one, intFlag, MAX_THREADS } from './args';

export async function evalCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, [
    { name: 'data', alias: '-d', takesValue: true, repeatable: true }, { name: 'labels', takesValue: true },
    { name: 'ref', takesValue: true }, { name: 'batch', takesValue: true }, { name: 'threads', takesValue: true },
  ], 'eval');
  if (p.positionals.length !== 1) throw new StudioError('BAD_ARGUMENT', '"qstudio eval" takes one model file.');
  const modelPath = p.positionals[0]!;
  const { model } = await loadModel(modelPath);
  const inputs: Record<string, NpyArray> = {};
  for (const spec of p.flags.get('data') ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new StudioError('BAD_ARGUMENT', `--data ${quote(spec)} must be INPUT=FILE.npy.`);
    inputs[spec.slice(0, eq)] = readNpy(spec.slice(eq + 1));
    assertFiniteInputs({ [spec.slice(0, eq)]: inputs[spec.slice(0, eq)]! }, { [spec.slice(0, eq)]: spec.slice(eq + 1) }, 'evaluation');
  }
  validateInputs(model, inputs, modelPath);
  const batch = intFlag(p, 'batch', 1 << 20) ?? 1, threads = intFlag(p, 'threads', MAX_THREADS) ?? 1;
  const lines: string[] = [];
  const labelsPath = one(p, 'labels');
  if (labelsPath) {
    const s = await createSession(modelPath, { device: 'cpu' });
    lines.push(`top-1: ${(100 * (await top1Accuracy(s, inputs, readNpy(labelsPath)))).toFixed(2)} %`);
    await s.release();
  }
  const lat = await measureLatency(modelPath, inputs, { batch, threads });
  lines.push(`latency: ${lat.medianMs.toFixed(2)} ms median (batch ${lat.batch}, ${threads} thread(s))`);
  const ref = one(p, 'ref');
  if (ref) {
    // Both models are compared from bytes: each reads its external data from its own folder.
    const cmp = await withModelFolder(dirname(resolve(ref)), async () => compareModels((await loadModel(ref)).model, model, [], inputs, { samples: 64, quantizedDir: dirname(resolve(modelPath)) }));
    const rl = await measureLatency(ref, inputs, { batch, threads });
    lines.push(`vs ${ref}: output SQNR ${cmp.outputAgreement.sqnrDb.toFixed(1)} dB${cmp.outputAgreement.top1Agreement !== undefined ? `, top-1 agreement ${(100 * cmp.outputAgreement.top1Agreement).toFixed(2)} %` : ''}, latency ratio ${(lat.medianMs / rl.medianMs).toFixed(3)} (ref ${rl.medianMs.toFixed(2)} ms)`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
