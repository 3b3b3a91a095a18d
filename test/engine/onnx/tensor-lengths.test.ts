// A model is refused on load (BAD_MODEL naming the tensor) when a tensor's data does not match its
// dims and data type: raw_data, typed fields, 4-bit packing, Constant attributes, subgraphs, external
// data length and file size. Real models still load.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, saveModel, serializeModel, parseModel } from '../../../engine/onnx/model-io';
import { DataType } from '../../../engine/onnx/tensor';
import { create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, TensorProtoSchema, AttributeProtoSchema, AttributeType, type TensorProto, type NodeProto } from '../../../engine/onnx/proto';
import { StudioError } from '../../../engine/errors';
import { roundTripModels } from './fixtures';
import { valueInfo } from '../../fixtures/value-info';

function modelWith(init: TensorProto[], nodes: NodeProto[] = [create(NodeProtoSchema, { name: 'mm', opType: 'MatMul', input: ['x', 'W'], output: ['y'] })]) {
  return create(ModelProtoSchema, { irVersion: 8n, opsetImport: [{ domain: '', version: 17n }], graph: create(GraphProtoSchema, { name: 'g', node: nodes, initializer: init, input: [valueInfo('x')], output: [valueInfo('y')] }) });
}
const f32 = (n: number) => new Uint8Array(new Float32Array(n).fill(0.25).buffer);
const tensor = (o: { dims: bigint[] } & Record<string, unknown>): TensorProto => create(TensorProtoSchema, { name: 'W', dataType: DataType.FLOAT, ...o } as never);

function refusal(bytes: Uint8Array): StudioError {
  try { parseModel(bytes, 'm.onnx'); } catch (e) { expect(e).toBeInstanceOf(StudioError); return e as StudioError; }
  throw new Error('parseModel accepted the model');
}

describe('tensor byte lengths on load', () => {
  let dir = '';
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'qlen-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a 688-byte model declaring a [1e6, 1e6] float weight with 64 floats is refused at once, naming the weight', async () => {
    for (const w of [tensor({ dims: [1_000_000n, 1_000_000n], rawData: f32(64) }), tensor({ dims: [1_000_000n, 1_000_000n], floatData: Array(64).fill(0.5) })]) {
      const bytes = serializeModel(modelWith([w]));
      expect(bytes.length).toBeLessThan(800);
      writeFileSync(join(dir, 'bomb.onnx'), bytes);
      const t = performance.now();
      await expect(loadModel(join(dir, 'bomb.onnx'))).rejects.toThrow(/bomb\.onnx.*initializer '"W"'.*float32 \[1000000, 1000000\].*(4000000000000 bytes.*raw_data holds 256|1000000000000 float_data value\(s\), but holds 64)/);
      expect(performance.now() - t).toBeLessThan(1000);
    }
  });

  it('raw_data and typed fields must match exactly; 4-bit types are packed two per byte', () => {
    expect(() => parseModel(serializeModel(modelWith([tensor({ dims: [4n, 4n], rawData: f32(16) })])))).not.toThrow();
    expect(refusal(serializeModel(modelWith([tensor({ dims: [4n, 4n], rawData: f32(17) })]))).message).toMatch(/raw_data holds 68/);
    expect(refusal(serializeModel(modelWith([tensor({ dims: [3n], int64Data: [1n, 2n], dataType: DataType.INT64 })]))).message).toMatch(/3 int64_data value\(s\), but holds 2/);
    // int4 [5]: 3 packed bytes, or 3 int32_data entries.
    expect(() => parseModel(serializeModel(modelWith([tensor({ dims: [5n], dataType: DataType.INT4, rawData: new Uint8Array(3) })])))).not.toThrow();
    expect(() => parseModel(serializeModel(modelWith([tensor({ dims: [5n], dataType: DataType.UINT4, int32Data: [1, 2, 3] })])))).not.toThrow();
    expect(refusal(serializeModel(modelWith([tensor({ dims: [5n], dataType: DataType.INT4, rawData: new Uint8Array(2) })]))).message).toMatch(/int4 \[5\], which takes 3 bytes, but its raw_data holds 2/);
    expect(refusal(serializeModel(modelWith([tensor({ dims: [6n, 6n] })]))).message).toMatch(/36 element\(s\)\) but holds no data/);
    expect(refusal(serializeModel(modelWith([tensor({ dims: [-1n, 4n], rawData: f32(4) })]))).message).toMatch(/dimension -1/);
    expect(refusal(serializeModel(modelWith([tensor({ dims: [2n ** 40n, 2n ** 40n], rawData: f32(4) })]))).message).toMatch(/more than 2\^53/);
  });

  it('Constant attribute tensors and subgraph initializers are checked too', () => {
    const constant = create(NodeProtoSchema, {
      name: 'c', opType: 'Constant', output: ['W'],
      attribute: [create(AttributeProtoSchema, { name: 'value', type: AttributeType.TENSOR, t: tensor({ dims: [1000n, 1000n], rawData: f32(8) }) })],
    });
    expect(refusal(serializeModel(modelWith([], [constant, create(NodeProtoSchema, { opType: 'MatMul', input: ['x', 'W'], output: ['y'] })]))).message).toMatch(/tensor of Constant node '"c"' \(attribute '"value"'\)/);
    const branch = (init: TensorProto[]) => create(GraphProtoSchema, { name: 'b', initializer: init, node: [create(NodeProtoSchema, { opType: 'Identity', input: ['W'], output: ['o'] })], output: [valueInfo('o')] });
    const ifNode = create(NodeProtoSchema, {
      name: 'if', opType: 'If', input: ['cond'], output: ['y'],
      attribute: [
        create(AttributeProtoSchema, { name: 'then_branch', type: AttributeType.GRAPH, g: branch([tensor({ dims: [2n], rawData: f32(2) })]) }),
        create(AttributeProtoSchema, { name: 'else_branch', type: AttributeType.GRAPH, g: branch([tensor({ name: 'Wsub', dims: [9n, 9n], rawData: f32(2) })]) }),
      ],
    });
    expect(refusal(serializeModel(modelWith([], [ifNode]))).message).toMatch(/initializer '"Wsub"'/);
  });

  it('external data: a length that disagrees with the dims, or a data file too short, is refused on load', async () => {
    const m = modelWith([tensor({ dims: [64n, 64n], rawData: f32(64 * 64) })]);
    const path = join(dir, 'ext.onnx');
    await saveModel(m, path, { externalData: { location: 'ext.onnx.data', thresholdBytes: 1024 } });
    expect((await loadModel(path)).model.graph!.initializer[0]!.externalData.length).toBeGreaterThan(0);
    // Cut the data file short: the model now points past its end.
    truncateSync(join(dir, 'ext.onnx.data'), statSync(join(dir, 'ext.onnx.data')).size - 100);
    await expect(loadModel(path)).rejects.toThrow(/initializer '"W"' is float32 \[64, 64\] \(16384 bytes at offset 0\) but its external data file '"ext\.onnx\.data"' is 16284 bytes/);
    const w = tensor({ dims: [64n, 64n], dataLocation: 1, externalData: [{ key: 'location', value: 'ext.onnx.data' }, { key: 'length', value: '100' }] as never });
    expect(refusal(serializeModel(modelWith([w]))).message).toMatch(/16384 bytes\) but its external data length is 100/);
  });

  it.each(roundTripModels.map((m) => [m.name, m.path]))('real model %s still loads', async (_name, path) => {
    await expect(loadModel(path)).resolves.toBeTruthy();
  });
});
