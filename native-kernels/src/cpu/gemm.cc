// int8 GEMM kernels: AVX-512 VNNI (vpdpbusd, 8x32 register tile) and AMX-INT8 (tdpbusd, 32x32 from
// four 16x16 tiles), both over the same packed B. s8 x s8 runs as (A + 128) x B on the u8 x s8
// instructions and subtracts 128 * colSum(B) afterwards, so every path is exact integer math.
#include "gemm.h"

#include <immintrin.h>

#include <cstring>
#include <memory>
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

// Byte offset of B[k][n0 + j] inside its 32-column panel: per 64 k, two 16-column halves of 1 KB, each
// [16 k-quads][16 columns][4 k] — exactly one AMX B tile, and the vpdpbusd operand order.
inline int64_t bIndex(int64_t k, int64_t j) { return (k / 64) * 2048 + (j / 16) * 1024 + ((k / 4) % 16) * 64 + (j % 16) * 4 + (k & 3); }

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
        dst[bIndex(k, j)] = uint8_t(row[j]);
        colSums[p * kPanel + j] += row[j];
      }
    }
  }
}

namespace {

// A -> u8 (s8 flipped by +128), K zero-padded to Kp, M zero-padded to Mp. Row-major rows of Kp bytes for
// the VNNI kernel; for AMX, tile order [Mp/16][Kp/64][16 rows][64 bytes] so every tile load is one
// contiguous kilobyte. Row sums of the original A only when bZp != 0 needs them.
// d[0..64) = s[0..w) ^ flip, zero after w
QK_AVX512 void copyFlip64Avx512(const uint8_t* s, int64_t w, uint8_t flip, uint8_t* d) {
  const __mmask64 m = w >= 64 ? ~__mmask64(0) : (__mmask64(1) << w) - 1;
  const __m512i v = _mm512_maskz_loadu_epi8(m, s);
  _mm512_storeu_si512(d, _mm512_maskz_mov_epi8(m, _mm512_xor_si512(v, _mm512_set1_epi8(char(flip)))));
}
inline void copyFlip64(const uint8_t* s, int64_t w, uint8_t flip, uint8_t* d) {
  static const bool avx512 = cpuFeatures().avx512();
  if (avx512) return copyFlip64Avx512(s, w, flip, d);
  for (int64_t k = 0; k < w; ++k) d[k] = s[k] ^ flip;
  if (w < 64) std::memset(d + w, 0, size_t(64 - w));
}

// VNNI: [M/8 blocks][Kp/4][8 rows][4 bytes], so the 8x32 kernel reads 32 contiguous bytes per k-quad.
void packAQuads(const uint8_t* A, bool aSigned, int64_t M, int64_t K, int64_t Kp, uint8_t* dst, int threads) {
  const uint32_t flip = aSigned ? 0x80808080u : 0;
  const int64_t K4 = Kp / 4;
  parallelFor((M + 31) / 32, threads, [&](int64_t t) {
    for (int64_t m = t * 32; m < std::min(M, t * 32 + 32); ++m) {
      const uint8_t* s = A + m * K;
      uint8_t* d = dst + (m / 8) * K4 * 32 + (m % 8) * 4;
      int64_t k4 = 0;
      for (; (k4 + 1) * 4 <= K; ++k4) {
        uint32_t v;
        std::memcpy(&v, s + k4 * 4, 4);
        v ^= flip;
        std::memcpy(d + k4 * 32, &v, 4);
      }
      for (; k4 < K4; ++k4) {
        uint8_t q[4] = {0, 0, 0, 0};
        for (int64_t k = k4 * 4; k < std::min(K, k4 * 4 + 4); ++k) q[k - k4 * 4] = s[k] ^ uint8_t(flip);
        std::memcpy(d + k4 * 32, q, 4);
      }
    }
  });
}

void packA(const uint8_t* A, bool aSigned, int64_t M, int64_t K, int64_t Mp, int64_t Kp, bool tiles, uint8_t* dst,
           int32_t* rowSums, int threads) {
  const int64_t KB = Kp / 64;
  const uint8_t flip = aSigned ? 0x80 : 0;
  parallelFor((Mp + 31) / 32, threads, [&](int64_t t) {
    for (int64_t m = t * 32; m < std::min(Mp, t * 32 + 32); ++m) {
      const uint8_t* s = A + m * K;
      if (rowSums) {
        int32_t sum = 0;
        if (m < M) {
          if (aSigned) for (int64_t k = 0; k < K; ++k) sum += int8_t(s[k]);
          else for (int64_t k = 0; k < K; ++k) sum += s[k];
        }
        rowSums[m] = sum;
      }
      for (int64_t kb = 0; kb < KB; ++kb) {
        uint8_t* d = tiles ? dst + ((m / 16) * KB + kb) * 1024 + (m % 16) * 64 : dst + m * Kp + kb * 64;
        const int64_t k0 = kb * 64, w = m < M ? std::max<int64_t>(0, std::min<int64_t>(64, K - k0)) : 0;
        // padding meets zero rows of packed B, so its value does not matter; keep it zero
        copyFlip64(s + k0, w, flip, d);
      }
    }
  });
}

// C = raw - (off + aZp) * colSum - bZp * rowSum + K * aZp * bZp, where raw = sum (A + off) * B.
QK_AVX512 void finishBlock(const int32_t* tile, int64_t ldt, int64_t rows, int64_t w, const int32_t* colTerm, const int32_t* rowTerm,
                           int32_t* C, int64_t ldc) {
  const __mmask16 m0 = w >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << w) - 1);
  const __mmask16 m1 = w >= 32 ? __mmask16(0xFFFF) : w > 16 ? __mmask16((1u << (w - 16)) - 1) : __mmask16(0);
  const __m512i c0 = _mm512_maskz_loadu_epi32(m0, colTerm), c1 = _mm512_maskz_loadu_epi32(m1, colTerm + 16);
  for (int64_t r = 0; r < rows; ++r) {
    const __m512i rt = _mm512_set1_epi32(rowTerm ? rowTerm[r] : 0);
    _mm512_mask_storeu_epi32(C + r * ldc, m0, _mm512_add_epi32(_mm512_add_epi32(_mm512_maskz_loadu_epi32(m0, tile + r * ldt), c0), rt));
    if (m1) _mm512_mask_storeu_epi32(C + r * ldc + 16, m1, _mm512_add_epi32(_mm512_add_epi32(_mm512_maskz_loadu_epi32(m1, tile + r * ldt + 16), c1), rt));
  }
}

