// External data: write with a threshold, read tensor by tensor, copy between folders, stay atomic,
// and handle offsets past 2 GiB (a sparse file, so the test uses a few KiB of disk).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readFileSync, statSync, existsSync, readdirSync, renameSync, openSync, closeSync, ftruncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ort, openSession } from '../../helpers/ort';
import { loadModel, saveModel, serializeModel, parseModel } from '../../../engine/onnx/model-io';
import { isExternal, allInitializers } from '../../../engine/onnx/external-data';
import { tensorToFloat32, tensorRawBytes, DataType } from '../../../engine/onnx/tensor';
import { create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, TensorProtoSchema, StringStringEntryProtoSchema, DataLocation } from '../../../engine/onnx/proto';
import { models } from '../../helpers/shared';
import { fmnistImages } from '../quant/calibrators/fmnist-activations';
import { valueInfo } from '../../fixtures/value-info';

const made: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'qs-ext-')); made.push(d); return d; };
let images: Float32Array;
let reference: Float32Array;
const runCnn = async (pathOrBytes: string | Uint8Array) => {
  const s = await openSession(pathOrBytes as string);
  const r = await s.run({ image: new ort.Tensor('float32', images, [16, 1, 28, 28]) });
  await s.release();
  return r.logits!.data as Float32Array;
};

