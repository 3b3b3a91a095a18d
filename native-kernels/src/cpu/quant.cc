// SIMD quantization kernels (AVX-512) with run-time dispatch; the scalar twins are in quant-ref.cc.
// Division (not a multiply by 1/scale) keeps every integer output bit-exact with ONNX QuantizeLinear.
#include "quant.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "features.h"
#include "simd.h"
#include "thread-pool.h"

namespace qk {
namespace {

constexpr int64_t kChunk = 1 << 16;  // elements per parallel task (even, so int4 bytes never straddle)

// 0 = scalar twin, 1 = AVX2, 2 = AVX-512 (quantize/dequantize have all three; the others 0 or 2)
int level(Impl impl) {
  const auto& f = cpuFeatures();
  if (impl == Impl::Reference) return 0;
  if (impl == Impl::Avx2 || impl == Impl::AvxVnni) {
    if (!f.avx2) throw KernelError("this CPU has no AVX2; use impl 'auto' or 'reference'");
    return 1;
  }
  if (impl == Impl::Auto) return f.avx512() ? 2 : f.avx2 ? 1 : 0;
  if (!f.avx512()) throw KernelError("this CPU has no AVX-512 (F/BW/VL/DQ); use impl 'auto' or 'reference'");
  return 2;
}

// the statistics and fake-quant kernels: AVX-512 or the scalar twin
bool useAvx512(Impl impl) { return level(impl) == 2; }

int taskCount(int64_t n, int threads) {
  const int t = threads <= 0 ? poolSize() : threads;
  return int(std::max<int64_t>(1, std::min<int64_t>(t, (n + kChunk - 1) / kChunk)));
}

// ---- AVX-512 building blocks: VEC = per-element scales, else one scale for the stretch.
template <bool VEC>
QK_AVX512 inline void loadScale(const float* s, const int32_t* z, int64_t i, __mmask16 m, __m512& vs, __m512i& vz) {
  if (VEC) { vs = _mm512_mask_loadu_ps(_mm512_set1_ps(1.f), m, s + i); vz = _mm512_maskz_loadu_epi32(m, z + i); }
  else { vs = _mm512_set1_ps(s[0]); vz = _mm512_set1_epi32(z[0]); }
}

// saturate(round_half_even(x / s)) - zp for 16 lanes (lo = qmin - zp, hi = qmax - zp, integers), bit-exact
// with IEEE division but mostly at multiply cost. t = x * (1/s) is within |t| * 2^-22 of the true quotient,
// so it can only round to a different integer when it lies next to a half-integer. Clamping first keeps
// |t| <= max(|lo|, |hi|) = L, and the rounding remainder d = t - round(t) is exact there, so a lane with
// |d| < thr = 0.5 - L * 2^-20 (tieWindow, 8x margin) rounds like the division; the (rare) vectors with a
// lane at or past thr are redone with the division. Clamped lanes sit on integers (d = 0). NaN clamps to lo.
inline float tieWindow(int lo, int hi) { return 0.5f - float(std::max(std::abs(lo), std::abs(hi)) + 1) * 0x1p-20f; }

QK_AVX512 inline __m512i quant16(__m512 xv, __m512 vs, __m512 vr, __m512 lo, __m512 hi, __m512 thr) {
  __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(xv, vr), lo), hi);  // max(t, lo) returns lo for NaN
  __m512i q = _mm512_cvtps_epi32(t);                                         // round half to even (MXCSR default)
  const __m512 d = _mm512_abs_ps(_mm512_sub_ps(t, _mm512_cvtepi32_ps(q)));
  const __mmask16 near = _mm512_cmp_ps_mask(d, thr, _CMP_GE_OQ);
  if (near) {
    t = _mm512_min_ps(_mm512_max_ps(_mm512_mask_div_ps(t, near, xv, vs), lo), hi);
    q = _mm512_cvtps_epi32(t);
  }
  return q;
}

QK_AVX512 inline __m512i quant64(const float* x, __m512 vs, __m512 vr, __m512 lo, __m512 hi, __m512 thr, __m512i vz) {
  const __m512i q0 = _mm512_add_epi32(quant16(_mm512_loadu_ps(x), vs, vr, lo, hi, thr), vz);
  const __m512i q1 = _mm512_add_epi32(quant16(_mm512_loadu_ps(x + 16), vs, vr, lo, hi, thr), vz);
  const __m512i q2 = _mm512_add_epi32(quant16(_mm512_loadu_ps(x + 32), vs, vr, lo, hi, thr), vz);
  const __m512i q3 = _mm512_add_epi32(quant16(_mm512_loadu_ps(x + 48), vs, vr, lo, hi, thr), vz);
  // 4 x 16 int32 (already in range) -> 64 bytes in order
  __m512i v = _mm512_castsi128_si512(_mm512_cvtepi32_epi8(q0));
  v = _mm512_inserti32x4(v, _mm512_cvtepi32_epi8(q1), 1);
  v = _mm512_inserti32x4(v, _mm512_cvtepi32_epi8(q2), 2);
  return _mm512_inserti32x4(v, _mm512_cvtepi32_epi8(q3), 3);
}

