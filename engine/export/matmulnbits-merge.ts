// MatMulNBits nodes that read the same activation (an attention block's q/k/v projections, a SwiGLU's
// gate/up) become one MatMulNBits over the concatenated weights followed by a Split: at short decode
// steps each MatMulNBits call pays a fixed cost (quantizing A to int8 per block at accuracy_level 4,
// packing, dispatch) that a 16-token step feels, and one wider call does the same arithmetic row for row —
// every output column is computed from the same A blocks with its own weights, scales and zero point, so
// the results are the same as the separate nodes'. A bias Add with a constant [N] vector after a merged
// node moves into MatMulNBits' bias input (ORT fuses it there for single nodes too).
import { create, NodeProtoSchema, AttributeProtoSchema, AttributeType, type GraphProto, type NodeProto, type TensorProto } from '../onnx/proto';
import { DataType, makeTensor, tensorToFloat32, tensorToTypedArray } from '../onnx/tensor';
import { blockBytes, zeroPointRowBytes } from './matmulnbits-layout';

const attr = (n: NodeProto, name: string) => { const a = n.attribute.find((x) => x.name === name); return a ? Number(a.i) : undefined; };

/**
 * Merge MatMulNBits nodes of `g` that share input A and K / bits / block_size / accuracy_level, have
 * bits (4 or 8), constant B, scales (float) and zero points (uint8, or none on all of them), and no g_idx or bias.
 * `opset` is the model's default-domain opset (Split takes its sizes as an input from 13). Returns how
 * many groups were merged.
 */
