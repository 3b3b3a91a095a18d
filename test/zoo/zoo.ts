// Runs one zoo entry as a user would: the default recipe through the real `qstudio quantize` command
// (a child process, so a crash or a hang is the command's own), then the entry's task check.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from '../../engine/data/npy';
import { repoRoot } from '../helpers/shared';
import { packageDir, taskFor, type TaskResult, type ZooEntry } from './tasks';

export const zooEntries: ZooEntry[] = (JSON.parse(readFileSync(join(repoRoot, 'test', 'zoo', 'models.json'), 'utf8')) as { models: ZooEntry[] }).models;
export const modelPath = (e: ZooEntry) => join(packageDir(e.package), e.file);
export const zooAvailable = (e: ZooEntry) => existsSync(modelPath(e));

export interface ZooRun {
  entry: ZooEntry;
  exitCode: number;
  /** The command's last stderr lines (its error paragraph when it failed). */
  stderr: string;
  report?: {
    notices?: string[]; outputAgreement?: { sqnrDb?: number }; timingsMs?: Record<string, number>; sizeBytes?: { original: number; quantized: number };
    warnings?: { message?: string; culprits?: { kind: string; name: string }[] }[];
    mixedPrecision?: { met?: boolean; assignment?: { kind: string; name: string; precision: string }[] };
    guard?: { kept: boolean; firstSqnrDb: number; sqnrDb?: number; floatWeights: string[]; floatActivations: string[]; firstRunMs: number };
  };
  task?: TaskResult;
  quantizedPath: string;
  seconds: number;
  dir: string;
}

export async function runZooEntry(entry: ZooEntry, recipe: object = {}): Promise<ZooRun> {
  const dir = mkdtempSync(join(tmpdir(), `qzoo-${entry.id}-`));
  const task = taskFor(entry);
  const cal = await task.calibration();
  const dataArgs: string[] = [];
  for (const [name, arr] of Object.entries(cal)) {
    const f = join(dir, `${name.replace(/[^\w.-]/g, '_')}.npy`);
    await writeNpy(f, arr);
    dataArgs.push('--data', `${name}=${f}`);
  }
  writeFileSync(join(dir, 'recipe.json'), JSON.stringify(recipe));
  const out = join(dir, 'quantized.onnx'), report = join(dir, 'report.json');
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'qstudio.mjs'), 'quantize', modelPath(entry), '-o', out, '--recipe', join(dir, 'recipe.json'), ...dataArgs, '--report', report, '--quiet'], { encoding: 'utf8', timeout: (entry.timeoutS ?? 600) * 1000 });
  const run: ZooRun = { entry, exitCode: r.status ?? -1, stderr: (r.stderr ?? '').split('\n').slice(-12).join('\n'), quantizedPath: out, seconds: (Date.now() - t0) / 1000, dir };
  if (existsSync(report)) run.report = JSON.parse(readFileSync(report, 'utf8'));
  if (run.exitCode === 0) run.task = await task.check(modelPath(entry), out);
  return run;
}

export const cleanUp = (run: ZooRun) => rmSync(run.dir, { recursive: true, force: true });
