// The plain scalar twins of quant.cc: one element at a time, written to read like the ONNX spec.
#include <cmath>

#include "quant.h"

namespace qk {
namespace ref {

static inline int32_t quantOne(float x, float s, int32_t zp, int qmin, int qmax) {
  float t = x / s;
  const float lo = float(qmin - zp), hi = float(qmax - zp);
  if (!(t >= lo)) t = lo;  // saturate low (NaN lands here)
  if (t > hi) t = hi;      // saturate high; clamping to integer bounds before rounding == rounding then saturating
  return int32_t(std::nearbyint(t)) + zp;  // default rounding mode: half to even
}

void quantize(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax, int bits,
              uint8_t* out) {
  const int64_t n = L.count();
  if (bits == 8) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = L.scaleIndex(i);
      out[i] = uint8_t(quantOne(x[i], scales[k], zps[k], qmin, qmax));
    }
    return;
  }
  for (int64_t i = 0; i < (n + 1) / 2; ++i) out[i] = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = L.scaleIndex(i);
    const uint8_t nib = uint8_t(quantOne(x[i], scales[k], zps[k], qmin, qmax)) & 0xF;
    out[i / 2] |= (i & 1) ? uint8_t(nib << 4) : nib;
  }
}

void dequantize(const uint8_t* q, const Layout& L, const float* scales, const int32_t* zps, bool isSigned, int bits,
                float* out) {
  const int64_t n = L.count();
  for (int64_t i = 0; i < n; ++i) {
    int32_t v;
    if (bits == 8) v = isSigned ? int32_t(int8_t(q[i])) : int32_t(q[i]);
    else {
      const int32_t nib = (i & 1) ? (q[i / 2] >> 4) : (q[i / 2] & 0xF);
      v = isSigned ? ((nib ^ 8) - 8) : nib;
    }
    const int64_t k = L.scaleIndex(i);
    out[i] = float(v - zps[k]) * scales[k];
  }
}

void minmax(const float* x, const Layout& L, float* mins, float* maxs) {
  const int64_t slots = L.scaleCount();
  for (int64_t k = 0; k < slots; ++k) mins[k] = INFINITY, maxs[k] = -INFINITY;
  for (int64_t i = 0; i < L.count(); ++i) {
    const int64_t k = L.scaleIndex(i);
    if (x[i] < mins[k]) mins[k] = x[i];
    if (x[i] > maxs[k]) maxs[k] = x[i];
  }
}

void histogram(const float* x, int64_t n, double lo, double hi, int bins, double* counts, double* zeroNaN) {
  const double scale = double(bins) / (hi - lo);
  int64_t zeros = 0, nans = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    if (v == 0) ++zeros;
    else if (v != v) ++nans;
    if (!(v >= lo && v <= hi)) continue;
    int64_t b = int64_t(std::floor((v - lo) * scale));
    if (b >= bins) b = bins - 1;
    counts[b] += 1;
  }
  if (zeroNaN) zeroNaN[0] += double(zeros), zeroNaN[1] += double(nans);
}

void fakeQuantForward(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax,
                      float* y, uint8_t* mask) {
  for (int64_t i = 0; i < L.count(); ++i) {
    const int64_t k = L.scaleIndex(i);
    const float r = std::nearbyint(x[i] / scales[k]);
    const int32_t q = quantOne(x[i], scales[k], zps[k], qmin, qmax);
    y[i] = float(q - zps[k]) * scales[k];
    if (mask) mask[i] = (r >= float(qmin - zps[k]) && r <= float(qmax - zps[k])) ? 1 : 0;
  }
}

void fakeQuantBackward(const float* x, const float* gy, const Layout& L, const float* scales, const int32_t* zps,
                       int qmin, int qmax, float* gx) {
  for (int64_t i = 0; i < L.count(); ++i) {
    const int64_t k = L.scaleIndex(i);
    const float r = std::nearbyint(x[i] / scales[k]);
    const bool inside = r >= float(qmin - zps[k]) && r <= float(qmax - zps[k]);
    gx[i] = inside ? gy[i] : 0.0f;
  }
}

}  // namespace ref
}  // namespace qk
