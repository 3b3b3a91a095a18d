// The ONNX protobuf schema (ONNX 1.20, IR 13: has INT4/UINT4) on @bufbuild/protobuf 2.
// Every other module imports ONNX types from here, so the schema package is named in one place.
export {
  ModelProtoSchema,
  GraphProtoSchema,
  NodeProtoSchema,
  TensorProtoSchema,
  AttributeProtoSchema,
  ValueInfoProtoSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataType as DataType,
  TensorProto_DataLocation as DataLocation,
  AttributeProto_AttributeType as AttributeType,
} from 'onnx-buf';
export type {
  ModelProto,
  GraphProto,
  NodeProto,
  TensorProto,
  AttributeProto,
  ValueInfoProto,
  TypeProto,
  OperatorSetIdProto,
  StringStringEntryProto,
} from 'onnx-buf';
export { create, fromBinary, toBinary, clone, isFieldSet, clearField } from '@bufbuild/protobuf';