template <int MR>
QK_VNNI512 void vnniTile(const uint8_t* a /* k-quad interleaved, 8-row block */, int64_t Kp, const uint8_t* b, int32_t* out /* MR x 32 */) {
  __m512i acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  for (int64_t k = 0; k < Kp; k += 4) {
    const uint8_t* bk = b + (k / 64) * 2048 + ((k / 4) % 16) * 64;
    const __m512i b0 = _mm512_loadu_si512(bk), b1 = _mm512_loadu_si512(bk + 1024);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t av;
      std::memcpy(&av, a + k * 8 + r * 4, 4);
      const __m512i va = _mm512_set1_epi32(av);
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], va, b0);
      acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], va, b1);
    }
  }
#pragma GCC unroll 8
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
    const uint8_t* bk = b + (k / 64) * 2048 + ((k / 4) % 16) * 64;
    if ((k & 63) == 0)  // the next 2 KB k-block, 4 KB ahead
      for (int l = 0; l < 2048; l += 64) _mm_prefetch(reinterpret_cast<const char*>(bk + 4096 + l), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      int32_t av;
      std::memcpy(&av, a + (k + 4 * u) * 8, 4);
      const __m512i va = _mm512_set1_epi32(av);
      s[2 * u] = _mm512_dpbusd_epi32(s[2 * u], va, _mm512_loadu_si512(bk + u * 64));
      s[2 * u + 1] = _mm512_dpbusd_epi32(s[2 * u + 1], va, _mm512_loadu_si512(bk + u * 64 + 1024));
    }
  }
  _mm512_storeu_si512(out, _mm512_add_epi32(_mm512_add_epi32(s[0], s[2]), _mm512_add_epi32(s[4], s[6])));
  _mm512_storeu_si512(out + 16, _mm512_add_epi32(_mm512_add_epi32(s[1], s[3]), _mm512_add_epi32(s[5], s[7])));
}