// 1/s is usable when it is finite and normal (s neither subnormal nor huge); otherwise divide throughout.
inline bool reciprocalOk(float s) {
  const float r = 1.0f / s;
  return std::isnormal(r) && std::isnormal(s);
}

// 64 one-per-byte values -> 32 packed bytes (first element in the low nibble)
QK_AVX512 inline __m256i packNibbles64(__m512i w) {
  const __m512i lowMask = _mm512_set1_epi16(0x0F);
  __m512i lo = _mm512_and_si512(w, lowMask), hi = _mm512_and_si512(_mm512_srli_epi16(w, 8), lowMask);
  return _mm512_cvtepi16_epi8(_mm512_or_si512(lo, _mm512_slli_epi16(hi, 4)));
}

template <bool VEC>
QK_AVX512 void quantStretch(const float* x, int64_t len, const float* s, const int32_t* z, int qmin, int qmax, uint8_t* out) {
  const __m512i vqmin = _mm512_set1_epi32(qmin), vqmax = _mm512_set1_epi32(qmax);
  __m512 vs; __m512i vz;
  loadScale<VEC>(s, z, 0, 0xFFFF, vs, vz);
  __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(vqmin, vz)), hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(vqmax, vz));
  int64_t i = 0;
  if (!VEC && reciprocalOk(s[0])) {  // otherwise the dividing loop below does it all
    const __m512 vr = _mm512_set1_ps(1.0f / s[0]), thr = _mm512_set1_ps(tieWindow(qmin - z[0], qmax - z[0]));
    for (; i + 64 <= len; i += 64) _mm512_storeu_si512(out + i, quant64(x + i, vs, vr, lo, hi, thr, vz));
  }
  for (; i < len; i += 16) {
    const __mmask16 m = len - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (len - i)) - 1);
    if (VEC) {
      loadScale<VEC>(s, z, i, m, vs, vz);
      lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(vqmin, vz)); hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(vqmax, vz));
    }
    __m512 t = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
    t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);  // max(t, lo) returns lo for NaN
    _mm512_mask_cvtepi32_storeu_epi8(out + i, m, _mm512_add_epi32(_mm512_cvtps_epi32(t), vz));
  }
}

// int8, one scale, output 64-byte aligned and past the caches: 64 at a time, streamed (no read-for-ownership),
// reads prefetched one granule ahead. The caller interleaves four such streams (see quantize) and
// fences once per task. Returns how many elements were done (a multiple of 64); the caller does the rest.
constexpr int64_t kPrefetch = 1024;  // 4 KB ahead: the stream's next granule (see quantizeInt8Streamed)
QK_AVX512 int64_t quantStretchStream(const float* x, int64_t len, float s, int32_t z, int qmin, int qmax, uint8_t* out) {
  if (!reciprocalOk(s)) return 0;
  const __m512 vs = _mm512_set1_ps(s), vr = _mm512_set1_ps(1.0f / s);
  const __m512i vz = _mm512_set1_epi32(z);
  const __m512 lo = _mm512_set1_ps(float(qmin - z)), hi = _mm512_set1_ps(float(qmax - z));
  const __m512 thr = _mm512_set1_ps(tieWindow(qmin - z, qmax - z));
  int64_t i = 0;
  for (; i + 64 <= len; i += 64) {
    const char* pf = reinterpret_cast<const char*>(x + i + kPrefetch);
    _mm_prefetch(pf, _MM_HINT_T0); _mm_prefetch(pf + 64, _MM_HINT_T0);
    _mm_prefetch(pf + 128, _MM_HINT_T0); _mm_prefetch(pf + 192, _MM_HINT_T0);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(out + i), quant64(x + i, vs, vr, lo, hi, thr, vz));
  }
  return i;
}

