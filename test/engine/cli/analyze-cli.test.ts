// `qstudio analyze` and the evaluation flags of `qstudio quantize`, as outside checks run them.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from '../../../engine/data/npy';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { models, repoRoot, sharedPath } from '../../helpers/shared';

const bin = join(repoRoot, 'bin', 'qstudio.mjs');
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: repoRoot, timeout: 240_000 });

describe('qstudio analyze and --eval-data', () => {
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qanalyze-'));
    const train = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 96);
    const test = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 40);
    await writeNpy(join(dir, 'cal.npy'), train.images);
    await writeNpy(join(dir, 'test.npy'), test.images);
    await writeNpy(join(dir, 'test-labels.npy'), test.labels);
    writeFileSync(join(dir, 'recipe.json'), JSON.stringify({ calibration: { samples: 64, batchSize: 32 } }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('quantize --eval-data/--eval-labels: every figure on the 40 evaluation samples, and says so', () => {
    const r = run(['quantize', models.cnn, '-o', join(dir, 'q.onnx'), '--recipe', join(dir, 'recipe.json'), '--data', `image=${join(dir, 'cal.npy')}`,
      '--eval-data', `image=${join(dir, 'test.npy')}`, '--eval-labels', join(dir, 'test-labels.npy'), '--report', join(dir, 'q.json'), '-q']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Output vs FP32 on 40 samples of --eval-data: SQNR \d+\.\d dB/);
    expect(r.stdout).toMatch(/Metrics on 40 samples of --eval-data: top1Fp32 0\.\d+, top1Quantized 0\.\d+/);
    expect(r.stdout).toMatch(/Per-layer error, cumulative/);
    const report = JSON.parse(readFileSync(join(dir, 'q.json'), 'utf8'));
    expect(report.evaluation).toMatchObject({ source: 'eval-data', samples: 40, available: 40 });
    expect(report.layerErrorKind).toBe('cumulative');
  }, 240_000);

  it('--eval-labels without --eval-data is a usage error naming both flags', () => {
    const r = run(['quantize', models.cnn, '-o', join(dir, 'x.onnx'), '--data', `image=${join(dir, 'cal.npy')}`, '--eval-labels', join(dir, 'test-labels.npy')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--eval-labels needs --eval-data/);
    expect(existsSync(join(dir, 'x.onnx'))).toBe(false);
  }, 60_000);

  it('analyze: worst first on stdout, every unit in --report, well within a minute on the CNN', () => {
    const t0 = Date.now();
    const r = run(['analyze', models.cnn, '--recipe', join(dir, 'recipe.json'), '--data', `image=${join(dir, 'cal.npy')}`,
      '--eval-data', `image=${join(dir, 'test.npy')}`, '--eval-labels', join(dir, 'test-labels.npy'), '--report', join(dir, 'sens.json'), '-q', '--top', '4']);
    const wall = Date.now() - t0;
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Sensitivity of 6 quantized node\(s\) and \d+ activation tensor\(s\), measured on 40 samples of --eval-data/);
    expect(r.stdout).toMatch(/Worst first by top-1/);
    expect(r.stdout).toMatch(/\.\.\. \d+ more \(all in --report\)/);
    const rep = JSON.parse(readFileSync(join(dir, 'sens.json'), 'utf8'));
    expect(rep.entries.length).toBeGreaterThan(6);
    for (const e of rep.entries) {
      expect(e.onlyQuantized).toHaveProperty('top1');
      expect(e.onlyFloat).toHaveProperty('top1');
    }
    expect(rep.entries.filter((e: { kind: string; cumulativeSqnrDb?: number }) => e.kind === 'weight' && typeof e.cumulativeSqnrDb === 'number')).toHaveLength(6);
    // Ranked worst first by isolated top-1; where top-1 ties, by isolated output SQNR.
    const es = rep.entries as { onlyQuantized: { top1: number; sqnrDb: number }; onlyFloat: { top1: number } }[];
    for (let i = 1; i < es.length; i++) {
      const a = es[i - 1]!, b = es[i]!;
      expect(a.onlyQuantized.top1).toBeLessThanOrEqual(b.onlyQuantized.top1);
      if (a.onlyQuantized.top1 === b.onlyQuantized.top1 && a.onlyFloat.top1 === b.onlyFloat.top1) expect(a.onlyQuantized.sqnrDb).toBeLessThanOrEqual(b.onlyQuantized.sqnrDb);
    }
    expect(wall).toBeLessThan(60_000 * 2); // the contract's 60 s, with room for a loaded shared machine
  }, 240_000);
});