// One row against four consecutive panels at once: four B read streams (one per panel, Kp*32 bytes apart)
// keep more misses in flight than one, the way a decode GEMV (B read once, straight from memory) needs.
QK_VNNI512 void vnniRow4(const uint8_t* a, int64_t Kp, const uint8_t* b, int32_t* out /* 4 x 32, panel after panel */) {
  __m512i s[8];
  for (auto& v : s) v = _mm512_setzero_si512();
  const int64_t ps = Kp * kPanel;
  for (int64_t k = 0; k < Kp; k += 4) {
    const uint8_t* bk = b + (k / 64) * 2048 + ((k / 4) % 16) * 64;
    if ((k & 63) == 0)  // each panel's next 2 KB k-block, 4 KB ahead
      for (int p = 0; p < 4; ++p)
        for (int l = 0; l < 2048; l += 64) _mm_prefetch(reinterpret_cast<const char*>(bk + p * ps + 4096 + l), _MM_HINT_T0);
    int32_t av;
    std::memcpy(&av, a + k * 8, 4);
    const __m512i va = _mm512_set1_epi32(av);
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      s[2 * p] = _mm512_dpbusd_epi32(s[2 * p], va, _mm512_loadu_si512(bk + p * ps));
      s[2 * p + 1] = _mm512_dpbusd_epi32(s[2 * p + 1], va, _mm512_loadu_si512(bk + p * ps + 1024));
    }
  }
  for (int p = 0; p < 8; ++p) _mm512_storeu_si512(out + p * 16, s[p]);
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

// ---- 256-bit paths for CPUs without AVX-512, over the same k-quad A and packed B (16 columns per pass).
// AVX-VNNI (Alder Lake and later): vpdpbusd on ymm.
template <int MR>
QK_AVXVNNI void avxVnniHalf(const uint8_t* a, int64_t Kp, const uint8_t* b /* one 16-column half */, int32_t* out, int ldo) {
  __m256i acc[MR][2];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t k = 0; k < Kp; k += 4) {
    const uint8_t* bk = b + (k / 64) * 2048 + ((k / 4) % 16) * 64;
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bk));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bk + 32));
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      int32_t av;
      std::memcpy(&av, a + k * 8 + r * 4, 4);
      const __m256i va = _mm256_set1_epi32(av);
      acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], va, b0);
      acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], va, b1);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r * ldo), acc[r][0]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r * ldo + 8), acc[r][1]);
  }
}

// Plain AVX2: bytes widened to 16 bits and vpmaddwd (exact: |a·b| + |a·b| < 2^31, unlike vpmaddubsw,
// which saturates). Each 32-bit lane holds one column's pair sum; the two pairs are added at the end.
template <int MR>
QK_AVX2 void avx2Half(const uint8_t* a, int64_t Kp, const uint8_t* b, int32_t* out, int ldo) {
  __m256i acc[MR][4];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm256_setzero_si256();
  for (int64_t k = 0; k < Kp; k += 4) {
    const uint8_t* bk = b + (k / 64) * 2048 + ((k / 4) % 16) * 64;
    __m256i bw[4];
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g) bw[g] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bk + 16 * g)));
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      int32_t av;
      std::memcpy(&av, a + k * 8 + r * 4, 4);
      const __m256i va = _mm256_cvtepu8_epi16(_mm_set1_epi32(av));  // a0..a3 as words, four times
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) acc[r][g] = _mm256_add_epi32(acc[r][g], _mm256_madd_epi16(va, bw[g]));
    }
  }
  alignas(32) int32_t tmp[8];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
    for (int g = 0; g < 4; ++g) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), acc[r][g]);
      for (int c = 0; c < 4; ++c) out[r * ldo + g * 4 + c] = tmp[2 * c] + tmp[2 * c + 1];
    }
}

