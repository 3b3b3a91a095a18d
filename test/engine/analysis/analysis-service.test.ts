// analysis.start through the engine's service, as the studio calls it: only ids cross, the run is a job
// with progress, and its result is the sensitivity report the view reads.
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { writeNpy } from '../../../engine/data/npy';
import { loadFashionMnist } from '../../../engine/data/fashion-mnist';
import { models, sharedPath } from '../../helpers/shared';
import { useTempStudio } from '../../fixtures/temp-studio';

const studio = useTempStudio('qs-analysis-');
const { value } = studio;

describe('analysis.start', () => {
  it('runs a sensitivity analysis job on the project\'s model and data; the run result is the report', async () => {
    const { images } = loadFashionMnist(sharedPath('data', 'fmnist'), 'train', 80);
    const test = loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 24);
    await writeNpy(join(studio.dir, 'cal.npy'), images);
    await writeNpy(join(studio.dir, 'ev.npy'), test.images);
    await writeNpy(join(studio.dir, 'ev-labels.npy'), test.labels);
    const projectId = (await value('projects.create', { name: 'sens' })).id as string;
    const modelId = (await value('models.import', { projectId, file: { kind: 'path', path: models.cnn } })).id as string;
    const ds = async (name: string, file: string) => (await value('datasets.add', { projectId, name, kind: 'npy', file: { kind: 'path', path: join(studio.dir, file) } })).id as string;
    const datasetId = await ds('cal', 'cal.npy'), evalDatasetId = await ds('ev', 'ev.npy'), evalLabelsDatasetId = await ds('ev-labels', 'ev-labels.npy');
    const bad = await studio.engine.service.dispatch('analysis.start', { projectId, modelId, datasetId, recipe: { weights: { dtype: 'int2' } } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'BAD_RECIPE' } });
    const noEval = await studio.engine.service.dispatch('analysis.start', { projectId, modelId, datasetId, evalLabelsDatasetId });
    expect(noEval).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT', message: expect.stringMatching(/evalDatasetId/) } });
    const run = await value('analysis.start', { projectId, modelId, datasetId, evalDatasetId, evalLabelsDatasetId, recipe: { calibration: { samples: 64, batchSize: 32 } } });
    expect(run.kind).toBe('analyze');
    let r = run;
    for (let i = 0; i < 600 && (r.status === 'queued' || r.status === 'running'); i++) {
      await new Promise((res) => setTimeout(res, 500));
      r = await value('runs.get', { id: run.id });
    }
    expect(r.error).toBeNull();
    expect(r.status).toBe('succeeded');
    const report = r.result as { evaluation: { source: string; samples: number }; entries: { kind: string; name: string }[]; rankedBy: string };
    expect(report.evaluation).toMatchObject({ source: 'eval-data', samples: 24 });
    expect(report.rankedBy).toBe('top1');
    expect(report.entries.filter((e) => e.kind === 'weight')).toHaveLength(6);
  }, 300_000);
});