// int4, one scale, even start: quantize 64 at a time and pack in registers; returns how many were done
QK_AVX512 int64_t quantStretchInt4(const float* x, int64_t len, float s, int32_t z, int qmin, int qmax, uint8_t* packed) {
  const __m512 vs = _mm512_set1_ps(s);
  const __m512i vz = _mm512_set1_epi32(z);
  const __m512 lo = _mm512_set1_ps(float(qmin - z)), hi = _mm512_set1_ps(float(qmax - z));
  if (!reciprocalOk(s)) return 0;
  const __m512 vr = _mm512_set1_ps(1.0f / s), thr = _mm512_set1_ps(tieWindow(qmin - z, qmax - z));
  int64_t i = 0;
  const int64_t part = (len / 4) / 64 * 64;  // four interleaved read streams, each prefetched 4 KB ahead
  if (part >= 1024) {
    for (int64_t j = 0; j < part; j += 64)
      for (int p = 0; p < 4; ++p) {
        const int64_t o = p * part + j;
        const char* pf = reinterpret_cast<const char*>(x + o + kPrefetch);  // prefetching past the end is harmless
        _mm_prefetch(pf, _MM_HINT_T0); _mm_prefetch(pf + 64, _MM_HINT_T0); _mm_prefetch(pf + 128, _MM_HINT_T0); _mm_prefetch(pf + 192, _MM_HINT_T0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(packed + o / 2), packNibbles64(quant64(x + o, vs, vr, lo, hi, thr, vz)));
      }
    i = 4 * part;
  }
  for (; i + 64 <= len; i += 64)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(packed + i / 2), packNibbles64(quant64(x + i, vs, vr, lo, hi, thr, vz)));
  return i;
}

// bytes (one value per byte, low nibble significant) -> packed nibbles, first element low
QK_AVX512 void packNibbles(const uint8_t* b, int64_t n, uint8_t* out) {
  int64_t i = 0;
  const __m512i lowMask = _mm512_set1_epi16(0x0F);
  for (; i + 64 <= n; i += 64) {
    __m512i w = _mm512_loadu_si512(b + i);
    __m512i lo = _mm512_and_si512(w, lowMask), hi = _mm512_and_si512(_mm512_srli_epi16(w, 8), lowMask);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i / 2), _mm512_cvtepi16_epi8(_mm512_or_si512(lo, _mm512_slli_epi16(hi, 4))));
  }
  for (; i < n; i += 2) out[i / 2] = uint8_t((b[i] & 0xF) | (i + 1 < n ? (b[i + 1] & 0xF) << 4 : 0));
}

// packed nibbles -> one value per byte (sign-extended when isSigned)
QK_AVX512 void unpackNibbles(const uint8_t* p, int64_t n, bool isSigned, uint8_t* out) {
  int64_t i = 0;
  const __m512i eight = _mm512_set1_epi8(8);
  for (; i + 64 <= n; i += 64) {
    __m512i w = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i / 2)));
    __m512i v = _mm512_or_si512(_mm512_and_si512(w, _mm512_set1_epi16(0x0F)), _mm512_slli_epi16(_mm512_srli_epi16(w, 4), 8));
    if (isSigned) v = _mm512_sub_epi8(_mm512_xor_si512(v, eight), eight);
    _mm512_storeu_si512(out + i, v);
  }
  for (; i < n; ++i) {
    int v = (i & 1) ? (p[i / 2] >> 4) : (p[i / 2] & 0xF);
    out[i] = uint8_t(isSigned ? ((v ^ 8) - 8) : v);
  }
}

template <bool VEC>
QK_AVX512 void dequantStretch(const uint8_t* q, int64_t len, bool isSigned, const float* s, const int32_t* z, float* out,
                              bool bigOutput = false) {
  __m512 vs; __m512i vz;
  loadScale<VEC>(s, z, 0, 0xFFFF, vs, vz);
  int64_t i = 0;
  if (!VEC && bigOutput && len >= 256) {
    // align the output to 64 bytes, then stream it (no read-for-ownership of 4 bytes per element)
    const int64_t head = std::min<int64_t>(len, ((64 - (reinterpret_cast<uintptr_t>(out) & 63)) & 63) / 4);
    if (head) {
      const __mmask16 m = __mmask16((1u << head) - 1);
      __m128i b = _mm_maskz_loadu_epi8(m, q);
      __m512i v = isSigned ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
      _mm512_mask_storeu_ps(out, m, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v, vz)), vs));
    }
    i = head;
    if ((reinterpret_cast<uintptr_t>(out + i) & 63) == 0) {
      for (; i + 64 <= len; i += 64) {
        const __m512i b = _mm512_loadu_si512(q + i);
        const __m128i b0 = _mm512_castsi512_si128(b), b1 = _mm512_extracti32x4_epi32(b, 1);
        const __m128i b2 = _mm512_extracti32x4_epi32(b, 2), b3 = _mm512_extracti32x4_epi32(b, 3);
        const __m512i v0 = isSigned ? _mm512_cvtepi8_epi32(b0) : _mm512_cvtepu8_epi32(b0);
        const __m512i v1 = isSigned ? _mm512_cvtepi8_epi32(b1) : _mm512_cvtepu8_epi32(b1);
        const __m512i v2 = isSigned ? _mm512_cvtepi8_epi32(b2) : _mm512_cvtepu8_epi32(b2);
        const __m512i v3 = isSigned ? _mm512_cvtepi8_epi32(b3) : _mm512_cvtepu8_epi32(b3);
        _mm512_stream_ps(out + i, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v0, vz)), vs));
        _mm512_stream_ps(out + i + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v1, vz)), vs));
        _mm512_stream_ps(out + i + 32, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v2, vz)), vs));
        _mm512_stream_ps(out + i + 48, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v3, vz)), vs));
      }
      _mm_sfence();
    }
  }
  for (; i < len; i += 16) {
    const __mmask16 m = len - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (len - i)) - 1);
    if (VEC) loadScale<VEC>(s, z, i, m, vs, vz);
    __m128i b = _mm_maskz_loadu_epi8(m, q + i);
    __m512i v = isSigned ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v, vz)), vs));
  }
}