// rows <= 8 of a k-quad block against one 32-column panel, 4 rows and 16 columns at a time
template <bool VNNI>
void ymmBlock(const uint8_t* a, int64_t rows, int64_t Kp, const uint8_t* b, int32_t* out /* rows x 32 */) {
  for (int64_t r0 = 0; r0 < rows; r0 += 4) {
    const int64_t mr = std::min<int64_t>(4, rows - r0);
    const uint8_t* ar = a + r0 * 4;  // row r0 of the 8-row quad block
    for (int half = 0; half < 2; ++half) {
      int32_t* o = out + r0 * 32 + half * 16;
      const uint8_t* bh = b + half * 1024;
      switch (mr) {
        case 1: VNNI ? avxVnniHalf<1>(ar, Kp, bh, o, 32) : avx2Half<1>(ar, Kp, bh, o, 32); break;
        case 2: VNNI ? avxVnniHalf<2>(ar, Kp, bh, o, 32) : avx2Half<2>(ar, Kp, bh, o, 32); break;
        case 3: VNNI ? avxVnniHalf<3>(ar, Kp, bh, o, 32) : avx2Half<3>(ar, Kp, bh, o, 32); break;
        default: VNNI ? avxVnniHalf<4>(ar, Kp, bh, o, 32) : avx2Half<4>(ar, Kp, bh, o, 32); break;
      }
    }
  }
}

// C = tile + colTerm + rowTerm without AVX-512
void finishBlockScalar(const int32_t* tile, int64_t rows, int64_t w, const int32_t* colTerm, const int32_t* rowTerm, int32_t* C, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < w; ++j) C[r * ldc + j] = tile[r * 32 + j] + colTerm[j] + (rowTerm ? rowTerm[r] : 0);
}

