// Temp files of atomic writes left by a killed writer (`.<name>.<pid>.<random>.tmp` beside the target)
// are removed by the next write of that target, only when their pid is dead; a live writer's are kept.
// Checked on writeFileAtomic and end to end on the real CLI writing its -o model.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../engine/onnx/model-io';
import { writeNpy } from '../../engine/data/npy';
import { loadFashionMnist } from '../../engine/data/fashion-mnist';
import { removeDeadTempFiles } from '../../engine/util/stale-temp-files';
import { models, repoRoot, sharedPath } from '../helpers/shared';

let dir: string;
let live: ChildProcess;
let dead: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qs-stale-'));
  live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)']);
  await new Promise((r) => live.once('spawn', r));
  const d = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => d.on('exit', r));
  dead = d.pid!;
});
afterAll(() => {
  live.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('leftover temp files of killed writers', () => {
  it('writeFileAtomic removes the dead writer\'s temp file of its target only', async () => {
    const folder = join(dir, 'unit');
    const names = [`.m.onnx.${dead}.aa11.tmp`, `.m.onnx.${live.pid}.bb22.tmp`, `.m.onnx.${process.pid}.cc33.tmp`, `.other.onnx.${dead}.dd44.tmp`, `.m.onnx.${dead}.notes.txt`];
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder);
    for (const n of names) writeFileSync(join(folder, n), 'partial');
    await writeFileAtomic(join(folder, 'm.onnx'), 'model');
    expect(readdirSync(folder).sort()).toEqual(['m.onnx', ...names.filter((n) => n !== `.m.onnx.${dead}.aa11.tmp`)].sort());
    expect(removeDeadTempFiles(folder, 'other.onnx')).toBe(1);
  });

  it('the CLI writing -o out.onnx removes a killed earlier run\'s temp file there', async () => {
    const out = join(dir, 'cli');
    mkdirSync(out);
    const { images } = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 64);
    await writeNpy(join(out, 'cal.npy'), images);
    writeFileSync(join(out, 'recipe.json'), JSON.stringify({ calibration: { samples: 64, batchSize: 32 } }));
    const leftover = `.q.onnx.${dead}.0123abcd.tmp`;
    writeFileSync(join(out, leftover), 'half a model');
    const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'qstudio.mjs'), 'quantize', models.cnn, '-o', join(out, 'q.onnx'), '--recipe', join(out, 'recipe.json'), '--data', `image=${join(out, 'cal.npy')}`], { encoding: 'utf8', cwd: repoRoot, timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(out, 'q.onnx'))).toBe(true);
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 150_000);
});
