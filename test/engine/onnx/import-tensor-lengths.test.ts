// The studio's import (models.import) refuses a model whose tensors do not hold the data their dims
// declare, in well under a second and naming the tensor, so no later view (tensors.stats) can walk a
// declared 10^12 elements on the host's main thread.
import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serializeModel } from '../../../engine/onnx/model-io';
import { DataType } from '../../../engine/onnx/tensor';
import { create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, TensorProtoSchema } from '../../../engine/onnx/proto';
import { valueInfo } from '../../fixtures/value-info';
import { useTempStudio } from '../../fixtures/temp-studio';

const studio = useTempStudio('qs-import-len-');
const { call } = studio;

describe('models.import checks tensor lengths', () => {
  it('a 688-byte model declaring a [1e6, 1e6] float weight with 64 floats: BAD_MODEL naming the weight, no model row', async () => {
    const w = create(TensorProtoSchema, { name: 'W', dataType: DataType.FLOAT, dims: [1_000_000n, 1_000_000n], rawData: new Uint8Array(256) });
    const model = create(ModelProtoSchema, { irVersion: 8n, opsetImport: [{ domain: '', version: 17n }], graph: create(GraphProtoSchema, { name: 'g', node: [create(NodeProtoSchema, { name: 'mm', opType: 'MatMul', input: ['x', 'W'], output: ['y'] })], initializer: [w], input: [valueInfo('x')], output: [valueInfo('y')] }) });
    const bytes = serializeModel(model);
    expect(bytes.length).toBeLessThan(800);
    writeFileSync(join(studio.dir, 'bomb.onnx'), bytes);
    const p = await call('projects.create', { name: 'bombs' });
    if (!p.ok) throw new Error(p.error.message);
    const projectId = (p.value as { id: string }).id;
    const t = performance.now();
    const r = await call('models.import', { projectId, file: { kind: 'path', path: join(studio.dir, 'bomb.onnx') } });
    expect(performance.now() - t).toBeLessThan(5000);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('BAD_MODEL');
    expect(r.error.message).toMatch(/initializer '"W"' is float32 \[1000000, 1000000\], which takes 4000000000000 bytes, but its raw_data holds 256/);
    const list = await call('models.list', { projectId });
    expect(list.ok && list.value).toEqual([]);
  });
});