template <bool VEC>
QK_AVX512 void minmaxStretch(const float* x, int64_t len, float* mn, float* mx) {
  if (VEC) {
    for (int64_t i = 0; i < len; i += 16) {
      const __mmask16 m = len - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (len - i)) - 1);
      __m512 v = _mm512_maskz_loadu_ps(m, x + i);
      // min(v, acc) keeps acc where v is NaN
      _mm512_mask_storeu_ps(mn + i, m, _mm512_min_ps(v, _mm512_maskz_loadu_ps(m, mn + i)));
      _mm512_mask_storeu_ps(mx + i, m, _mm512_max_ps(v, _mm512_maskz_loadu_ps(m, mx + i)));
    }
    return;
  }
  __m512 a0 = _mm512_set1_ps(INFINITY), a1 = a0, b0 = _mm512_set1_ps(-INFINITY), b1 = b0;
  int64_t i = 0;
  for (; i + 32 <= len; i += 32) {
    __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
    a0 = _mm512_min_ps(v0, a0); a1 = _mm512_min_ps(v1, a1); b0 = _mm512_max_ps(v0, b0); b1 = _mm512_max_ps(v1, b1);
  }
  for (; i < len; i += 16) {
    const __mmask16 m = len - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (len - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    a0 = _mm512_mask_min_ps(a0, m, v, a0); b0 = _mm512_mask_max_ps(b0, m, v, b0);
  }
  const float lo = _mm512_reduce_min_ps(_mm512_min_ps(a0, a1)), hi = _mm512_reduce_max_ps(_mm512_max_ps(b0, b1));
  if (lo < *mn) *mn = lo;
  if (hi > *mx) *mx = hi;
}

// Also adds to zeroNaN[0] / [1] the lanes equal to 0 / NaN: two compares on the vector already loaded.
QK_AVX512 void histogramRange(const float* x, int64_t n, double lo, double hi, int bins, uint32_t* counts, int64_t* zeroNaN) {
  const double scale = double(bins) / (hi - lo);
  const __m512d vlo = _mm512_set1_pd(lo), vhi = _mm512_set1_pd(hi), vs = _mm512_set1_pd(scale), vzero = _mm512_setzero_pd();
  const __m256i last = _mm256_set1_epi32(bins - 1);
  alignas(32) int32_t idx[8];
  int64_t zeros = 0, nans = 0;
  int64_t i = 0;
  for (; i < n; i += 8) {
    const __mmask8 m = n - i >= 8 ? __mmask8(0xFF) : __mmask8((1u << (n - i)) - 1);
    __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + i));
    zeros += __builtin_popcount(_mm512_mask_cmp_pd_mask(m, v, vzero, _CMP_EQ_OQ));
    nans += __builtin_popcount(_mm512_mask_cmp_pd_mask(m, v, v, _CMP_UNORD_Q));
    __mmask8 ok = _mm512_mask_cmp_pd_mask(m, v, vlo, _CMP_GE_OQ) & _mm512_cmp_pd_mask(v, vhi, _CMP_LE_OQ);
    __m512d f = _mm512_roundscale_pd(_mm512_mul_pd(_mm512_sub_pd(v, vlo), vs), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256i b = _mm256_min_epi32(_mm512_cvttpd_epi32(_mm512_maskz_mov_pd(ok, f)), last);
    _mm256_mask_compressstoreu_epi32(idx, ok, b);
    const int k = __builtin_popcount(ok);
    for (int j = 0; j < k; ++j) counts[idx[j]]++;
  }
  zeroNaN[0] += zeros;
  zeroNaN[1] += nans;
}

