// The service over a real store, real files and a real worker: malformed payloads are refused before
// any handler runs; a real ONNX model is imported (copied, hashed, opset and inputs read); a real
// quantize run of the Fashion-MNIST CNN goes through the job runner and its model artifact exports
// atomically and loads in onnxruntime-node.
import { describe, it, expect } from 'vitest';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ort, openSession } from '../helpers/ort';
import { createService } from '../../engine/api/service';
import { writeNpy } from '../../engine/data/npy';
import { loadFashionMnist } from '../../engine/data/fashion-mnist';
import { models, sharedPath } from '../helpers/shared';
import { useTempStudio } from '../fixtures/temp-studio';

const studio = useTempStudio('qs-api-');
const { call, value } = studio;

describe('service: validation happens before handlers', () => {
  it('refuses malformed payloads with BAD_ARGUMENT and does not touch the store', async () => {
    for (const [channel, req] of [
      ['projects.create', { name: 42 }],
      ['projects.create', { name: 'ok', extra: true }],
      ['projects.create', 'not an object'],
      ['runs.start', { projectId: 'p', kind: 'selftest', params: [] }],
      ['models.import', { projectId: 'p', file: { kind: 'path' } }],
    ] as const) {
      const r = await call(channel, req);
      expect(r.ok, `${channel} ${JSON.stringify(req)}`).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('BAD_ARGUMENT');
    }
    expect(await value('projects.list', {})).toEqual([]);
  });

  it('unknown channels and missing rows answer with codes, not exceptions', async () => {
    expect(await call('fs.readFile', { path: '/etc/passwd' })).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    expect(await call('projects.get', { id: 'nope' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await call('dialog.openFile', {})).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
  });
});

describe('service: answers are checked too', () => {
  it('a handler answering outside the contract is an INTERNAL error, not the caller\'s', async () => {
    const svc = createService(studio.engine.service.deps, { 'projects.list': () => [{ id: 'x', name: 'no dates' }] as never });
    const r = await svc.dispatch('projects.list', {});
    expect(r).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    if (!r.ok) expect(r.error.message).toMatch(/projects\.list.*outside the contract.*response\[0\]/);
  });
});

describe('service: a project end to end', () => {
  it('creates a project, imports the real CNN, quantizes it in a worker, exports the artifact', async () => {
    const p = await value('projects.create', { name: 'Fashion-MNIST CNN' });
    expect((await value('projects.list', {})).map((x: any) => x.name)).toEqual(['Fashion-MNIST CNN']);

    const m = await value('models.import', { projectId: p.id, file: { kind: 'path', path: models.cnn } });
    expect(m).toMatchObject({ name: 'fmnist-cnn', opset: 17, file: 'models/fmnist-cnn.onnx' });
    expect(m.inputs[0]).toMatchObject({ name: 'image', elemType: 'FLOAT' });
    expect(m.inputs[0].shape.slice(1)).toEqual([1, 28, 28]);
    expect(m.outputs[0].name).toBe('logits');
    expect(m.sha256).toBe(createHash('sha256').update(readFileSync(models.cnn)).digest('hex'));
    expect(existsSync(join(p.dir, m.file))).toBe(true);

    // a file that is not ONNX is refused and leaves nothing behind
    const bogus = await call('models.import', { projectId: p.id, file: { kind: 'path', path: sharedPath('data', 'text', 'val.txt') } });
    expect(bogus).toMatchObject({ ok: false, error: { code: 'BAD_MODEL' } });
    expect(readdirSync(join(p.dir, 'models'))).toEqual(['fmnist-cnn.onnx']);

    const calib = join(studio.dir, 'calib.npy');
    await writeNpy(calib, loadFashionMnist(sharedPath('data', 'fmnist'), 'test', 64).images);
    const ds = await value('datasets.add', { projectId: p.id, name: 'calib', kind: 'npy', file: { kind: 'path', path: calib } });
    expect(ds.file).toBe('datasets/calib.npy');

    const recipe = { calibration: { samples: 64, batchSize: 32 } };
    // only ids cross from the renderer: paths are derived from the store, foreign paths refused
    const evil = await call('runs.start', { projectId: p.id, kind: 'quantize', params: { modelId: m.id, labels: '/etc/passwd' } });
    expect(evil).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    const run = await value('runs.start', { projectId: p.id, kind: 'quantize', params: { modelId: m.id, datasetId: ds.id, recipe, modelPath: '/etc/passwd' } });
    expect(run.params.modelPath).toBe(join(p.dir, m.file));
    expect(run.params.inputs).toEqual({ image: join(p.dir, ds.file) });
    const stages = new Set<string>();
    const off = studio.engine.onEvent((event, payload: any) => { if (event === 'run.progress' && payload.runId === run.id) stages.add(payload.stage); });
    const done = await studio.engine.jobs.wait(run.id);
    off();
    expect(done.error).toBeNull();
    expect(done.status).toBe('succeeded');
    expect(stages.size).toBeGreaterThan(1);
    const [art] = await value('artifacts.list', { projectId: p.id, runId: run.id });
    expect(art.kind).toBe('model');

    const dest = join(studio.dir, 'exported.onnx');
    const exp = await value('artifacts.export', { id: art.id, destPath: dest });
    expect(exp).toEqual({ path: dest, sizeBytes: art.sizeBytes });
    const session = await openSession(dest);
    const x = new ort.Tensor('float32', new Float32Array(28 * 28), [1, 1, 28, 28]);
    const out = await session.run({ image: x });
    expect(out.logits!.dims).toEqual([1, 10]);
    await session.release();

    const deleted = await value('projects.delete', { id: p.id });
    expect(deleted).toEqual({ deleted: true });
    expect(existsSync(p.dir)).toBe(false);
  });
});
