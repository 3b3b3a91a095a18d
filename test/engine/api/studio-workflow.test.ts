// Data checked on attach and runs managed, through the service over a real SQLite store and real files:
// the Fashion-MNIST sample model, .npy files written here, images decoded by sharp.
import { describe, it, expect, beforeAll } from 'vitest';
import { writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeNpy } from '../../../engine/data/npy';
import { useTempStudio } from '../../fixtures/temp-studio';

const repo = resolve(import.meta.dirname, '../../..');
const assets = join(repo, '.cache/test-assets/skimage-data');
const studio = useTempStudio('qs-workflow-');
const { call, value } = studio;
let projectId: string;
const failure = async (channel: string, request: unknown) => {
  const r = await call(channel, request);
  if (r.ok) throw new Error(`${channel} succeeded`);
  return r.error;
};

beforeAll(async () => {
  projectId = (await value('projects.create', { name: 'CNN' })).id;
  await value('models.import', { projectId, file: { kind: 'path', path: join(repo, 'projects-sample/fmnist-cnn/model.onnx') } });
});

describe('datasets.attach / datasets.inspect', () => {
  it('attaches a fitting array and reports its facts', async () => {
    await value('datasets.attach', { projectId, name: 'images', kind: 'npy', file: { kind: 'path', path: join(repo, 'projects-sample/fmnist-cnn/images.npy') }, options: { input: 'image' } });
    await value('datasets.attach', { projectId, name: 'labels', kind: 'npy', file: { kind: 'path', path: join(repo, 'projects-sample/fmnist-cnn/labels.npy') }, options: { role: 'labels' } });
    const facts = await value('datasets.inspect', { projectId });
    expect(facts.map((f: any) => [f.shape, f.dtype, f.samples, f.problem])).toEqual([[[300, 1, 28, 28], 'float32', 300, null], [[300], 'int64', 300, null]]);
  });

  it('refuses what does not fit, naming the file and storing nothing', async () => {
    const n0 = (await value('datasets.list', { projectId })).length;
    const bytes = join(studio.dir, 'random.npy');
    writeFileSync(bytes, Buffer.alloc(1000, 7));
    const cases: [string, unknown, RegExp][] = [];
    cases.push([bytes, {}, /random\.npy/]);
    const nhwc = join(studio.dir, 'nhwc.npy');
    await writeNpy(nhwc, { dtype: 'float32', shape: [4, 28, 28, 1], data: new Float32Array(4 * 784) });
    cases.push([nhwc, {}, /channels last \(NHWC\)/]);
    const f64 = join(studio.dir, 'f64.npy');
    await writeNpy(f64, { dtype: 'float64', shape: [4, 1, 28, 28], data: new Float64Array(4 * 784) });
    cases.push([f64, {}, /as float32: save it with a\.astype\(np\.float32\)/]);
    const size = join(studio.dir, 'size.npy');
    await writeNpy(size, { dtype: 'float32', shape: [4, 1, 32, 32], data: new Float32Array(4 * 1024) });
    cases.push([size, {}, /axis 2, 3 differs/]);
    const labels = join(studio.dir, 'labels.npy');
    await writeNpy(labels, { dtype: 'int64', shape: [300], data: BigInt64Array.from({ length: 300 }, (_, i) => BigInt(i % 11)) });
    cases.push([labels, { role: 'labels' }, /values span 0\.\.10.*10 classes/]);
    const floatLabels = join(studio.dir, 'float-labels.npy');
    await writeNpy(floatLabels, { dtype: 'float32', shape: [300], data: new Float32Array(300) });
    cases.push([floatLabels, { role: 'labels' }, /must be integers/]);
    for (const [file, options, re] of cases) {
      const e = await failure('datasets.attach', { projectId, name: 'x', kind: 'npy', file: { kind: 'path', path: file }, options });
      expect(e.code, file).toBe('BAD_DATA');
      expect(e.message, file).toMatch(re);
      expect(e.message, file).not.toContain(join(studio.dir, 'data'));
    }
    expect((await value('datasets.list', { projectId })).length).toBe(n0);
  });

  it('checks prepared images against the model (size and channels) before storing them', async () => {
    const files = ['retina.jpg', 'coins.png'].map((f) => ({ kind: 'path', path: join(assets, f) }));
    const e = await failure('datasets.prepare', { projectId, name: 'rgb', kind: 'images', files, width: 28, height: 28, channels: 'rgb' });
    expect(e.message).toMatch(/\[2, 3, 28, 28\].*axis 1 differs/);
    const ok = await value('datasets.prepare', { projectId, name: 'photos', kind: 'images', files, width: 28, height: 28, channels: 'gray' });
    const facts = (await value('datasets.inspect', { projectId })).find((f: any) => f.datasetId === ok.id);
    expect(facts).toMatchObject({ shape: [2, 1, 28, 28], dtype: 'float32', problem: null });
  });
});

describe('runs: notes, tags, names and deletion', () => {
  it('names a run after its pipeline, keeps notes and tags, and deletes it with its files', async () => {
    const pipeline = await value('pipelines.save', { projectId, name: 'PTQ per-tensor', graph: { version: 1 } });
    const store = studio.engine.store;
    const run = store.createRun({ projectId, pipelineId: pipeline.id, kind: 'quantize', params: {} });
    const runDir = join(store.projectDir(projectId), 'runs', run.id);
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'model.int8.onnx'), 'bytes');
    store.markRunStarted(run.id);
    // Running: cannot be deleted.
    expect((await failure('runs.delete', { id: run.id })).message).toMatch(/running; cancel it/);
    store.finishRun(run.id, { status: 'succeeded', result: {}, metrics: [{ name: 'x', value: 1 }], artifacts: [{ kind: 'model', file: `runs/${run.id}/model.int8.onnx`, sizeBytes: 5, sha256: 'a'.repeat(64) }] });
    let notes = (await value('runs.notes', { projectId })).find((n: any) => n.runId === run.id);
    expect(notes).toEqual({ runId: run.id, name: 'PTQ per-tensor', notes: '', tags: [], pipelineName: 'PTQ per-tensor' });
    notes = await value('runs.annotate', { id: run.id, name: '  baseline  ', tags: ['keep', ' keep ', 'int8'] });
    expect(notes).toMatchObject({ name: 'baseline', tags: ['keep', 'int8'] });
    notes = await value('runs.annotate', { id: run.id, notes: 'per-tensor loses 2 dB' });
    expect(notes).toMatchObject({ name: 'baseline', notes: 'per-tensor loses 2 dB', tags: ['keep', 'int8'] });
    expect(await value('runs.delete', { id: run.id })).toEqual({ deleted: true });
    expect(existsSync(runDir)).toBe(false);
    expect((await value('runs.list', { projectId })).some((r: any) => r.id === run.id)).toBe(false);
    expect(await value('artifacts.list', { projectId, runId: run.id })).toEqual([]);
    expect(await value('metrics.list', { runId: run.id })).toEqual([]);
    expect((await failure('runs.annotate', { id: run.id, name: 'x' })).code).toBe('NOT_FOUND');
  });
});