// ---- AVX2 (8 lanes) for CPUs without AVX-512: same operations, same results.
template <bool VEC>
QK_AVX2 void quantStretchAvx2(const float* x, int64_t len, const float* s, const int32_t* z, int qmin, int qmax, bool sgn,
                              uint8_t* out) {
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256 vs = VEC ? _mm256_loadu_ps(s + i) : _mm256_set1_ps(s[0]);
    const __m256i vz = VEC ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(z + i)) : _mm256_set1_epi32(z[0]);
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(qmin), vz));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(qmax), vz));
    __m256 t = _mm256_div_ps(_mm256_loadu_ps(x + i), vs);
    t = _mm256_min_ps(_mm256_max_ps(t, lo), hi);  // max returns lo for NaN, as the scalar twin
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(t), vz);
    const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), sgn ? _mm_packs_epi16(p16, p16) : _mm_packus_epi16(p16, p16));
  }
  for (; i < len; ++i) {
    const float sc = VEC ? s[i] : s[0];
    const int32_t zp = VEC ? z[i] : z[0];
    float t = x[i] / sc;
    const float lo = float(qmin - zp), hi = float(qmax - zp);
    if (!(t >= lo)) t = lo;
    if (t > hi) t = hi;
    out[i] = uint8_t(int32_t(std::nearbyint(t)) + zp);
  }
}

template <bool VEC>
QK_AVX2 void dequantStretchAvx2(const uint8_t* q, int64_t len, bool isSigned, const float* s, const int32_t* z, float* out) {
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256 vs = VEC ? _mm256_loadu_ps(s + i) : _mm256_set1_ps(s[0]);
    const __m256i vz = VEC ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(z + i)) : _mm256_set1_epi32(z[0]);
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i));
    const __m256i v = isSigned ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, vz)), vs));
  }
  for (; i < len; ++i) {
    const int32_t v = isSigned ? int32_t(int8_t(q[i])) : int32_t(q[i]);
    out[i] = float(v - (VEC ? z[i] : z[0])) * (VEC ? s[i] : s[0]);
  }
}

template <bool VEC>
QK_AVX2 void fakeQuantStretchAvx2(const float* x, const float* gy, int64_t len, const float* s, const int32_t* z, int qmin,
                                  int qmax, float* y, uint8_t* mask, float* gx) {
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256 vs = VEC ? _mm256_loadu_ps(s + i) : _mm256_set1_ps(s[0]);
    const __m256i vz = VEC ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(z + i)) : _mm256_set1_epi32(z[0]);
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(qmin), vz));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(qmax), vz));
    const __m256 t = _mm256_div_ps(_mm256_loadu_ps(x + i), vs);
    const __m256 r = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 inside = _mm256_and_ps(_mm256_cmp_ps(r, lo, _CMP_GE_OQ), _mm256_cmp_ps(r, hi, _CMP_LE_OQ));
    if (gx) { _mm256_storeu_ps(gx + i, _mm256_and_ps(inside, _mm256_loadu_ps(gy + i))); continue; }
    const __m256 c = _mm256_min_ps(_mm256_max_ps(t, lo), hi);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtps_epi32(c)), vs));
    if (mask) {
      const int bits = _mm256_movemask_ps(inside);
      for (int j = 0; j < 8; ++j) mask[i + j] = uint8_t((bits >> j) & 1);
    }
  }
  for (; i < len; ++i) {
    const float sc = VEC ? s[i] : s[0];
    const int32_t zp = VEC ? z[i] : z[0];
    const float t = x[i] / sc, lo = float(qmin - zp), hi = float(qmax - zp);
    const float r = std::nearbyint(t);
    const bool inside = r >= lo && r <= hi;
    if (gx) { gx[i] = inside ? gy[i] : 0.0f; continue; }
    float c = t;
    if (!(c >= lo)) c = lo;
    if (c > hi) c = hi;
    y[i] = float(int32_t(std::nearbyint(c))) * sc;
    if (mask) mask[i] = inside ? 1 : 0;
  }
}

void packNibblesScalar(const uint8_t* b, int64_t n, uint8_t* out) {
  for (int64_t i = 0; i < n; i += 2) out[i / 2] = uint8_t((b[i] & 0xF) | (i + 1 < n ? (b[i + 1] & 0xF) << 4 : 0));
}
void unpackNibblesScalar(const uint8_t* p, int64_t n, bool isSigned, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    const int v = (i & 1) ? (p[i / 2] >> 4) : (p[i / 2] & 0xF);
    out[i] = uint8_t(isSigned ? ((v ^ 8) - 8) : v);
  }
}

void quantizeAvx2(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax, int bits,
                  uint8_t* out, int threads) {
  const int64_t n = L.count();
  const bool sgn = qmin < 0;
  parallelFor((n + kChunk - 1) / kChunk, threads, [&](int64_t t) {
    const int64_t a = t * kChunk, b = std::min(n, a + kChunk);
    thread_local std::vector<uint8_t> scratch;
    if (bits == 4 && scratch.size() < size_t(kChunk)) scratch.resize(kChunk);
    uint8_t* dst = bits == 8 ? out + a : scratch.data();
    L.walk(a, b,
           [&](int64_t i, int64_t len, int64_t k) { quantStretchAvx2<false>(x + i, len, scales + k, zps + k, qmin, qmax, sgn, dst + (i - a)); },
           [&](int64_t i, int64_t len, int64_t k) { quantStretchAvx2<true>(x + i, len, scales + k, zps + k, qmin, qmax, sgn, dst + (i - a)); });
    if (bits == 4) packNibblesScalar(scratch.data(), b - a, out + a / 2);
  });
}

