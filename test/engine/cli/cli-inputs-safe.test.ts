// The CLI never destroys what the user gave it: an output that is an input (by path, symlink or hard
// link) or another output is refused before any work; a bad --report path is refused before the run,
// and a report that cannot be written after the run leaves the finished model in place. Also the
// bounds on what it reads: deep or huge recipe JSON, unbounded recipe numbers, non-finite data.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, copyFileSync, symlinkSync, linkSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from '../../../engine/data/npy';
import { loadModel, saveModel } from '../../../engine/onnx/model-io';
import { models, repoRoot } from '../../helpers/shared';
import { checkOutputsApart } from '../../../engine/cli/io-paths';
import { StudioError } from '../../../engine/errors';

const bin = join(repoRoot, 'bin', 'qstudio.mjs');
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: repoRoot, timeout: 120_000 });

describe('qstudio refuses to overwrite its inputs', () => {
  let dir = '';
  let model = '', cal = '', labels = '', recipe = '', ext = '';
  const snapshot = () => [model, cal, labels, recipe, ext, `${ext}.data`].map((f) => readFileSync(f).toString('base64'));
  let before: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qcli-safe-'));
    model = join(dir, 'model.onnx');
    copyFileSync(models.cnn, model);
    cal = join(dir, 'cal.npy');
    copyFileSync(join(repoRoot, 'projects-sample', 'fmnist-cnn', 'images.npy'), cal);
    labels = join(dir, 'labels.npy');
    copyFileSync(join(repoRoot, 'projects-sample', 'fmnist-cnn', 'labels.npy'), labels);
    recipe = join(dir, 'recipe.json');
    writeFileSync(recipe, JSON.stringify({ calibration: { samples: 32, batchSize: 16 } }));
    // The same model with its weights in a side file: that file is an input too.
    ext = join(dir, 'ext.onnx');
    await saveModel((await loadModel(models.cnn)).model, ext, { externalData: { location: 'ext.onnx.data', thresholdBytes: 256 } });
    symlinkSync(model, join(dir, 'model-link.onnx'));
    linkSync(cal, join(dir, 'cal-hardlink.npy'));
    copyFileSync(cal, join(dir, 'cq.onnx.qat-checkpoint'));
    mkdirSync(join(dir, 'sub'));
    symlinkSync(dir, join(dir, 'sub', 'up'));
    before = snapshot();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, (d: string) => string[], RegExp][] = [
    ['--report onto the model', (d) => ['-o', join(d, 'q1.onnx'), '--report', join(d, 'model.onnx')], /--report.*same file as input model/],
    ['-o onto the --data file', (d) => ['-o', join(d, 'cal.npy')], /-o.*same file as input --data '"image"'/],
    ['-o onto the labels', (d) => ['-o', join(d, 'labels.npy')], /same file as input --labels/],
    ['-o onto the recipe', (d) => ['-o', join(d, 'recipe.json')], /same file as input --recipe/],
    ['-o onto the model through a symlink', (d) => ['-o', join(d, 'model-link.onnx')], /same file as input model/],
    ['-o onto the model through a symlinked folder', (d) => ['-o', join(d, 'sub', 'up', 'model.onnx')], /same file as input model/],
    ['-o onto a hard link of the --data file', (d) => ['-o', join(d, 'cal-hardlink.npy')], /same file as input --data/],
    ['--report equal to -o', (d) => ['-o', join(d, 'q2.onnx'), '--report', join(d, 'q2.onnx')], /Outputs -o .* and --report .* are the same file/],
    ['-o whose QAT checkpoint name is the --data file', (d) => ['-o', join(d, 'cq.onnx'), '--data', `aux=${join(d, 'cq.onnx.qat-checkpoint')}`], /-o \(its QAT checkpoint\).*same file as input --data '"aux"'/],
    ['--report onto the data through a relative path', (d) => ['-o', join(d, 'q3.onnx'), '--report', join(d, 'sub', '..', 'cal.npy')], /--report.*same file as input --data/],
  ];
  for (const [what, extra, msg] of cases) {
    it(`${what}: refused before any work, every input unchanged`, () => {
      const r = run(['quantize', model, '--recipe', recipe, '--data', `image=${cal}`, '--labels', labels, ...extra(dir)]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/error \[BAD_ARGUMENT\]/);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/calibrat/); // refused before the run started
      expect(snapshot()).toEqual(before);
      expect(readdirSync(dir).filter((f) => f.startsWith('q'))).toEqual([]);
    });
  }

  it("-o onto the model's external data file: refused, model and data unchanged", () => {
    const r = run(['quantize', ext, '--recipe', recipe, '--data', `image=${cal}`, '-o', `${ext}.data`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/same file as input external data of model/);
    expect(snapshot()).toEqual(before);
  });

  it('analyze: --report onto the --data file or the model is refused before the analysis', () => {
    for (const target of [cal, model]) {
      const r = run(['analyze', model, '--recipe', recipe, '--data', `image=${cal}`, '--report', target]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/Output --report .* is the same file as input/);
    }
    expect(snapshot()).toEqual(before);
  });

  it('a --report path that cannot be written is refused before the run (no model written, no work done)', () => {
    const out = join(dir, 'q4.onnx');
    const noFolder = run(['quantize', model, '--recipe', recipe, '--data', `image=${cal}`, '-o', out, '--report', join(dir, 'missing', 'r.json')]);
    expect(noFolder.status).not.toBe(0);
    expect(noFolder.stderr).toMatch(/Output folder .*missing.* for --report does not exist/);
    const underFile = run(['quantize', model, '--recipe', recipe, '--data', `image=${cal}`, '-o', out, '--report', join(cal, 'r.json')]);
    expect(underFile.status).not.toBe(0);
    expect(underFile.stderr).toMatch(/--report.*is not a folder/);
    const aFolder = run(['quantize', model, '--recipe', recipe, '--data', `image=${cal}`, '-o', out, '--report', join(dir, 'sub')]);
    expect(aFolder.status).not.toBe(0);
    expect(aFolder.stderr).toMatch(/--report.*is a folder/);
    for (const r of [noFolder, underFile, aFolder]) expect(r.stderr).not.toMatch(/calibrat/);
    expect(existsSync(out)).toBe(false);
  });

  it('a report that fails after the run leaves the finished model in place and says so; a good report is whole JSON with no temp file left', async () => {
    const out = join(dir, 'q5.onnx');
    const reportDir = join(dir, 'reports');
    mkdirSync(reportDir);
    // The report folder exists at the start (so the run begins) and is removed while the run works.
    const child = spawn(process.execPath, [bin, 'quantize', model, '--recipe', recipe, '--data', `image=${cal}`, '-o', out, '--report', join(reportDir, 'r.json')], { cwd: repoRoot });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); if (/calibrat/.test(stderr)) rmSync(reportDir, { recursive: true, force: true }); });
    const code = await new Promise<number | null>((res) => child.on('close', res));
    expect(stderr).toMatch(/calibrat/);
    expect(code).toBe(1);
    expect(stderr).toMatch(/quantized model was written to .*q5\.onnx.*but the report was not/);
    expect(existsSync(out)).toBe(true);
    const good = run(['quantize', model, '--recipe', recipe, '--data', `image=${cal}`, '-o', join(dir, 'q6.onnx'), '--report', join(dir, 'r6.json'), '--no-eval']);
    expect(good.stderr).not.toMatch(/error/);
    expect(good.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'r6.json'), 'utf8')).quantized.length).toBeGreaterThan(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(snapshot()).toEqual(before);
  });

  // A real full disk: a 64 KiB tmpfs, nearly filled (needs root and mount, as on the CI machine).
  const canMount = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;
  it.skipIf(!canMount)('a full disk while writing the report leaves no partial report and no temp file; the model stays', () => {
    const disk = join(dir, 'full');
    mkdirSync(disk);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk]).status).toBe(0);
    try {
      writeFileSync(join(disk, 'filler'), new Uint8Array(56 * 1024));
      const out = join(dir, 'q7.onnx');
      const r = run(['quantize', model, '--recipe', recipe, '--data', `image=${cal}`, '-o', out, '--report', join(disk, 'r.json'), '--no-eval']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/error \[IO_ERROR\]: The quantized model was written to .*q7\.onnx.*but the report was not: .*the disk is full/);
      expect(readdirSync(disk)).toEqual(['filler']);
      expect(existsSync(out)).toBe(true);
    } finally {
      spawnSync('umount', [disk]);
    }
  });

  it('io-paths: outputs compared by device+inode and real path, unit level', () => {
    const inputs = [{ role: '--data', path: cal }];
    expect(() => checkOutputsApart(inputs, [{ role: '-o', path: join(dir, 'cal-hardlink.npy') }])).toThrow(StudioError);
    expect(() => checkOutputsApart(inputs, [{ role: '-o', path: join(dir, 'fresh.onnx') }, { role: '--report', path: join(dir, 'fresh.json') }])).not.toThrow();
    expect(() => checkOutputsApart(inputs, [{ role: '-o', path: join(dir, 'fresh.onnx') }, { role: '--report', path: join(dir, 'sub', 'up', 'fresh.onnx') }])).toThrow(/same file/);
  });
});

