// int8 GEMM: C[M,N] (int32) = sum_k (A[m,k] - aZp) * (B[k,n] - bZp), A int8 or uint8 [M,K] row-major,
// B int8 [K,N] row-major (ONNX MatMulInteger). B is packed once (packB) into 32-column panels in the
// VNNI order [K/4][32][4] with K padded to 64, the layout both vpdpbusd and AMX tdpbusd read.
#pragma once
#include <cstdint>

#include "../common.h"

namespace qk {

constexpr int64_t kPanel = 32;
inline int64_t gemmPaddedK(int64_t K) { return (K + 63) / 64 * 64; }
inline int64_t packedBSize(int64_t K, int64_t N) { return (N + kPanel - 1) / kPanel * kPanel * gemmPaddedK(K); }

void packB(const int8_t* B, int64_t K, int64_t N, uint8_t* packed, int32_t* colSums);
// Which Impl Auto resolves to for this shape on this CPU.
Impl gemmChooseImpl(Impl impl, int64_t M);
void gemm(const uint8_t* A, bool aSigned, int32_t aZp, const uint8_t* packedB, const int32_t* colSums, int32_t bZp,
          int64_t M, int64_t K, int64_t N, int32_t* C, Impl impl, int threads);

namespace ref {
void gemm(const uint8_t* A, bool aSigned, int32_t aZp, const int8_t* B, int32_t bZp, int64_t M, int64_t K, int64_t N,
          int32_t* C);
}

}  // namespace qk