void dequantizeAvx2(const uint8_t* q, const Layout& L, const float* scales, const int32_t* zps, bool isSigned, int bits,
                    float* out, int threads) {
  const int64_t n = L.count();
  parallelFor((n + kChunk - 1) / kChunk, threads, [&](int64_t t) {
    const int64_t a = t * kChunk, b = std::min(n, a + kChunk);
    thread_local std::vector<uint8_t> scratch;
    if (bits == 4 && scratch.size() < size_t(kChunk)) scratch.resize(kChunk);
    const uint8_t* src = q + a;
    if (bits == 4) { unpackNibblesScalar(q + a / 2, b - a, isSigned, scratch.data()); src = scratch.data(); }
    L.walk(a, b,
           [&](int64_t i, int64_t len, int64_t k) { dequantStretchAvx2<false>(src + (i - a), len, isSigned, scales + k, zps + k, out + i); },
           [&](int64_t i, int64_t len, int64_t k) { dequantStretchAvx2<true>(src + (i - a), len, isSigned, scales + k, zps + k, out + i); });
  });
}

template <bool VEC>
QK_AVX512 void fakeQuantStretch(const float* x, const float* gy, int64_t len, const float* s, const int32_t* z, int qmin,
                                int qmax, float* y, uint8_t* mask, float* gx) {
  const __m512i vqmin = _mm512_set1_epi32(qmin), vqmax = _mm512_set1_epi32(qmax);
  __m512 vs; __m512i vz;
  loadScale<VEC>(s, z, 0, 0xFFFF, vs, vz);
  __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(vqmin, vz)), hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(vqmax, vz));
  for (int64_t i = 0; i < len; i += 16) {
    const __mmask16 m = len - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (len - i)) - 1);
    if (VEC) {
      loadScale<VEC>(s, z, i, m, vs, vz);
      lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(vqmin, vz)); hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(vqmax, vz));
    }
    __m512 t = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
    __m512 r = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __mmask16 inside = _mm512_cmp_ps_mask(r, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(r, hi, _CMP_LE_OQ);
    if (gx) {
      _mm512_mask_storeu_ps(gx + i, m, _mm512_maskz_loadu_ps(inside & m, gy + i));
      continue;
    }
    __m512 c = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtps_epi32(c)), vs));
    if (mask) _mm_mask_storeu_epi8(mask + i, m, _mm_maskz_mov_epi8(inside, _mm_set1_epi8(1)));
  }
}

// int8 outputs past the caches (n >= 2M). Tasks start on 64-byte output boundaries (the first task takes
// the unaligned head), so every thread streams whole cache lines and no two threads share one. Inside a
// task the range is cut into four quarters walked in lockstep, kGranule elements at a time: four read
// streams 64 KB apart keep more misses in flight than one sequential stream on this high-latency VM
// (as glibc's large memcpy does), and a granule is short enough that per-channel rows (one scale per
// row) still see four long streams. Stretches that are not one-scale or not aligned go through
// quantStretch, bit-exact either way.
void quantizeInt8Streamed(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax,
                          uint8_t* out, int threads) {
  const int64_t n = L.count();
  constexpr int64_t kGranule = 1024;
  const int64_t d = std::min<int64_t>(n, (64 - (reinterpret_cast<uintptr_t>(out) & 63)) & 63);
  const int64_t body = (n - d + kChunk - 1) / kChunk;
  const int64_t tasks = body + (d > 0 ? 1 : 0);
  auto start = [&](int64_t t) { return d > 0 ? (t == 0 ? 0 : std::min(n, d + (t - 1) * kChunk)) : std::min(n, t * kChunk); };
  auto run = [&](int64_t i, int64_t len, int64_t k) {
    if ((reinterpret_cast<uintptr_t>(out + i) & 63) == 0) {
      const int64_t done = quantStretchStream(x + i, len, scales[k], zps[k], qmin, qmax, out + i);
      i += done, len -= done;
      if (len == 0) return;
    }
    quantStretch<false>(x + i, len, scales + k, zps + k, qmin, qmax, out + i);
  };
  auto vec = [&](int64_t i, int64_t len, int64_t k) { quantStretch<true>(x + i, len, scales + k, zps + k, qmin, qmax, out + i); };
  parallelFor(tasks, threads, [&](int64_t t) {
    const int64_t a = start(t), b = start(t + 1);
    const int64_t q = (b - a) / 4 / kGranule * kGranule;
    for (int64_t g = 0; g < q; g += kGranule)
      for (int p = 0; p < 4; ++p) L.walk(a + p * q + g, a + p * q + g + kGranule, run, vec);
    L.walk(a + 4 * q, b, run, vec);
    _mm_sfence();
  });
}

}  // namespace

