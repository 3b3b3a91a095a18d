// From unpacked integers to what an ONNX file stores: the element type, a typed array, and the
// scale / zero-point tensors in the layout QuantizeLinear/DequantizeLinear expect.
import { DataType, makeTensor, type TypedArray } from '../../onnx/tensor';
import { dtypeInfo } from '../../core/dtypes';
import type { TensorProto } from '../../onnx/proto';
import { paramLayout } from './layout';
import type { QDType, QuantParams } from './qparams';

/** ONNX element type holding a dtype (int3 lives in an INT4 container, its values in [-4, 3]). */
export function onnxDataTypeOf(dtype: QDType): number {
  return dtypeInfo(dtype).onnxType;
}

/** Typed array for makeTensor (4-bit types are packed by makeTensor). */
export function toStorageArray(q: ArrayLike<number>, dtype: QDType): Int8Array | Uint8Array {
  return dtypeInfo(dtype).signed ? Int8Array.from(q) : Uint8Array.from(q);
}

/** Scale (float32) and zero-point (quantized dtype) tensors for a tensor of shape `dataDims`. */
export function paramTensors(baseName: string, params: QuantParams, dataDims: readonly number[]): { scale: TensorProto; zeroPoint: TensorProto } {
  const { paramDims } = paramLayout(dataDims, params.axis, params.blockSize, baseName);
  return {
    scale: makeTensor(`${baseName}_scale`, DataType.FLOAT, paramDims, params.scale as TypedArray),
    zeroPoint: makeTensor(`${baseName}_zero_point`, onnxDataTypeOf(params.dtype), paramDims, toStorageArray(params.zeroPoint, params.dtype)),
  };
}