describe('qstudio bounds what it reads', () => {
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qcli-bounds-'));
    writeFileSync(join(dir, 'deep.json'), `{"exclude": ${'['.repeat(100000)}${']'.repeat(100000)}}`);
    writeFileSync(join(dir, 'gptq.json'), JSON.stringify({ activations: null, algorithms: [{ name: 'gptq', blockSize: 1e9 }] }));
    const images = readFileSync(join(repoRoot, 'projects-sample', 'fmnist-cnn', 'images.npy'));
    writeFileSync(join(dir, 'cal.npy'), images);
    // 8 finite samples, then a NaN in sample 5 and an Inf in sample 6.
    const x = new Float32Array(8 * 784).fill(0.5);
    x[5 * 784 + 17] = NaN;
    x[6 * 784] = Infinity;
    await writeNpy(join(dir, 'nan.npy'), { dtype: 'float32', shape: [8, 1, 28, 28], data: x });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a recipe of 100000 nested brackets: BAD_RECIPE naming the file, not a stack overflow', () => {
    const r = run(['quantize', models.cnn, '-o', join(dir, 'o.onnx'), '--recipe', join(dir, 'deep.json'), '--data', `image=${join(dir, 'cal.npy')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error \[BAD_RECIPE\]: Recipe file .*deep\.json.* nests arrays\/objects more than \d+ levels/);
    expect(r.stderr).not.toMatch(/call stack/);
  });

  it('a recipe file that never ends (/dev/zero) is refused at the size limit, not read whole', () => {
    const r = run(['quantize', models.cnn, '-o', join(dir, 'o.onnx'), '--recipe', '/dev/zero', '--data', `image=${join(dir, 'cal.npy')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error \[BAD_RECIPE\]: Recipe file .*dev\/zero.* over the \d+-byte limit/);
  });

  it('GPTQ blockSize 1e9: BAD_RECIPE naming the key, before any allocation', () => {
    const r = run(['quantize', models.cnn, '-o', join(dir, 'o.onnx'), '--recipe', join(dir, 'gptq.json'), '--data', `image=${join(dir, 'cal.npy')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error \[BAD_RECIPE\].*gptq\.json.*blockSize/);
    expect(r.stderr).not.toMatch(/bad_alloc/);
    expect(existsSync(join(dir, 'o.onnx'))).toBe(false);
  });

  it('thread and worker counts are bounded: --threads 100000 and --jobs 1000000 are refused, not started', () => {
    const t = run(['eval', models.cnn, '--data', `image=${join(dir, 'cal.npy')}`, '--threads', '100000']);
    expect(t.status).toBe(2);
    expect(t.stderr).toMatch(/--threads '"100000"' must be an integer from 1 to 256/);
    const b = run(['eval', models.cnn, '--data', `image=${join(dir, 'cal.npy')}`, '--batch', '1e3']);
    expect(b.stderr).toMatch(/--batch '"1e3"' must be an integer/);
    const j = run(['analyze', models.cnn, '--data', `image=${join(dir, 'cal.npy')}`, '--jobs', '1000000']);
    expect(j.status).toBe(2);
    expect(j.stderr).toMatch(/--jobs '"1000000"' must be an integer from 1 to 64/);
  });

  it('NaN/Inf calibration data: BAD_DATA naming the input, the file and the first bad sample', () => {
    const r = run(['quantize', models.cnn, '-o', join(dir, 'o.onnx'), '--data', `image=${join(dir, 'nan.npy')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error \[BAD_DATA\]: Data for input '"image"' \(file .*nan\.npy.*\) holds NaN at sample 5 \(element 3937 of shape \[8, 1, 28, 28\]\)/);
    expect(existsSync(join(dir, 'o.onnx'))).toBe(false);
    const ev = run(['quantize', models.cnn, '-o', join(dir, 'o.onnx'), '--data', `image=${join(dir, 'cal.npy')}`, '--eval-data', `image=${join(dir, 'nan.npy')}`]);
    expect(ev.status).toBe(1);
    expect(ev.stderr).toMatch(/error \[BAD_DATA\]: .*nan\.npy.* holds NaN at sample 5.*evaluation data must be finite/);
    const e = run(['eval', models.cnn, '--data', `image=${join(dir, 'nan.npy')}`]);
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(/holds NaN at sample 5.*evaluation data must be finite/);
  });
});