void quantize(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax, int bits,
              uint8_t* out, Impl impl, int threads) {
  const int lv = level(impl);
  if (lv == 0) return ref::quantize(x, L, scales, zps, qmin, qmax, bits, out);
  if (lv == 1) return quantizeAvx2(x, L, scales, zps, qmin, qmax, bits, out, threads);
  const int64_t n = L.count();
  if (bits == 8 && n >= (int64_t(1) << 21)) return quantizeInt8Streamed(x, L, scales, zps, qmin, qmax, out, threads);
  parallelFor((n + kChunk - 1) / kChunk, threads, [&](int64_t t) {
    const int64_t a = t * kChunk, b = std::min(n, a + kChunk);
    thread_local std::vector<uint8_t> scratch;
    thread_local std::vector<std::pair<int64_t, int64_t>> viaScratch;  // int4: chunk-relative [start, end)
    if (bits == 4 && scratch.size() < size_t(kChunk)) scratch.resize(kChunk);
    viaScratch.clear();
    uint8_t* dst = bits == 8 ? out + a : scratch.data();
    L.walk(a, b,
           [&](int64_t i, int64_t len, int64_t k) {
             if (bits == 4 && ((i - a) & 1) == 0) {  // fused quantize + pack for whole 64s
               const int64_t done = quantStretchInt4(x + i, len, scales[k], zps[k], qmin, qmax, out + i / 2);
               i += done, len -= done;
               if (len == 0) return;
             }
             quantStretch<false>(x + i, len, scales + k, zps + k, qmin, qmax, dst + (i - a));
             if (bits == 4) viaScratch.emplace_back(i - a, i - a + len);
           },
           [&](int64_t i, int64_t len, int64_t k) {
             quantStretch<true>(x + i, len, scales + k, zps + k, qmin, qmax, dst + (i - a));
             if (bits == 4) viaScratch.emplace_back(i - a, i - a + len);
           });
    // fused stretches cover whole pairs, so a pair is either all fused or all in the scratch
    for (auto [s0, e0] : viaScratch) {
      s0 &= ~int64_t(1);
      e0 = std::min(b - a, (e0 + 1) & ~int64_t(1));
      packNibbles(scratch.data() + s0, e0 - s0, out + (a + s0) / 2);
    }
  });
}

void dequantize(const uint8_t* q, const Layout& L, const float* scales, const int32_t* zps, bool isSigned, int bits,
                float* out, Impl impl, int threads) {
  const int lv = level(impl);
  if (lv == 0) return ref::dequantize(q, L, scales, zps, isSigned, bits, out);
  if (lv == 1) return dequantizeAvx2(q, L, scales, zps, isSigned, bits, out, threads);
  const int64_t n = L.count();
  parallelFor((n + kChunk - 1) / kChunk, threads, [&](int64_t t) {
    const int64_t a = t * kChunk, b = std::min(n, a + kChunk);
    thread_local std::vector<uint8_t> scratch;
    if (bits == 4 && scratch.size() < size_t(kChunk)) scratch.resize(kChunk);
    const uint8_t* src = q + a;
    bool sgn = isSigned;
    if (bits == 4) { unpackNibbles(q + a / 2, b - a, isSigned, scratch.data()); src = scratch.data(); }
    L.walk(a, b,
           [&](int64_t i, int64_t len, int64_t k) { dequantStretch<false>(src + (i - a), len, sgn, scales + k, zps + k, out + i, n >= (int64_t(1) << 19)); },
           [&](int64_t i, int64_t len, int64_t k) { dequantStretch<true>(src + (i - a), len, sgn, scales + k, zps + k, out + i); });
  });
}

void minmax(const float* x, const Layout& L, float* mins, float* maxs, Impl impl, int threads) {
  if (!useAvx512(impl)) return ref::minmax(x, L, mins, maxs);
  const int64_t n = L.count(), slots = L.scaleCount();
  const int tasks = taskCount(n, threads);
  std::vector<float> pm(size_t(tasks) * slots, INFINITY), px(size_t(tasks) * slots, -INFINITY);
  parallelFor(tasks, tasks, [&](int64_t t) {
    const int64_t a = n * t / tasks, b = n * (t + 1) / tasks;
    float* mn = pm.data() + t * slots; float* mx = px.data() + t * slots;
    L.walk(a, b, [&](int64_t i, int64_t len, int64_t k) { minmaxStretch<false>(x + i, len, mn + k, mx + k); },
           [&](int64_t i, int64_t len, int64_t k) { minmaxStretch<true>(x + i, len, mn + k, mx + k); });
  });
  for (int64_t k = 0; k < slots; ++k) {
    float a = INFINITY, b = -INFINITY;
    for (int t = 0; t < tasks; ++t) { a = std::min(a, pm[t * slots + k]); b = std::max(b, px[t * slots + k]); }
    mins[k] = a; maxs[k] = b;
  }
}

