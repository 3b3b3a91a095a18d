// Fold BatchNormalization into the Conv before it (W' = W·γ/σ, b' = (b − μ)·γ/σ + β) so the
// quantized Conv carries the real per-channel weight range and ORT sees one QLinearConv, not Conv + BN.
import { DataType, type ModelProto } from '../onnx/proto';
import { makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor';
import { GraphIndex, pruneUnused } from '../onnx/graph';
import { attr } from '../onnx/attributes';

export function foldConvBatchNorm(model: ModelProto, baseDir?: string): string[] {
  const g = model.graph!;
  const idx = new GraphIndex(g);
  const folded: string[] = [];
  const drop = new Set<object>();
  for (const bn of g.node) {
    if (bn.opType !== 'BatchNormalization' || bn.output.length !== 1 && bn.output.slice(1).some((o) => o)) continue;
    const conv = idx.producer.get(bn.input[0]!);
    if (!conv || conv.opType !== 'Conv' || idx.consumersOf(conv.output[0]!).length !== 1 || idx.graphOutputs.has(conv.output[0]!)) continue;
    const wT = idx.constant(conv.input[1]!);
    const [scaleT, biasT, meanT, varT] = bn.input.slice(1, 5).map((n) => idx.constant(n));
    if (!wT || !scaleT || !biasT || !meanT || !varT || wT.dataType !== DataType.FLOAT) continue;
    const bT = conv.input[2] ? idx.constant(conv.input[2]) : undefined;
    if (conv.input[2] && !bT) continue;
    const eps = attr(bn, 'epsilon')?.f ?? 1e-5;
    const dims = tensorDims(wT);
    const w = tensorToFloat32(wT, baseDir);
    const [gamma, beta, mean, variance] = [scaleT, biasT, meanT, varT].map((t) => tensorToFloat32(t, baseDir)) as Float32Array[];
    const b = bT ? tensorToFloat32(bT, baseDir) : new Float32Array(dims[0]!);
    const per = w.length / dims[0]!;
    const w2 = new Float32Array(w.length), b2 = new Float32Array(dims[0]!);
    for (let o = 0; o < dims[0]!; o++) {
      const k = gamma![o]! / Math.sqrt(variance![o]! + eps);
      for (let i = 0; i < per; i++) w2[o * per + i] = w[o * per + i]! * k;
      b2[o] = (b[o]! - mean![o]!) * k + beta![o]!;
    }
    const wn = idx.unique(`${conv.input[1]}_bnfolded`), bn2 = idx.unique(`${conv.name}_bias_bnfolded`);
    g.initializer.push(makeTensor(wn, DataType.FLOAT, dims, w2), makeTensor(bn2, DataType.FLOAT, [dims[0]!], b2));
    conv.input[1] = wn;
    conv.input[2] = bn2;
    conv.output[0] = bn.output[0]!;
    drop.add(bn);
    folded.push(bn.name);
  }
  if (folded.length) {
    g.node = g.node.filter((n) => !drop.has(n));
    pruneUnused(model.graph!);
  }
  return folded;
}
