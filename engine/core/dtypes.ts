// Every fact of a quantized dtype in one row (after ggml's type_traits): its bits and signedness,
// the integer range QuantizeLinear saturates to, the ONNX TensorProto data type that stores it and
// how its values sit in that container. Scale/zero-point math, calibrators, the QDQ and MatMulNBits
// exporters, QAT and the Ranges view read these rows instead of their own switch statements.
// Adding a dtype: one row here, its name in contract/recipe.ts's WEIGHT_DTYPES/ACTIVATION_DTYPES.
import type { WeightDType, ActivationDType } from '../../contract/recipe';

export type QuantDType = WeightDType | ActivationDType;

/** ONNX TensorProto.DataType numbers used below (onnx.proto3; engine/onnx/tensor.ts names them all). */
const ONNX_UINT8 = 2;
const ONNX_INT8 = 3;
const ONNX_UINT4 = 21;
const ONNX_INT4 = 22;

export interface DTypeTraits {
  name: QuantDType;
  /** Bits a value carries (int3: 3, though it is stored in a 4-bit container). */
  bits: number;
  signed: boolean;
  /** The saturation range of QuantizeLinear for this dtype: [qmin, qmax]. */
  qmin: number;
  qmax: number;
  /** TensorProto data type of a QuantizeLinear output / quantized initializer of this dtype. */
  onnxType: number;
  /** The container the values are stored in (int3 sits in int4: values −4…3 are valid int4). */
  container: 'int8' | 'uint8' | 'int4' | 'uint4';
  /** Values per byte in an ONNX initializer: 4-bit containers pack two, low nibble first. */
  perByte: 1 | 2;
}

function row(name: QuantDType, bits: number, signed: boolean, container: DTypeTraits['container'], onnxType: number): DTypeTraits {
  const qmin = signed ? -(2 ** (bits - 1)) : 0;
  const qmax = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  return Object.freeze({ name, bits, signed, qmin, qmax, onnxType, container, perByte: container.endsWith('4') ? 2 : 1 });
}

/** The table: one row per quantized dtype a recipe can name. */
export const DTYPES: Readonly<Record<QuantDType, DTypeTraits>> = Object.freeze({
  int8: row('int8', 8, true, 'int8', ONNX_INT8),
  uint8: row('uint8', 8, false, 'uint8', ONNX_UINT8),
  int4: row('int4', 4, true, 'int4', ONNX_INT4),
  uint4: row('uint4', 4, false, 'uint4', ONNX_UINT4),
  int3: row('int3', 3, true, 'int4', ONNX_INT4),
});

/** The row of a dtype: bits, signedness, [qmin, qmax], ONNX type and container. */
export function dtypeInfo(dtype: QuantDType): DTypeTraits {
  return DTYPES[dtype];
}
