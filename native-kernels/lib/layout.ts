// How a tensor is seen around its quantization axis: [outer, axisLen, inner]. block = 0 is per-axis
// (scales [axisLen]; per-tensor is axisLen = 1); block > 0 is ONNX blocked quantization (scales
// [outer, ceil(axisLen / block), inner]). Shared by the face (index.ts) and the reference twins.
export interface KernelLayout {
  outer: number;
  axisLen: number;
  inner: number;
  block: number;
}

export function layoutScaleCount(L: KernelLayout): number {
  return L.block > 0 ? L.outer * Math.ceil(L.axisLen / L.block) * L.inner : L.axisLen;
}