export function mergeSharedInputMatMulNBits(g: GraphProto, opset: number, baseDir?: string): number {
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) for (const i of n.input) { if (!consumers.has(i)) consumers.set(i, []); consumers.get(i)!.push(n); }
  for (const n of g.node) for (const a of n.attribute) if (a.g) for (const sn of a.g.node) for (const i of sn.input) { if (!consumers.has(i)) consumers.set(i, []); consumers.get(i)!.push(sn); }
  const graphOutputs = new Set(g.output.map((o) => o.name));
  const names = new Set<string>([...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => [...n.input, ...n.output]), ...g.node.map((n) => n.name)]);
  const uniq = (base: string) => { let s = base; for (let i = 1; names.has(s); i++) s = `${base}_${i}`; names.add(s); return s; };

  const eligible = (n: NodeProto) => n.opType === 'MatMulNBits' && n.domain === 'com.microsoft' && n.input.length >= 3 && n.input.length <= 4
    && n.output.length === 1 && inits.get(n.input[1]!)?.dataType === DataType.UINT8 && inits.get(n.input[2]!)?.dataType === DataType.FLOAT
    && (n.input.length < 4 || !n.input[3] || inits.get(n.input[3])?.dataType === DataType.UINT8)
    && (attr(n, 'bits') === 4 || attr(n, 'bits') === 8) && attr(n, 'K') !== undefined && attr(n, 'N') !== undefined && attr(n, 'block_size') !== undefined;
  const groups = new Map<string, NodeProto[]>();
  for (const n of g.node) {
    if (!eligible(n)) continue;
    const key = JSON.stringify([n.input[0], attr(n, 'K'), attr(n, 'bits'), attr(n, 'block_size'), attr(n, 'accuracy_level') ?? 0, Boolean(n.input[3])]);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(n);
  }
  const replace = new Map<NodeProto, NodeProto[]>();
  const drop = new Set<NodeProto>();
  const newInits: TensorProto[] = [];
  let merged = 0;
  for (const nodes of groups.values()) {
    if (nodes.length < 2) continue;
    const K = attr(nodes[0]!, 'K')!, bs = attr(nodes[0]!, 'block_size')!, bits = attr(nodes[0]!, 'bits')!;
    const nBlocks = Math.ceil(K / bs);
    const Ns = nodes.map((n) => attr(n, 'N')!);
    const total = Ns.reduce((a, b) => a + b, 0);
    const cat = <T extends Uint8Array | Float32Array>(parts: T[], make: (n: number) => T) => { const out = make(parts.reduce((a, p) => a + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };
    const Bs = nodes.map((n) => tensorToTypedArray(inits.get(n.input[1]!)!, baseDir) as Uint8Array);
    const Ss = nodes.map((n) => tensorToFloat32(inits.get(n.input[2]!)!, baseDir));
    if (Bs.some((b, i) => b.length !== Ns[i]! * nBlocks * blockBytes(bs, bits)) || Ss.some((s, i) => s.length !== Ns[i]! * nBlocks)) continue;
    const Zs = nodes[0]!.input[3] ? nodes.map((n) => tensorToTypedArray(inits.get(n.input[3]!)!, baseDir) as Uint8Array) : undefined;
    if (Zs && Zs.some((z, i) => z.length !== Ns[i]! * zeroPointRowBytes(nBlocks, bits))) continue;
    // A bias Add (constant float [N], sole reader of the node's output) moves into the merged node.
    const biasAdd = nodes.map((n, i) => {
      const cs = consumers.get(n.output[0]!) ?? [];
      if (cs.length !== 1 || graphOutputs.has(n.output[0]!)) return undefined;
      const add = cs[0]!;
      if (add.opType !== 'Add' || add.domain || add.input.length !== 2) return undefined;
      const other = add.input[0] === n.output[0] ? add.input[1]! : add.input[0]!;
      const t = inits.get(other);
      if (!t || t.dataType !== DataType.FLOAT || t.dims.length !== 1 || Number(t.dims[0]) !== Ns[i]) return undefined;
      return { add, values: tensorToFloat32(t, baseDir) };
    });
    const useBias = biasAdd.some(Boolean);
    const base = uniq(`${nodes[0]!.name || nodes[0]!.output[0]}_merged`);
    const bName = uniq(`${base}_Q4`), sName = uniq(`${base}_scales`), zName = Zs ? uniq(`${base}_zp`) : '', biasName = useBias ? uniq(`${base}_bias`) : '';
    newInits.push(makeTensor(bName, DataType.UINT8, [total, nBlocks, blockBytes(bs, bits)], cat(Bs, (n) => new Uint8Array(n))));
    newInits.push(makeTensor(sName, DataType.FLOAT, [total * nBlocks], cat(Ss, (n) => new Float32Array(n))));
    if (Zs) newInits.push(makeTensor(zName, DataType.UINT8, [total * zeroPointRowBytes(nBlocks, bits)], cat(Zs, (n) => new Uint8Array(n))));
    if (useBias) newInits.push(makeTensor(biasName, DataType.FLOAT, [total], cat(biasAdd.map((b, i) => b ? b.values : new Float32Array(Ns[i]!)), (n) => new Float32Array(n))));
    const mmOut = uniq(`${base}_out`);
    const mm = create(NodeProtoSchema, {
      name: base, opType: 'MatMulNBits', domain: 'com.microsoft',
      input: useBias ? [nodes[0]!.input[0]!, bName, sName, zName, '', biasName] : Zs ? [nodes[0]!.input[0]!, bName, sName, zName] : [nodes[0]!.input[0]!, bName, sName],
      output: [mmOut],
      attribute: nodes[0]!.attribute.map((a) => a.name === 'N' ? create(AttributeProtoSchema, { name: 'N', type: AttributeType.INT, i: BigInt(total) }) : a),
    });
    const outs = nodes.map((n, i) => biasAdd[i] ? biasAdd[i]!.add.output[0]! : n.output[0]!);
    const split = create(NodeProtoSchema, { name: uniq(`${base}_Split`), opType: 'Split', input: [mmOut], output: outs, attribute: [create(AttributeProtoSchema, { name: 'axis', type: AttributeType.INT, i: -1n })] });
    if (opset >= 13) {
      const sz = uniq(`${base}_split_sizes`);
      newInits.push(makeTensor(sz, DataType.INT64, [Ns.length], BigInt64Array.from(Ns.map(BigInt))));
      split.input.push(sz);
    } else split.attribute.push(create(AttributeProtoSchema, { name: 'split', type: AttributeType.INTS, ints: Ns.map(BigInt) }));
    replace.set(nodes[0]!, [mm, split]);
    for (const n of nodes.slice(1)) drop.add(n);
    for (const b of biasAdd) if (b) drop.add(b.add);
    merged++;
  }
  if (!merged) return 0;
  g.node = g.node.flatMap((n) => replace.get(n) ?? (drop.has(n) ? [] : [n]));
  g.initializer.push(...newInits);
  return merged;
}