void histogram(const float* x, int64_t n, double lo, double hi, int bins, double* counts, double* zeroNaN, Impl impl,
               int threads) {
  if (!useAvx512(impl)) return ref::histogram(x, n, lo, hi, bins, counts, zeroNaN);
  const int tasks = taskCount(n, threads);
  std::vector<uint32_t> part(size_t(tasks) * bins, 0);
  std::vector<int64_t> partZeroNaN(size_t(tasks) * 2, 0);
  parallelFor(tasks, tasks, [&](int64_t t) {
    const int64_t a = n * t / tasks, b = n * (t + 1) / tasks;
    // uint32 counters: split so no counter can overflow
    for (int64_t s = a; s < b; s += (int64_t(1) << 31))
      histogramRange(x + s, std::min<int64_t>(b - s, int64_t(1) << 31), lo, hi, bins, part.data() + t * bins, partZeroNaN.data() + t * 2);
  });
  for (int t = 0; t < tasks; ++t)
    for (int k = 0; k < bins; ++k) counts[k] += part[size_t(t) * bins + k];
  if (zeroNaN)
    for (int t = 0; t < tasks; ++t) zeroNaN[0] += double(partZeroNaN[t * 2]), zeroNaN[1] += double(partZeroNaN[t * 2 + 1]);
}

// Forward (x → y, mask) and backward (x, gy → gx) walk the tensor alike; the null pointers say which
// pass the stretch kernel runs. lv 1: AVX2, otherwise AVX-512.
static void fakeQuantNative(int lv, const float* x, const float* gy, const Layout& L, const float* scales, const int32_t* zps,
                            int qmin, int qmax, float* y, uint8_t* mask, float* gx, int threads) {
  const int64_t n = L.count();
  const auto at = [](auto* p, int64_t i) { return p ? p + i : p; };
  parallelFor((n + kChunk - 1) / kChunk, threads, [&](int64_t t) {
    const int64_t a = t * kChunk, b = std::min(n, a + kChunk);
    const auto stretch = [&](auto consecutiveScales, int64_t i, int64_t len, int64_t k) {
      constexpr bool P = decltype(consecutiveScales)::value;
      if (lv == 1) fakeQuantStretchAvx2<P>(x + i, at(gy, i), len, scales + k, zps + k, qmin, qmax, at(y, i), at(mask, i), at(gx, i));
      else fakeQuantStretch<P>(x + i, at(gy, i), len, scales + k, zps + k, qmin, qmax, at(y, i), at(mask, i), at(gx, i));
    };
    L.walk(a, b,
           [&](int64_t i, int64_t len, int64_t k) { stretch(std::false_type{}, i, len, k); },
           [&](int64_t i, int64_t len, int64_t k) { stretch(std::true_type{}, i, len, k); });
  });
}

void fakeQuantForward(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax,
                      float* y, uint8_t* mask, Impl impl, int threads) {
  const int lv = level(impl);
  if (lv == 0) return ref::fakeQuantForward(x, L, scales, zps, qmin, qmax, y, mask);
  fakeQuantNative(lv, x, nullptr, L, scales, zps, qmin, qmax, y, mask, nullptr, threads);
}

void fakeQuantBackward(const float* x, const float* gy, const Layout& L, const float* scales, const int32_t* zps,
                       int qmin, int qmax, float* gx, Impl impl, int threads) {
  const int lv = level(impl);
  if (lv == 0) return ref::fakeQuantBackward(x, gy, L, scales, zps, qmin, qmax, gx);
  fakeQuantNative(lv, x, gy, L, scales, zps, qmin, qmax, nullptr, nullptr, gx, threads);
}

void copyBytes(void* dst, const void* src, int64_t n, int threads) {
  // one thread: one plain memcpy call (glibc picks its own large-copy strategy); more: 1 MB pieces shared out
  if (threads == 1 || poolSize() == 1) { std::memcpy(dst, src, size_t(n)); return; }
  const int64_t chunk = int64_t(1) << 20;
  parallelFor((n + chunk - 1) / chunk, threads, [&](int64_t t) {
    const int64_t a = t * chunk, len = std::min(chunk, n - a);
    std::memcpy(static_cast<uint8_t*>(dst) + a, static_cast<const uint8_t*>(src) + a, size_t(len));
  });
}

}  // namespace qk
