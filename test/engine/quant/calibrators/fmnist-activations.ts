// Real activations for calibrator tests: the shared Fashion-MNIST CNN run by onnxruntime-node on
// real test-set images, with every Conv and Relu output exposed as a graph output.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { ort, openSession } from '../../../helpers/ort';
import { loadModel, serializeModel } from '../../../../engine/onnx/model-io';
import { create, ValueInfoProtoSchema, TypeProtoSchema, TypeProto_TensorSchema } from '../../../../engine/onnx/proto';
import { DataType } from '../../../../engine/onnx/tensor';
import { models, sharedPath } from '../../../helpers/shared';

export function fmnistImages(count: number, offset = 0): Float32Array {
  const bytes = gunzipSync(readFileSync(sharedPath('data', 'fmnist', 't10k-images-idx3-ubyte.gz')));
  const px = bytes.subarray(16 + offset * 784, 16 + (offset + count) * 784);
  return Float32Array.from(px, (p) => (p / 255 - 0.286) / 0.353);
}

/** batches[b][tensorName] = that tensor's values for batch b. */
export async function cnnActivations(batches: number, batchSize: number): Promise<Record<string, Float32Array>[]> {
  const { model } = await loadModel(models.cnn);
  const g = model.graph!;
  const names = g.node.filter((n) => n.opType === 'Conv' || n.opType === 'Relu').map((n) => n.output[0]!);
  for (const name of names) {
    g.output.push(create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: DataType.FLOAT }) } }) }));
  }
  const session = await openSession(serializeModel(model), { threads: 2 });
  const out: Record<string, Float32Array>[] = [];
  for (let b = 0; b < batches; b++) {
    const x = fmnistImages(batchSize, b * batchSize);
    const r = await session.run({ image: new ort.Tensor('float32', x, [batchSize, 1, 28, 28]) }, names);
    out.push(Object.fromEntries(names.map((n) => [n, r[n]!.data as Float32Array])));
  }
  await session.release();
  return out;
}

export const PRE_RELU = '/4/4.0/Conv_output_0';
export const POST_RELU = '/4/4.2/Relu_output_0';
/** Conv outputs whose max is over 1.5x their 99.9th |x| percentile on these images. */
export const HEAVY_TAILED = ['/0/0.0/Conv_output_0', '/1/1.0/Conv_output_0'];
