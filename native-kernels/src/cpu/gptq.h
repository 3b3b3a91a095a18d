// GPTQ inner loops (Frantar et al. 2022): Hessian accumulation, damping, the upper Cholesky factor of
// H^-1, and the lazy blocked column updates with error feedback. A port of the TypeScript reference
// engine/quant/algorithms/gptq-core.ts that keeps its operation order (float64 scalars, float32 W,
// sequential error feedback per element), so native and reference agree bit for bit; the speed comes
// from rows in parallel and SIMD across columns, which changes no element's order of operations.
#pragma once
#include <cstdint>

namespace qk {

struct GptqArgs {
  const float* weight = nullptr;  // rows x cols (rows = output channels)
  int64_t rows = 0, cols = 0;
  const float* hessian = nullptr;  // cols x cols
  int bits = 4;
  int64_t groupSize = 0;  // 0 = one group per row
  bool symmetric = true;
  double damp = 0.01;
  int64_t blockSize = 128;
  bool actOrder = false;
  int8_t* q = nullptr;             // rows x cols, values in [0, 2^bits - 1] (int8 container, wraps for 8 bits)
  float* scales = nullptr;         // rows x nGroups
  int32_t* zeroPoints = nullptr;   // rows x nGroups
  float* dequantized = nullptr;    // rows x cols
  bool cuda = false;               // trailing updates on the GPU (float32 GEMM: close, not bit-exact)
  int threads = 0;
};

void gptq(const GptqArgs& a);
// gram[cols x cols] += X^T X for X [rows x cols] (float64 accumulation, sequential over rows).
void hessianAccumulate(double* gram, const float* X, int64_t rows, int64_t cols, int threads);
// Used by gptq(): false when H is not positive definite. h (n x n) is overwritten with U, H^-1 = U^T U.
bool upperCholeskyOfInverse(double* h, int64_t n, int threads);

}  // namespace qk
