// `qstudio analyze MODEL.onnx --recipe RECIPE.json --data INPUT=FILE.npy ... [--eval-data ...] [--report FILE.json]`:
// sensitivity of every quantized node and activation tensor, worst first (engine/analysis/sensitivity.ts).
import { existsSync } from 'node:fs';
import { StudioError, quote } from '../errors';
import { writeFileAtomic } from '../onnx/model-io';
import { parseRecipe } from '../pipeline/recipe';
import { analyzeSensitivity, type SensitivityReport } from '../analysis/sensitivity';
import { fmtSqnr, fmtScore } from '../analysis/report-format';
import { lmWindows } from '../eval/output-scores';
import { parseArgs, one, has, intFlag, MAX_WORKERS } from './args';
import { stderrProgress } from './progress-printer';
import { readRecipeFile } from './quantize-command';
import { readDataFlag, readEvalFlags, readLabelsFlag } from './data-flags';
import { checkCommandOutputs } from './io-paths';

export const ANALYZE_FLAGS = [
  { name: 'recipe', alias: '-r', takesValue: true },
  { name: 'data', alias: '-d', takesValue: true, repeatable: true },
  { name: 'labels', takesValue: true },
  { name: 'eval-data', takesValue: true, repeatable: true },
  { name: 'eval-labels', takesValue: true },
  { name: 'eval-samples', takesValue: true },
  { name: 'report', takesValue: true },
  { name: 'jobs', alias: '-j', takesValue: true },
  { name: 'top', takesValue: true },
  { name: 'quiet', alias: '-q', takesValue: false },
];

const posInt = (v: string | undefined, flag: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new StudioError('BAD_ARGUMENT', `--${flag} ${quote(v)} must be a positive integer.`);
  return n;
};

export async function analyzeCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, ANALYZE_FLAGS, 'analyze');
  if (p.positionals.length !== 1) throw new StudioError('BAD_ARGUMENT', `"qstudio analyze" takes one model file, got ${p.positionals.length ? p.positionals.map((x) => quote(x)).join(' ') : 'none'}. Usage: qstudio analyze MODEL.onnx --recipe RECIPE.json --data INPUT=FILE.npy ... [--eval-data ...] [--report FILE.json]`);
  const modelPath = p.positionals[0]!;
  if (!existsSync(modelPath)) throw new StudioError('NOT_FOUND', `Model file ${quote(modelPath)} does not exist.`);
  // The report must not land on an input, and must be writable, before the analysis runs.
  const reportPath = one(p, 'report');
  if (reportPath) await checkCommandOutputs(p, modelPath, [{ role: '--report', path: reportPath }]);
  const recipePath = one(p, 'recipe');
  const recipe = recipePath ? readRecipeFile(recipePath) : parseRecipe({});
  const { inputs, sources } = await readDataFlag('data', p.flags.get('data') ?? [], modelPath);
  const labels = readLabelsFlag(p, 'labels');
  const { evalInputs, evalLabels } = await readEvalFlags(p, modelPath);
  const progress = stderrProgress();
  const hasLabels = !!(evalInputs ? evalLabels : labels);
  const metric = hasLabels ? 'top1' : lmWindows(evalInputs ?? inputs) ? 'perplexity' : 'sqnr';
  let report: SensitivityReport;
  try {
    report = await analyzeSensitivity({
      modelPath, recipe, inputs, labels, evalInputs, evalLabels, inputSources: sources, metric,
      evalSamples: posInt(one(p, 'eval-samples'), 'eval-samples'), concurrency: intFlag(p, 'jobs', MAX_WORKERS),
      ctx: has(p, 'quiet') ? undefined : progress,
    });
  } finally {
    progress.done();
  }
  if (reportPath) await writeFileAtomic(reportPath, JSON.stringify(report, null, 2));
  process.stdout.write(`${formatSensitivity(report, posInt(one(p, 'top'), 'top') ?? 15)}\n${reportPath ? `Wrote ${reportPath}\n` : ''}`);
  return 0;
}

export function formatSensitivity(r: SensitivityReport, top = 15): string {
  const lines: string[] = [];
  const w = r.entries.filter((e) => e.kind === 'weight').length, a = r.entries.length - w;
  lines.push(`Sensitivity of ${w} quantized node(s)${a ? ` and ${a} activation tensor(s)` : ''}, measured on ${r.evaluation.description}; ${r.calibrationSamples ? `calibration on ${r.calibrationSamples} sample(s), once` : 'no calibration (round-to-nearest weights)'}.`);
  const fp = [r.fp32.top1 !== undefined ? `top-1 ${(100 * r.fp32.top1).toFixed(2)} %` : '', r.fp32.perplexity !== undefined ? `ppl ${r.fp32.perplexity.toFixed(4)}` : ''].filter(Boolean).join(', ');
  lines.push(`All quantized: output ${fmtScore(r.allQuantized)}${fp ? ` (FP32: ${fp})` : ''}.`);
  lines.push(`Worst first by ${r.rankedBy === 'sqnr' ? 'output SQNR' : r.rankedBy === 'top1' ? 'top-1' : 'perplexity'} when only that one is quantized (isolated). "cumulative": SQNR of the node's own output with the whole model quantized.`);
  const shown = r.entries.slice(0, top);
  const nw = Math.min(52, Math.max(4, ...shown.map((e) => e.name.length)));
  lines.push(`  ${'kind'.padEnd(10)} ${'name'.padEnd(nw)}  ${'only quantized (isolated)'.padEnd(28)} ${'only float'.padEnd(28)} cumulative`);
  for (const e of shown) {
    lines.push(`  ${e.kind.padEnd(10)} ${e.name.padEnd(nw)}  ${fmtScore(e.onlyQuantized).padEnd(28)} ${fmtScore(e.onlyFloat).padEnd(28)} ${e.cumulativeSqnrDb !== undefined ? fmtSqnr(e.cumulativeSqnrDb) : '-'}`);
  }
  if (r.entries.length > top) lines.push(`  ... ${r.entries.length - top} more (all in --report)`);
  const t = r.timing;
  lines.push(`${t.tasks} variant evaluations in ${t.workers} worker(s): wall ${(t.wallMs / 1000).toFixed(1)} s, CPU ${(t.cpuMs / 1000).toFixed(1)} s (preparation ${(t.prepareMs / 1000).toFixed(1)} s).`);
  for (const n of r.notices) lines.push(`Note: ${n}`);
  return lines.join('\n');
}
