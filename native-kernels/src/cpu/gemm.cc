// int8 GEMM kernels: AVX-512 VNNI (vpdpbusd, 8x32 register tile) and AMX-INT8 (tdpbusd, 32x32 from
// four 16x16 tiles), both over the same packed B. s8 x s8 runs as (A + 128) x B on the u8 x s8
// instructions and subtracts 128 * colSum(B) afterwards, so every path is exact integer math.
#include "gemm.h"

#include <immintrin.h>

#include <cstring>
#include <vector>

#include "features.h"
#include "simd.h"
#include "thread-pool.h"

namespace qk {

namespace ref {
void gemm(const uint8_t* A, bool aSigned, int32_t aZp, const int8_t* B, int32_t bZp, int64_t M, int64_t K, int64_t N,
          int32_t* C) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      int32_t acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const int32_t a = aSigned ? int32_t(int8_t(A[m * K + k])) : int32_t(A[m * K + k]);
        acc += (a - aZp) * (int32_t(B[k * N + n]) - bZp);
      }
      C[m * N + n] = acc;
    }
}
}  // namespace ref

void packB(const int8_t* B, int64_t K, int64_t N, uint8_t* packed, int32_t* colSums) {
  const int64_t Kp = gemmPaddedK(K), panels = (N + kPanel - 1) / kPanel;
  std::memset(packed, 0, size_t(packedBSize(K, N)));
  for (int64_t n = 0; n < N; ++n) colSums[n] = 0;
  for (int64_t p = 0; p < panels; ++p) {
    uint8_t* dst = packed + p * Kp * kPanel;
    for (int64_t k = 0; k < K; ++k) {
      const int8_t* row = B + k * N + p * kPanel;
      const int64_t w = std::min(kPanel, N - p * kPanel);
      for (int64_t j = 0; j < w; ++j) {
        dst[(k / 4) * kPanel * 4 + j * 4 + (k & 3)] = uint8_t(row[j]);
        colSums[p * kPanel + j] += row[j];
      }
    }
  }
}

namespace {

// A -> u8 rows of Kp bytes (s8 flipped by +128), zero-padded to Mp rows; also the row sums of A.
void packA(const uint8_t* A, bool aSigned, int64_t M, int64_t K, int64_t Mp, int64_t Kp, uint8_t* dst, int32_t* rowSums,
           int threads) {
  parallelFor((Mp + 31) / 32, threads, [&](int64_t t) {
    for (int64_t m = t * 32; m < std::min(Mp, t * 32 + 32); ++m) {
      uint8_t* d = dst + m * Kp;
      if (m >= M) { std::memset(d, aSigned ? 0 : 0, size_t(Kp)); continue; }
      const uint8_t* s = A + m * K;
      int32_t sum = 0;
      if (aSigned) for (int64_t k = 0; k < K; ++k) { d[k] = s[k] ^ 0x80; sum += int8_t(s[k]); }
      else for (int64_t k = 0; k < K; ++k) { d[k] = s[k]; sum += s[k]; }
      // Padding columns meet zero rows of packed B, so their value does not matter; keep them zero.
      std::memset(d + K, 0, size_t(Kp - K));
      rowSums[m] = sum;
    }
  });
}

// C = raw - (off + aZp) * colSum - bZp * rowSum + K * aZp * bZp, where raw = sum (A + off) * B.
inline int32_t finish(int32_t raw, int32_t colSum, int32_t rowSum, int32_t corrA, int32_t bZp, int32_t kab) {
  return raw - corrA * colSum - bZp * rowSum + kab;
}

template <int MR>
QK_VNNI512 void vnniTile(const uint8_t* a, int64_t Kp, const uint8_t* b, int32_t* out /* MR x 32 */) {
  __m512i acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  for (int64_t k = 0; k < Kp; k += 4) {
    const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
    b += 128;
    for (int r = 0; r < MR; ++r) {
      int32_t av;
      std::memcpy(&av, a + r * Kp + k, 4);
      const __m512i va = _mm512_set1_epi32(av);
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], va, b0);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], va, b1);
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm512_storeu_si512(out + r * 32, acc[r][0]);
    _mm512_storeu_si512(out + r * 32 + 16, acc[r][1]);
  }
}

