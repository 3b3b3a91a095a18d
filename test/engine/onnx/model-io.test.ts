import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, saveModel, serializeModel, parseModel } from '../../../engine/onnx/model-io';
import { tensorToFloat32, tensorDims } from '../../../engine/onnx/tensor';
import { models } from '../../helpers/shared';

describe('model-io', () => {
  it('loads the Fashion-MNIST CNN and round-trips it byte for byte', async () => {
    const { model } = await loadModel(models.cnn);
    expect(model.graph!.input[0]!.name).toBe('image');
    const conv = model.graph!.node.find((n) => n.opType === 'Conv');
    expect(conv).toBeDefined();
    const w = model.graph!.initializer.find((t) => t.name === conv!.input[1]);
    expect(w).toBeDefined();
    const values = tensorToFloat32(w!);
    expect(values.length).toBe(tensorDims(w!).reduce((a, b) => a * b, 1));
    expect(values.some((v) => v !== 0)).toBe(true);

    const dir = mkdtempSync(join(tmpdir(), 'qs-io-'));
    const out = join(dir, 'copy.onnx');
    await saveModel(model, out);
    const again = await loadModel(out);
    expect(Buffer.from(serializeModel(again.model)).equals(Buffer.from(serializeModel(model)))).toBe(true);
    expect(readFileSync(out).equals(readFileSync(models.cnn))).toBe(true);
  });

  it('rejects a corrupt file with a clear error naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qs-io-'));
    const bad = join(dir, 'bad.onnx');
    writeFileSync(bad, Buffer.from('this is not a protobuf at all, just text'));
    await expect(loadModel(bad)).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringContaining('bad.onnx') });
    await expect(loadModel(join(dir, 'missing.onnx'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(() => parseModel(new Uint8Array([0x08, 0x07]), 'tiny')).toThrow(/no ONNX graph/);
  });

  it('never leaves a partial file when the destination folder is missing', async () => {
    const { model } = await loadModel(models.cnn);
    const out = join(tmpdir(), 'no-such-dir-' + Date.now(), 'x.onnx');
    await expect(saveModel(model, out)).rejects.toMatchObject({ code: 'IO_ERROR' });
    expect(existsSync(out)).toBe(false);
  });
});
