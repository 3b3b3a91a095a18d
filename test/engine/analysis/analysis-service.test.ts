// analysis.start through the engine's service, as the studio calls it: only ids cross, the run is a job
// with progress, and its result is the sensitivity report the view reads.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStudioEngine, type StudioEngine } from '../../../engine/api/engine-host';
import { writeNpy } from '../../../engine/data/npy';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { models, sharedPath } from '../../helpers/shared';

let dir: string;
let engine: StudioEngine;
const call = async (channel: string, request: unknown) => {
  const r = await engine.service.dispatch(channel, request);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value as Record<string, unknown>;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'qs-analysis-'));
  engine = startStudioEngine({ dataDir: join(dir, 'data'), host: 'browser' });
});
afterAll(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('analysis.start', () => {
  it('runs a sensitivity analysis job on the project\'s model and data; the run result is the report', async () => {
    const { images } = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 80);
    const test = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 24);
    await writeNpy(join(dir, 'cal.npy'), images);
    await writeNpy(join(dir, 'ev.npy'), test.images);
    await writeNpy(join(dir, 'ev-labels.npy'), test.labels);
    const projectId = (await call('projects.create', { name: 'sens' })).id as string;
    const modelId = (await call('models.import', { projectId, file: { kind: 'path', path: models.cnn } })).id as string;
    const ds = async (name: string, file: string) => (await call('datasets.add', { projectId, name, kind: 'npy', file: { kind: 'path', path: join(dir, file) } })).id as string;
    const datasetId = await ds('cal', 'cal.npy'), evalDatasetId = await ds('ev', 'ev.npy'), evalLabelsDatasetId = await ds('ev-labels', 'ev-labels.npy');
    const bad = await engine.service.dispatch('analysis.start', { projectId, modelId, datasetId, recipe: { weights: { dtype: 'int2' } } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_RECIPE' } });
    const noEval = await engine.service.dispatch('analysis.start', { projectId, modelId, datasetId, evalLabelsDatasetId });
    expect(noEval).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT', message: expect.stringMatching(/evalDatasetId/) } });
    const run = await call('analysis.start', { projectId, modelId, datasetId, evalDatasetId, evalLabelsDatasetId, recipe: { calibration: { samples: 64, batchSize: 32 } } });
    expect(run.kind).toBe('analyze');
    let r = run;
    for (let i = 0; i < 600 && (r.status === 'queued' || r.status === 'running'); i++) {
      await new Promise((res) => setTimeout(res, 500));
      r = await call('runs.get', { id: run.id });
    }
    expect(r.error).toBeNull();
    expect(r.status).toBe('succeeded');
    const report = r.result as { evaluation: { source: string; samples: number }; entries: { kind: string; name: string }[]; rankedBy: string };
    expect(report.evaluation).toMatchObject({ source: 'eval-data', samples: 24 });
    expect(report.rankedBy).toBe('top1');
    expect(report.entries.filter((e) => e.kind === 'weight')).toHaveLength(6);
  }, 300_000);
});