// One row against one panel with four independent accumulator pairs (a single row has no other
// parallelism to hide vpdpbusd's latency).
QK_VNNI512 void vnniRow(const uint8_t* a, int64_t Kp, const uint8_t* b, int32_t* out) {
  __m512i s[8];
  for (auto& v : s) v = _mm512_setzero_si512();
  for (int64_t k = 0; k < Kp; k += 16) {
    for (int u = 0; u < 4; ++u) {
      int32_t av;
      std::memcpy(&av, a + k + 4 * u, 4);
      const __m512i va = _mm512_set1_epi32(av);
      s[2 * u] = _mm512_dpbusd_epi32(s[2 * u], va, _mm512_loadu_si512(b + u * 128));
      s[2 * u + 1] = _mm512_dpbusd_epi32(s[2 * u + 1], va, _mm512_loadu_si512(b + u * 128 + 64));
    }
    b += 512;
  }
  _mm512_storeu_si512(out, _mm512_add_epi32(_mm512_add_epi32(s[0], s[2]), _mm512_add_epi32(s[4], s[6])));
  _mm512_storeu_si512(out + 16, _mm512_add_epi32(_mm512_add_epi32(s[1], s[3]), _mm512_add_epi32(s[5], s[7])));
}

QK_VNNI512 void vnniBlock(const uint8_t* a, int64_t rows, int64_t Kp, const uint8_t* b, int32_t* out) {
  switch (rows) {
    case 1: return vnniRow(a, Kp, b, out);
    case 2: return vnniTile<2>(a, Kp, b, out);
    case 3: return vnniTile<3>(a, Kp, b, out);
    case 4: return vnniTile<4>(a, Kp, b, out);
    case 5: return vnniTile<5>(a, Kp, b, out);
    case 6: return vnniTile<6>(a, Kp, b, out);
    case 7: return vnniTile<7>(a, Kp, b, out);
    default: return vnniTile<8>(a, Kp, b, out);
  }
}

struct TileConfig {
  uint8_t palette = 1, startRow = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// 32 rows x 32 columns: tiles 0-3 accumulate C, 4-5 hold A (16 x 64 bytes), 6-7 hold B (16 k-quads x 16 columns).
QK_AMX void amxBlock(const uint8_t* a, int64_t Kp, const uint8_t* b, int32_t* out /* 32 x 32 */) {
  _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
  for (int64_t k = 0; k < Kp; k += 64) {
    _tile_loadd(4, a + k, Kp);
    _tile_loadd(5, a + 16 * Kp + k, Kp);
    _tile_loadd(6, b + (k / 4) * 128, 128);
    _tile_loadd(7, b + (k / 4) * 128 + 64, 128);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  _tile_stored(0, out, 128);
  _tile_stored(1, out + 16, 128);
  _tile_stored(2, out + 16 * 32, 128);
  _tile_stored(3, out + 16 * 32 + 16, 128);
}

QK_AMX void amxConfigure() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) { cfg.rows[t] = 16; cfg.colsb[t] = 64; }
  // Inline asm with the whole struct as an input: GCC 12 drops the stores before _tile_loadconfig
  // (the builtin does not tell it the 64 bytes are read), which leaves the tiles unconfigured (SIGILL).
  asm volatile("ldtilecfg %0" : : "m"(cfg) : "memory");
}
QK_AMX void amxRelease() { _tile_release(); }

}  // namespace

