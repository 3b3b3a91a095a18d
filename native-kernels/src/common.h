// Shared types for the CPU and CUDA kernels: tensor layout for per-tensor / per-channel / per-group
// scales, and the error type every kernel throws (the binding turns it into a JS Error).
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace qk {

// A tensor viewed as [outer, axisLen, inner] around its quantization axis (ONNX QuantizeLinear's
// three modes). block = 0: per-axis, scales have shape [axisLen] (per-tensor is axisLen = 1).
// block > 0: blocked (per-group), scales have the input's shape with the axis cut to
// ceil(axisLen / block): [outer, groups, inner].
struct Layout {
  int64_t outer = 1, axisLen = 1, inner = 1, block = 0;
  int64_t count() const { return outer * axisLen * inner; }
  int64_t groups() const { return block > 0 ? (axisLen + block - 1) / block : axisLen; }
  int64_t scaleCount() const { return block > 0 ? outer * groups() * inner : axisLen; }
  int64_t scaleIndex(int64_t i) const {
    const int64_t j = i % inner, c = (i / inner) % axisLen;
    if (block <= 0) return c;
    const int64_t o = i / (inner * axisLen);
    return (o * groups() + c / block) * inner + j;
  }
  // Calls run(start, len, scaleIndex) for stretches that share one scale and
  // vec(start, len, firstScaleIndex) for stretches whose scales are consecutive, covering [a, b).
  template <class Run, class Vec>
  void walk(int64_t a, int64_t b, Run&& run, Vec&& vec) const {
    int64_t i = a;
    while (i < b) {
      int64_t len;
      if (inner > 1) {
        len = std::min(inner - i % inner, b - i);
        if (block <= 0) run(i, len, scaleIndex(i)); else vec(i, len, scaleIndex(i));
      } else {
        const int64_t c = i % axisLen;
        if (block <= 0 && axisLen > 1) { len = std::min(axisLen - c, b - i); vec(i, len, c); }
        else if (block <= 0) { len = b - i; run(i, len, 0); }  // axisLen == 1: one scale for all
        else { len = std::min(std::min(block - c % block, axisLen - c), b - i); run(i, len, scaleIndex(i)); }
      }
      i += len;
    }
  }
};

// Which implementation a call uses; Auto picks the best the CPU has.
enum class Impl : int { Auto = 0, Reference = 1, Avx2 = 2, Avx512 = 3, Vnni = 4, Amx = 5, AvxVnni = 6 };

struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace qk
