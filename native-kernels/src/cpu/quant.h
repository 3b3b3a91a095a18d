// Quantize / dequantize / calibration statistics / fake-quant on the CPU. Every entry takes an Impl:
// Reference is the plain scalar twin (quant-ref.cc), the others are SIMD variants chosen at run time.
#pragma once
#include <cstdint>

#include "../common.h"

namespace qk {

// ONNX QuantizeLinear: q = saturate(round_half_even(x / scale) + zp) into [qmin, qmax]. bits = 8 writes
// one byte per element (int8 two's complement or uint8); bits = 4 packs two per byte, first element in
// the low nibble, a zero high nibble after an odd count. NaN maps to qmin.
void quantize(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax,
              int bits, uint8_t* out, Impl impl, int threads);
// ONNX DequantizeLinear: y = (q - zp) * scale.
void dequantize(const uint8_t* q, const Layout& L, const float* scales, const int32_t* zps, bool isSigned, int bits,
                float* out, Impl impl, int threads);
// Min and max per scale slot (scaleCount of L), NaN ignored; a slot with no numbers gives (+inf, -inf).
void minmax(const float* x, const Layout& L, float* mins, float* maxs, Impl impl, int threads);
// Adds to counts[bins] the values in [lo, hi]: bin = floor((x - lo) * (bins / (hi - lo))) in double,
// x == hi in the last bin; NaN and values outside are skipped. zeroNaN (null, or 2 entries) gets added
// the number of values equal to 0 (either sign) and of NaN among all n, in or out of range: the
// calibration collector needs both and would otherwise read the batch a third time for them.
void histogram(const float* x, int64_t n, double lo, double hi, int bins, double* counts, double* zeroNaN, Impl impl,
               int threads);
// Fake quant (QAT): y = (clamp(round(x / s) + zp) - zp) * s. mask (optional) = 1 where round(x/s)+zp is
// inside [qmin, qmax]. Backward (straight-through estimator): gx = gy where inside, 0 outside.
void fakeQuantForward(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax,
                      float* y, uint8_t* mask, Impl impl, int threads);
void fakeQuantBackward(const float* x, const float* gy, const Layout& L, const float* scales, const int32_t* zps,
                       int qmin, int qmax, float* gx, Impl impl, int threads);
// The bench baseline: memcpy of the same bytes on the same threads.
void copyBytes(void* dst, const void* src, int64_t n, int threads);

namespace ref {
void quantize(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax, int bits,
              uint8_t* out);
void dequantize(const uint8_t* q, const Layout& L, const float* scales, const int32_t* zps, bool isSigned, int bits,
                float* out);
void minmax(const float* x, const Layout& L, float* mins, float* maxs);
void histogram(const float* x, int64_t n, double lo, double hi, int bins, double* counts, double* zeroNaN);
void fakeQuantForward(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax,
                      float* y, uint8_t* mask);
void fakeQuantBackward(const float* x, const float* gy, const Layout& L, const float* scales, const int32_t* zps,
                       int qmin, int qmax, float* gx);
}  // namespace ref

}  // namespace qk