afterAll(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

beforeAll(async () => {
  images = fmnistImages(16);
  reference = await runCnn(models.cnn);
});

describe('external data', () => {
  it('saves big initializers to a side file; loads them one by one; ORT gives identical logits', async () => {
    const src = await loadModel(models.cnn);
    const dir = tmp(), out = join(dir, 'cnn.onnx');
    await saveModel(src.model, out, { externalData: { location: 'cnn.onnx.data', thresholdBytes: 1024 } });
    expect(Buffer.from(serializeModel(src.model)).equals(Buffer.from(serializeModel((await loadModel(models.cnn)).model)))).toBe(true); // input model untouched
    const big = allInitializers(src.model).filter((t) => t.rawData.length >= 1024);
    const loaded = await loadModel(out);
    const ext = allInitializers(loaded.model).filter(isExternal);
    expect(ext.map((t) => t.name)).toEqual(big.map((t) => t.name));
    expect(statSync(out).size).toBeLessThan(8 * 1024);
    for (const t of ext) {
      const offset = Number(t.externalData.find((e) => e.key === 'offset')!.value);
      expect(offset % 4096).toBe(0);
      const orig = src.model.graph!.initializer.find((x) => x.name === t.name)!;
      expect(Buffer.from(tensorRawBytes(t, loaded.baseDir)!).equals(Buffer.from(orig.rawData))).toBe(true);
    }
    expect(Array.from(await runCnn(out))).toEqual(Array.from(reference));
  });

  it('reads lazily: the graph loads without the data file, a tensor read then names the missing file', async () => {
    const src = await loadModel(models.cnn);
    const dir = tmp(), out = join(dir, 'm.onnx');
    await saveModel(src.model, out, { externalData: { location: 'w.bin' } });
    renameSync(join(dir, 'w.bin'), join(dir, 'w.moved'));
    const loaded = await loadModel(out);
    const t = allInitializers(loaded.model).find(isExternal)!;
    expect(() => tensorToFloat32(t, loaded.baseDir)).toThrow(/w\.bin/);
  });

  it('re-saving elsewhere copies the data to <file>.data; re-saving beside it keeps the references', async () => {
    const a = tmp(), b = tmp();
    const src = await loadModel(models.cnn);
    await saveModel(src.model, join(a, 'm.onnx'), { externalData: { location: 'm.data', thresholdBytes: 0 } });
    const first = await loadModel(join(a, 'm.onnx'));
    await saveModel(first.model, join(b, 'copy.onnx'), { baseDir: first.baseDir });
    expect(readdirSync(b).sort()).toEqual(['copy.onnx', 'copy.onnx.data']);
    expect(Array.from(await runCnn(join(b, 'copy.onnx')))).toEqual(Array.from(reference));
    const before = statSync(join(a, 'm.data')).mtimeMs;
    await saveModel(first.model, join(a, 'again.onnx'), { baseDir: first.baseDir });
    expect(statSync(join(a, 'm.data')).mtimeMs).toBe(before);
    expect(readFileSync(join(a, 'again.onnx')).equals(readFileSync(join(a, 'm.onnx')))).toBe(true); // same bytes
    expect(Array.from(await runCnn(join(a, 'again.onnx')))).toEqual(Array.from(reference));
    // overwrite in place, same data file name: the old bytes are read before the new file replaces them
    await saveModel(first.model, join(a, 'm.onnx'), { baseDir: first.baseDir, externalData: { location: 'm.data', thresholdBytes: 0, align: 64 } });
    expect(Array.from(await runCnn(join(a, 'm.onnx')))).toEqual(Array.from(reference));
    expect(readdirSync(a).filter((f) => f.endsWith('.tmp') || f.endsWith('.bak'))).toEqual([]);
  });

  it('over the protobuf limit (scaled down to 1 MB here): "never" refuses and writes nothing; the default goes external', async () => {
    const gpt = await loadModel(models.gpt);
    const dir = tmp(), out = join(dir, 'gpt.onnx');
    const LIMIT = 1_000_000;
    await expect(saveModel(gpt.model, out, { maxProtoBytes: LIMIT, externalData: 'never' })).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringMatching(/gpt\.onnx.*externalData/) });
    expect(readdirSync(dir)).toEqual([]);
    await saveModel(gpt.model, out, { maxProtoBytes: LIMIT });
    expect(readdirSync(dir).sort()).toEqual(['gpt.onnx', 'gpt.onnx.data']);
    expect(statSync(out).size).toBeLessThan(LIMIT);
    const s = await openSession(out);
    const ids = BigInt64Array.from(Buffer.from('Call me Ishmael.'), (c) => BigInt(c));
    const r = await s.run({ input_ids: new ort.Tensor('int64', ids, [1, ids.length]) });
    const s0 = await openSession(models.gpt);
    const r0 = await s0.run({ input_ids: new ort.Tensor('int64', ids, [1, ids.length]) });
    expect(Array.from(r.logits!.data as Float32Array)).toEqual(Array.from(r0.logits!.data as Float32Array));
  });

  it('a loaded model remembers its folder: saving it elsewhere needs no baseDir', async () => {
    const a = tmp(), b = tmp();
    const src = await loadModel(models.cnn);
    await saveModel(src.model, join(a, 'm.onnx'), { externalData: { location: 'm.data', thresholdBytes: 0 } });
    const loaded = await loadModel(join(a, 'm.onnx'));
    await saveModel(loaded.model, join(b, 'n.onnx'));
    expect(Array.from(await runCnn(join(b, 'n.onnx')))).toEqual(Array.from(reference));
    // a model built in memory with external references and no folder gets a clear error
    const orphan = parseModel(serializeModel(loaded.model));
    await expect(saveModel(orphan, join(b, 'o.onnx'))).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringContaining('baseDir') });
  });

  it('a failed write leaves nothing behind (missing folder)', async () => {
    const src = await loadModel(models.cnn);
    const out = join(tmpdir(), `qs-no-dir-${process.pid}`, 'x.onnx');
    await expect(saveModel(src.model, out, { externalData: { location: 'x.data' } })).rejects.toMatchObject({ code: 'IO_ERROR' });
    expect(existsSync(out)).toBe(false);
    await expect(saveModel(src.model, join(tmp(), 'y.onnx'), { externalData: { location: '../escape.data' } })).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining('escape.data') });
  });

  it('reads a tensor stored past 2 GiB in a sparse data file, and ORT runs it', async () => {
    const dir = tmp();
    const OFFSET = 2 ** 31 + 4096; // beyond int32 offsets
    const w = Float32Array.from({ length: 8 }, (_, i) => i * 0.5 - 1);
    const fd = openSync(join(dir, 'big.data'), 'w');
    ftruncateSync(fd, OFFSET + 4096);
    writeSync(fd, new Uint8Array(w.buffer), 0, w.byteLength, OFFSET);
    closeSync(fd);
    expect(statSync(join(dir, 'big.data')).blocks * 512).toBeLessThan(1 << 20); // sparse: no real disk used
    const wt = create(TensorProtoSchema, {
      name: 'W', dataType: DataType.FLOAT, dims: [8n], dataLocation: DataLocation.EXTERNAL,
      externalData: [create(StringStringEntryProtoSchema, { key: 'location', value: 'big.data' }), create(StringStringEntryProtoSchema, { key: 'offset', value: String(OFFSET) }), create(StringStringEntryProtoSchema, { key: 'length', value: '32' })],
    });
    const model = create(ModelProtoSchema, { irVersion: 8n, opsetImport: [{ domain: '', version: 17n }], graph: create(GraphProtoSchema, { name: 'g', node: [create(NodeProtoSchema, { opType: 'Add', input: ['x', 'W'], output: ['y'] })], initializer: [wt], input: [valueInfo('x')], output: [valueInfo('y')] }) });
    await saveModel(model, join(dir, 'big.onnx'), { baseDir: dir });
    const loaded = await loadModel(join(dir, 'big.onnx'));
    expect(Array.from(tensorToFloat32(loaded.model.graph!.initializer[0]!, loaded.baseDir))).toEqual(Array.from(w));
    const s = await openSession(join(dir, 'big.onnx'));
    const r = await s.run({ x: new ort.Tensor('float32', new Float32Array(8).fill(1), [8]) });
    expect(Array.from(r.y!.data as Float32Array)).toEqual(Array.from(w, (v) => v + 1));
    // and copying it to a new pair reads just those 32 bytes
    const other = tmp();
    await saveModel(loaded.model, join(other, 'small.onnx'), { baseDir: loaded.baseDir, externalData: { location: 'small.data', thresholdBytes: 0 } });
    expect(statSync(join(other, 'small.data')).size).toBe(32);
  });
});
