// The 'quantize' job kind — a real pipeline run (engine/pipeline/quantize.ts) of the Fashion-MNIST CNN in
// a worker thread — reports its stages, and a cancel in the middle leaves the run cancelled with no
// artifact and no partial model anywhere in the run folder.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../engine/store/store';
import { JobRunner } from '../../engine/jobs/runner';
import { writeNpy } from '../../engine/data/npy';
import { loadFashionMnist } from '../../engine/data/fashion-mnist';
import { models, sharedPath } from '../helpers/shared';

let dir: string;
let store: Store;
let runner: JobRunner;
let calib: string;
const progress: { runId: string; stage: string; fraction: number }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qs-qjob-'));
  store = Store.open(join(dir, 'data'));
  runner = new JobRunner({ store, graceMs: 1500, emit: (e, p: any) => { if (e === 'run.progress') progress.push(p); } });
  calib = join(dir, 'calib.npy');
  await writeNpy(calib, loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 256).images);
});
afterAll(async () => {
  await runner.shutdown();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('quantize job', () => {
  it('is cancelled mid-run without leaving a model behind', async () => {
    const p = store.createProject({ name: 'cancel me' });
    const params = { modelPath: models.cnn, inputs: { image: calib }, recipe: { calibration: { samples: 256, batchSize: 8 } } };
    const started = runner.start({ projectId: p.id, kind: 'quantize', params });
    await new Promise<void>((res, rej) => {
      const t0 = Date.now();
      const t = setInterval(() => {
        if (progress.some((e) => e.runId === started.id && e.stage !== 'load')) { clearInterval(t); res(); }
        else if (Date.now() - t0 > 60_000) { clearInterval(t); rej(new Error('no progress past load within 60 s')); }
      }, 5);
    });
    runner.cancel(started.id);
    const run = await runner.wait(started.id);
    expect(run.status).toBe('cancelled');
    expect(store.listArtifacts(p.id)).toEqual([]);
    const runDir = join(store.projectDir(p.id), 'runs', run.id);
    expect(existsSync(runDir) ? readdirSync(runDir) : []).toEqual([]);
  });

  it('runs to success and records the report, metrics and the model artifact', async () => {
    const p = store.createProject({ name: 'run me' });
    const params = { modelPath: models.cnn, inputs: { image: calib }, recipe: { calibration: { samples: 64, batchSize: 32 } }, outputName: 'cnn.int8.onnx' };
    const run = await runner.wait(runner.start({ projectId: p.id, kind: 'quantize', params }).id);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    expect((run.result as { quantized: unknown[] }).quantized.length).toBeGreaterThan(0);
    const stages = new Set(progress.filter((e) => e.runId === run.id).map((e) => e.stage));
    expect(stages.size).toBeGreaterThan(2);
    const [art] = store.listArtifacts(p.id, run.id);
    expect(art).toMatchObject({ kind: 'model', file: `runs/${run.id}/cnn.int8.onnx` });
    expect(art!.sizeBytes).toBeLessThan(200_000); // int8 weights: well under the FP32 model's 0.54 MiB
  });
});
