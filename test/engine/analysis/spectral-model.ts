// A model the default recipe wrecks (the audio front-end): its input is a power spectrum
// spanning 1 ... 8e11, a Conv reads the raw power and a Log compresses it. MinMax uint8 on that input
// gives a scale of ~3e9, so every bin below ~1.5e9 (almost all of them) becomes 0 and the features
// after the Log collapse, while the layers after the Log quantize well. Weights are seeded random.
import {
  create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, DataType, type NodeProto,
} from '../../../engine/onnx/proto';
import { makeTensor } from '../../../engine/onnx/tensor';
import { saveModel } from '../../../engine/onnx/model-io';
import { attr, valueInfo } from '../../../engine/qat/onnx-build';
import { seededRandom } from '../../../engine/util/seeded-random';
import type { NpyArray } from '../../../engine/data/npy';

export const SPECTRUM = { bins: 32, frames: 16, classes: 8, maxPower: 8e11 };

export async function writeSpectralModel(path: string, seed = 7): Promise<void> {
  const rnd = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const w = (name: string, dims: number[], scale: number, positive = false) => {
    const n = dims.reduce((a, b) => a * b, 1);
    return makeTensor(name, DataType.FLOAT, dims, Float32Array.from({ length: n }, () => (positive ? 0.2 + rnd() : normal()) * scale));
  };
  const node = (opType: string, input: string[], output: string[], name: string, attribute = [] as NodeProto['attribute']) => create(NodeProtoSchema, { opType, input, output, name, attribute });
  const conv = (i: string, o: string, name: string, wName: string) => node('Conv', [i, wName, `${wName}_b`], [o], name, [attr.ints('pads', [1, 1, 1, 1]), attr.ints('kernel_shape', [3, 3])]);
  const C = 16;
  const inits = [
    w('w0', [C, 1, 3, 3], 0.1, true), w('w0_b', [C], 0, true),
    w('one', [], 1, true), w('w1', [C, C, 3, 3], 0.08), w('w1_b', [C], 0.05), w('w2', [C, C, 3, 3], 0.08), w('w2_b', [C], 0.05),
    w('wg', [SPECTRUM.classes, C], 0.3), w('wg_b', [SPECTRUM.classes], 0.1),
  ];
  inits[1] = makeTensor('w0_b', DataType.FLOAT, [C], new Float32Array(C));
  inits[2] = makeTensor('one', DataType.FLOAT, [], Float32Array.of(1));
  const nodes = [
    conv('spectrum', 'energy', 'front/energy/Conv', 'w0'),
    node('Add', ['energy', 'one'], ['energy1'], 'front/Add'),
    node('Log', ['energy1'], ['logmel'], 'front/Log'),
    conv('logmel', 'c1', 'body/conv1/Conv', 'w1'), node('Relu', ['c1'], ['r1'], 'body/conv1/Relu'),
    conv('r1', 'c2', 'body/conv2/Conv', 'w2'), node('Relu', ['c2'], ['r2'], 'body/conv2/Relu'),
    node('GlobalAveragePool', ['r2'], ['pooled'], 'head/Pool'), node('Flatten', ['pooled'], ['flat'], 'head/Flatten'),
    node('Gemm', ['flat', 'wg', 'wg_b'], ['scores'], 'head/Gemm', [attr.i('transB', 1)]),
  ];
  const model = create(ModelProtoSchema, {
    irVersion: 8n, producerName: 'spectral-front-end test fixture', opsetImport: [{ domain: '', version: 17n }],
    graph: create(GraphProtoSchema, {
      name: 'spectral', node: nodes, initializer: inits,
      input: [valueInfo('spectrum', DataType.FLOAT, ['N', 1, SPECTRUM.bins, SPECTRUM.frames])],
      output: [valueInfo('scores', DataType.FLOAT, ['N', SPECTRUM.classes])],
    }),
  });
  await saveModel(model, path);
}

/** Power spectra: each sample a random spectral tilt and a few loud bins, from 1 up to 8e11. */
export function spectra(n: number, seed = 1): NpyArray {
  const rnd = seededRandom(seed);
  const { bins, frames } = SPECTRUM;
  const data = new Float32Array(n * bins * frames);
  const top = Math.log10(SPECTRUM.maxPower);
  for (let s = 0; s < n; s++) {
    const tilt = rnd(), loud = Math.floor(rnd() * bins);
    for (let f = 0; f < bins; f++) {
      for (let t = 0; t < frames; t++) {
        const level = f === loud && s % 4 === 0 ? top : Math.max(0, Math.min(top, 3 + 5 * tilt * (1 - f / bins) + 2 * rnd()));
        data[(s * bins + f) * frames + t] = 10 ** level;
      }
    }
  }
  return { dtype: 'float32', shape: [n, 1, bins, frames], data };
}
