// The quantization math in one import: scale/zero-point, reference quantize/dequantize (bit-exact
// with ONNX), parameter layouts, storage tensors, integer reference ops, metrics.
export * from './qparams';
export * from './layout';
export * from './quantize';
export * from './storage';
export * from './integer-ops';
export * from './metrics';
