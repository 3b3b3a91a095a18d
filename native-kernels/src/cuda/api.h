// The CUDA side of the addon, callable from plain C++. Every entry copies host buffers to the device,
// runs, and copies back; it throws qk::KernelError naming the CUDA error when anything fails (on a machine
// without a driver every call fails with error 35, which the TypeScript face reports and falls back from).
#pragma once
#include <cstdint>
#include <string>

#include "../common.h"

namespace qk {
namespace cuda {

struct DeviceInfo {
  bool compiled = false;   // the addon was built with nvcc
  bool available = false;  // a usable device answered
  std::string reason;      // why not, when not available
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0, driverVersion = 0, runtimeVersion = 0, deviceCount = 0;
  uint64_t totalMemory = 0, freeMemory = 0;
  std::string archs;       // what the binary carries (SASS/PTX)
};

DeviceInfo deviceInfo();

void quantize(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax, int bits,
              uint8_t* out);
void dequantize(const uint8_t* q, const Layout& L, const float* scales, const int32_t* zps, bool isSigned, int bits,
                float* out);
void histogram(const float* x, int64_t n, double lo, double hi, int bins, double* counts, double* zeroNaN);
void fakeQuantForward(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax,
                      float* y, uint8_t* mask);
void fakeQuantBackward(const float* x, const float* gy, const Layout& L, const float* scales, const int32_t* zps,
                       int qmin, int qmax, float* gx);
// s8 x s8 -> s32 on Tensor Cores (mma.sync m16n8k32), A [M,K], B [K,N] row-major.
void gemmS8(const int8_t* A, const int8_t* B, int64_t M, int64_t K, int64_t N, int32_t* C);
// GPTQ lazy-batch trailing update: W[:, c1:] -= Err[:, c0:c1] * Hinv[c0:c1, c1:] (rows x cols row-major).
void gptqTrailingUpdate(float* W, int64_t rows, int64_t cols, const float* err, int64_t c0, int64_t c1,
                        const float* hinv);

// Device-resident timings for the bench (ms per call, data already on the GPU).
struct Timing { double ms = 0; double bytesOrOps = 0; };
Timing benchQuantize(int64_t n, int iters);
Timing benchCopy(int64_t n, int iters);
Timing benchGemm(int64_t M, int64_t K, int64_t N, int iters);

}  // namespace cuda
}  // namespace qk
