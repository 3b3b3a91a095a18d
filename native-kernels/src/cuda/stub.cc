// Built instead of kernels.cu when nvcc was not found: every CUDA entry says so.
#include "api.h"

namespace qk {
namespace cuda {

static const char* kNotBuilt = "this addon was built without CUDA (nvcc was not found at install time; run `npm run build:native` after installing the CUDA toolkit)";

DeviceInfo deviceInfo() {
  DeviceInfo d;
  d.reason = kNotBuilt;
  return d;
}
void quantize(const float*, const Layout&, const float*, const int32_t*, int, int, int, uint8_t*) { throw KernelError(kNotBuilt); }
void dequantize(const uint8_t*, const Layout&, const float*, const int32_t*, bool, int, float*) { throw KernelError(kNotBuilt); }
void histogram(const float*, int64_t, double, double, int, double*, double*) { throw KernelError(kNotBuilt); }
void fakeQuantForward(const float*, const Layout&, const float*, const int32_t*, int, int, float*, uint8_t*) { throw KernelError(kNotBuilt); }
void fakeQuantBackward(const float*, const float*, const Layout&, const float*, const int32_t*, int, int, float*) { throw KernelError(kNotBuilt); }
void gemmS8(const int8_t*, const int8_t*, int64_t, int64_t, int64_t, int32_t*) { throw KernelError(kNotBuilt); }
void gptqTrailingUpdate(float*, int64_t, int64_t, const float*, int64_t, int64_t, const float*) { throw KernelError(kNotBuilt); }
Timing benchQuantize(int64_t, int) { throw KernelError(kNotBuilt); }
Timing benchCopy(int64_t, int) { throw KernelError(kNotBuilt); }
Timing benchGemm(int64_t, int64_t, int64_t, int) { throw KernelError(kNotBuilt); }

}  // namespace cuda
}  // namespace qk