struct TileConfig {
  uint8_t palette = 1, startRow = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// 32 rows x 32 columns: tiles 0-3 accumulate C, 4-5 hold A (16 x 64 bytes), 6-7 hold B (16 k-quads x 16 columns).
QK_AMX void amxBlock(const uint8_t* a /* tile-ordered, 32 rows */, int64_t Kp, const uint8_t* b, int32_t* out /* 32 x 32 */, int64_t ldo) {
  _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
  const int64_t KB = Kp / 64;
  for (int64_t kb = 0; kb < KB; ++kb) {
    _tile_loadd(4, a + kb * 1024, 64);
    _tile_loadd(5, a + (KB + kb) * 1024, 64);
    _tile_loadd(6, b + kb * 2048, 64);
    _tile_loadd(7, b + kb * 2048 + 1024, 64);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  _tile_stored(0, out, ldo * 4);
  _tile_stored(1, out + 16, ldo * 4);
  _tile_stored(2, out + 16 * ldo, ldo * 4);
  _tile_stored(3, out + 16 * ldo + 16, ldo * 4);
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
    if (f.avxvnni) return Impl::AvxVnni;
    if (f.avx2) return Impl::Avx2;
    return Impl::Reference;
  }
  if (impl == Impl::Amx && !f.amx())
    throw KernelError("AMX-INT8 is not usable on this CPU" + (f.amxNote.empty() ? std::string() : ": " + f.amxNote));
  if (impl == Impl::Vnni && !f.vnni512()) throw KernelError("this CPU has no AVX-512 VNNI; use impl 'auto' or 'reference'");
  if (impl == Impl::AvxVnni && !f.avxvnni) throw KernelError("this CPU has no AVX-VNNI; use impl 'auto' or 'reference'");
  if (impl == Impl::Avx2 && !f.avx2) throw KernelError("this CPU has no AVX2; use impl 'auto' or 'reference'");
  if (impl == Impl::Avx512) {
    if (!f.vnni512()) throw KernelError("this CPU has no AVX-512 VNNI; use impl 'auto' or 'reference'");
    return Impl::Vnni;
  }
  return impl;
}

void gemm(const uint8_t* A, bool aSigned, int32_t aZp, const uint8_t* packedB, const int32_t* colSums, int32_t bZp,
          int64_t M, int64_t K, int64_t N, int32_t* C, Impl impl, int threads) {
  impl = gemmChooseImpl(impl, M);
  const int64_t Kp = gemmPaddedK(K), panels = (N + kPanel - 1) / kPanel;
  const bool amx = impl == Impl::Amx;
  const bool ymm = impl == Impl::AvxVnni || impl == Impl::Avx2;
  const bool vnni = impl == Impl::Vnni || ymm;  // all three read the k-quad A layout
  const int64_t mb = amx ? 32 : 8, Mp = amx ? (M + 31) / 32 * 32 : vnni ? (M + 7) / 8 * 8 : M, mBlocks = (M + mb - 1) / mb;
  // scratch reused across calls on the same thread (no zero-fill: packA writes every byte)
  thread_local std::unique_ptr<uint8_t[]> apBuf;
  thread_local size_t apCap = 0;
  if (apCap < size_t(Mp * Kp)) { apBuf.reset(new uint8_t[size_t(Mp * Kp)]); apCap = size_t(Mp * Kp); }
  uint8_t* Ap = apBuf.get();
  std::vector<int32_t> rowTerm(bZp != 0 ? size_t(Mp) : 0);
  if (vnni) {
    packAQuads(A, aSigned, M, K, Kp, Ap, threads);
    if (bZp != 0)
      for (int64_t m = 0; m < M; ++m) {
        int32_t sum = 0;
        for (int64_t k = 0; k < K; ++k) sum += aSigned ? int32_t(int8_t(A[m * K + k])) : int32_t(A[m * K + k]);
        rowTerm[m] = sum;
      }
  } else {
    packA(A, aSigned, M, K, Mp, Kp, amx, Ap, bZp != 0 ? rowTerm.data() : nullptr, threads);
  }
  const int32_t corrA = (aSigned ? 128 : 0) + aZp, kab = int32_t(K) * aZp * bZp;
  std::vector<int32_t> colTerm(size_t(panels * kPanel), 0);
  for (int64_t n = 0; n < N; ++n) colTerm[n] = kab - corrA * colSums[n];
  for (auto& r : rowTerm) r = -bZp * r;
  // u8 A without zero points needs no correction: full AMX blocks then store their tiles straight into C
  bool corrections = bZp != 0;
  for (int64_t n = 0; n < N && !corrections; ++n) corrections = colTerm[n] != 0;
  if (impl == Impl::Reference) {
    // scalar twin on the packed operands (same correction terms), used when the CPU has no VNNI
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        const uint8_t* bp = packedB + (n / kPanel) * Kp * kPanel;
        int32_t raw = 0;
        for (int64_t k = 0; k < K; ++k) raw += int32_t(Ap[m * Kp + k]) * int32_t(int8_t(bp[bIndex(k, n % kPanel)]));
        C[m * N + n] = raw + colTerm[n] + (bZp != 0 ? rowTerm[m] : 0);
      }
    return;
  }
  // Tasks: groups of panels x groups of row blocks; panels outermost keeps one B panel hot across row blocks.
  const int nThreads = threads <= 0 ? poolSize() : std::min(threads, poolSize());
  // Small tasks (about 64 rows x 128 columns) so a thread that the OS preempts does not hold the others up.
  const int64_t panelsPerTask = nThreads == 1 ? std::min<int64_t>(8, panels) : std::max<int64_t>(1, std::min<int64_t>(4, panels / (2 * nThreads)));
  const int64_t panelTasks = (panels + panelsPerTask - 1) / panelsPerTask;
  const int64_t rowGroup = std::max<int64_t>(1, ((nThreads == 1 ? 256 : 64) + mb - 1) / mb);
  const int64_t rowTasks = (mBlocks + rowGroup - 1) / rowGroup;
  parallelFor(panelTasks * rowTasks, threads, [&](int64_t t) {
    const int64_t pt = t % panelTasks, rt = t / panelTasks;
    alignas(64) int32_t tile[32 * 32];
    if (amx) amxConfigure();
    const int64_t b0 = rt * rowGroup, b1 = std::min(mBlocks, (rt + 1) * rowGroup);
    const int64_t p0 = pt * panelsPerTask, p1 = std::min(panels, (pt + 1) * panelsPerTask);
    // row blocks outer: the A block stays in L1 while the task's B panels pass (measured best for both paths)
    for (int64_t blk = b0; blk < b1; ++blk) {
      int64_t p = p0;
      if (impl == Impl::Vnni && M - blk * mb == 1) {  // GEMV (k-quad A): four whole panels at a time
        for (; p + 4 <= p1 && (p + 4) * kPanel <= N; p += 4) {
          alignas(64) int32_t t4[4 * 32];
          vnniRow4(Ap + blk * mb * Kp, Kp, packedB + p * Kp * kPanel, t4);
          for (int q = 0; q < 4; ++q)
            finishBlock(t4 + q * 32, 32, 1, kPanel, colTerm.data() + (p + q) * kPanel, bZp != 0 ? rowTerm.data() + blk * mb : nullptr, C + blk * mb * N + (p + q) * kPanel, N);
        }
      }
      for (; p < p1; ++p) {
        const int64_t m0 = blk * mb, rows = std::min(mb, M - m0);
        const uint8_t* bp = packedB + p * Kp * kPanel;
        const int64_t n0 = p * kPanel, w = std::min(kPanel, N - n0);
        if (amx && rows == 32 && w == 32) {
          int32_t* c = C + m0 * N + n0;
          amxBlock(Ap + (m0 / 16) * (Kp / 64) * 1024, Kp, bp, c, N);  // straight into C, corrected in place
          if (corrections) finishBlock(c, N, rows, w, colTerm.data() + n0, bZp != 0 ? rowTerm.data() + m0 : nullptr, c, N);
          continue;
        }
        if (ymm) {
          if (impl == Impl::AvxVnni) ymmBlock<true>(Ap + m0 * Kp, rows, Kp, bp, tile);
          else ymmBlock<false>(Ap + m0 * Kp, rows, Kp, bp, tile);
          finishBlockScalar(tile, rows, w, colTerm.data() + n0, bZp != 0 ? rowTerm.data() + m0 : nullptr, C + m0 * N + n0, N);
          continue;
        }
        if (amx) amxBlock(Ap + (m0 / 16) * (Kp / 64) * 1024, Kp, bp, tile, 32);
        else vnniBlock(Ap + m0 * Kp, rows, Kp, bp, tile);  // block m0/8 starts at m0 * Kp in the quad layout too
        finishBlock(tile, 32, rows, w, colTerm.data() + n0, bZp != 0 ? rowTerm.data() + m0 : nullptr, C + m0 * N + n0, N);
      }
    }
    if (amx) amxRelease();
  });
  // keep a small packing buffer for the next call on this thread, not a huge one
  if (apCap > (size_t(64) << 20)) { apBuf.reset(); apCap = 0; }
}

}  // namespace qk