Impl gemmChooseImpl(Impl impl, int64_t M) {
  const auto& f = cpuFeatures();
  if (impl == Impl::Auto) {
    if (f.amx() && M >= 16) return Impl::Amx;
    if (f.vnni512()) return Impl::Vnni;
    return Impl::Reference;
  }
  if (impl == Impl::Amx && !f.amx())
    throw KernelError("AMX-INT8 is not usable on this CPU" + (f.amxNote.empty() ? std::string() : ": " + f.amxNote));
  if (impl == Impl::Vnni && !f.vnni512()) throw KernelError("this CPU has no AVX-512 VNNI; use impl 'auto' or 'reference'");
  if (impl == Impl::Avx2 || impl == Impl::Avx512) return f.vnni512() ? Impl::Vnni : Impl::Reference;
  return impl;
}

void gemm(const uint8_t* A, bool aSigned, int32_t aZp, const uint8_t* packedB, const int32_t* colSums, int32_t bZp,
          int64_t M, int64_t K, int64_t N, int32_t* C, Impl impl, int threads) {
  impl = gemmChooseImpl(impl, M);
  const int64_t Kp = gemmPaddedK(K), panels = (N + kPanel - 1) / kPanel;
  const bool amx = impl == Impl::Amx;
  const int64_t mb = amx ? 32 : 8, Mp = (M + 31) / 32 * 32, mBlocks = (M + mb - 1) / mb;
  std::vector<uint8_t> Ap(size_t(Mp * Kp));
  std::vector<int32_t> rowSums(size_t(Mp), 0);
  packA(A, aSigned, M, K, Mp, Kp, Ap.data(), rowSums.data(), threads);
  const int32_t corrA = (aSigned ? 128 : 0) + aZp, kab = int32_t(K) * aZp * bZp;
  if (impl == Impl::Reference) {
    // Reference on the packed operands (same finish), so Auto never depends on SIMD being present.
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        const uint8_t* bp = packedB + (n / kPanel) * Kp * kPanel;
        int32_t raw = 0;
        for (int64_t k = 0; k < K; ++k) raw += int32_t(Ap[m * Kp + k]) * int32_t(int8_t(bp[(k / 4) * kPanel * 4 + (n % kPanel) * 4 + (k & 3)]));
        C[m * N + n] = finish(raw, colSums[n], rowSums[m], corrA, bZp, kab);
      }
    return;
  }
  // Tasks: groups of panels x blocks of rows. Panels outermost keeps one B panel hot across row blocks.
  const int64_t panelsPerTask = std::max<int64_t>(1, std::min<int64_t>(4, panels / std::max(1, 4 * poolSize())));
  const int64_t panelTasks = (panels + panelsPerTask - 1) / panelsPerTask;
  const int64_t rowGroup = M <= 64 ? mBlocks : std::max<int64_t>(1, (128 + mb - 1) / mb);
  const int64_t rowTasks = (mBlocks + rowGroup - 1) / rowGroup;
  parallelFor(panelTasks * rowTasks, threads, [&](int64_t t) {
    const int64_t pt = t % panelTasks, rt = t / panelTasks;
    alignas(64) int32_t tile[32 * 32];
    if (amx) amxConfigure();
    for (int64_t p = pt * panelsPerTask; p < std::min(panels, (pt + 1) * panelsPerTask); ++p) {
      const uint8_t* bp = packedB + p * Kp * kPanel;
      const int64_t n0 = p * kPanel, w = std::min(kPanel, N - n0);
      for (int64_t blk = rt * rowGroup; blk < std::min(mBlocks, (rt + 1) * rowGroup); ++blk) {
        const int64_t m0 = blk * mb, rows = std::min(mb, M - m0);
        if (amx) amxBlock(Ap.data() + m0 * Kp, Kp, bp, tile);
        else vnniBlock(Ap.data() + m0 * Kp, rows, Kp, bp, tile);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < w; ++j)
            C[(m0 + r) * N + n0 + j] = finish(tile[r * 32 + j], colSums[n0 + j], rowSums[m0 + r], corrA, bZp, kab);
      }
    }
    if (amx) amxRelease();
  });
}

}  // namespace qk
