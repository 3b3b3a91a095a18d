// Small helpers to emit ONNX nodes, attributes and constant tensors while building the training
// graph. Kept local to QAT: the backward builder emits hundreds of nodes and wants one terse API.
import {
  create, NodeProtoSchema, AttributeProtoSchema, AttributeType, ValueInfoProtoSchema, TypeProtoSchema,
  TypeProto_TensorSchema, TensorShapeProtoSchema, TensorShapeProto_DimensionSchema, DataType,
  type NodeProto, type AttributeProto, type TensorProto, type ValueInfoProto,
} from '../onnx/proto';
import { makeTensor } from '../onnx/tensor';

export const attr = {
  i: (name: string, v: number): AttributeProto => create(AttributeProtoSchema, { name, type: AttributeType.INT, i: BigInt(v) }),
  f: (name: string, v: number): AttributeProto => create(AttributeProtoSchema, { name, type: AttributeType.FLOAT, f: v }),
  ints: (name: string, v: readonly number[]): AttributeProto => create(AttributeProtoSchema, { name, type: AttributeType.INTS, ints: v.map((x) => BigInt(x)) }),
  s: (name: string, v: string): AttributeProto => create(AttributeProtoSchema, { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) as Uint8Array<ArrayBuffer> }),
  t: (name: string, v: TensorProto): AttributeProto => create(AttributeProtoSchema, { name, type: AttributeType.TENSOR, t: v }),
};

export { attr as getAttr, attrInt, attrFloat, attrInts, attrString } from '../onnx/attributes';

export function valueInfo(name: string, elemType: number, dims?: readonly (number | string)[]): ValueInfoProto {
  const shape = dims
    ? create(TensorShapeProtoSchema, {
      dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, typeof d === 'number' ? { value: { case: 'dimValue', value: BigInt(d) } } : { value: { case: 'dimParam', value: d } })),
    })
    : undefined;
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType, shape }) } }),
  });
}

/** Appends nodes and constant initializers under a unique name prefix. */
export class GraphEmitter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private counter = 0;
  private readonly constCache = new Map<string, string>();
  constructor(private readonly prefix: string) {}

  fresh(hint: string): string {
    return `${this.prefix}/${hint.replace(/[^\w./:-]/g, '_')}_${this.counter++}`;
  }

  node(opType: string, inputs: string[], attributes: AttributeProto[] = [], outputs: number | string[] = 1, hint = opType): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, k) => this.fresh(`${hint}${k ? `_o${k}` : ''}`)) : outputs;
    this.nodes.push(create(NodeProtoSchema, { opType, name: this.fresh(`node_${hint}`), input: inputs, output: outs, attribute: attributes }));
    return outs;
  }

  op(opType: string, inputs: string[], attributes: AttributeProto[] = [], hint = opType): string {
    return this.node(opType, inputs, attributes, 1, hint)[0]!;
  }

  /** A float constant (scalar when dims is []), shared between uses. */
  f32(values: number | readonly number[], dims: readonly number[] = []): string {
    const arr = typeof values === 'number' ? [values] : values;
    const key = `f:${dims.join(',')}:${arr.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('const_f');
    this.initializers.push(makeTensor(name, DataType.FLOAT, dims, Float32Array.from(arr)));
    this.constCache.set(key, name);
    return name;
  }

  /** An int64 1-D constant (shapes, axes, split sizes). */
  i64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i:${dims.join(',')}:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('const_i');
    this.initializers.push(makeTensor(name, DataType.INT64, dims, BigInt64Array.from(values.map((v) => BigInt(v)))));
    this.constCache.set(key, name);
    return name;
  }

  tensor(t: TensorProto): string {
    this.initializers.push(t);
    return t.name;
  }
}
