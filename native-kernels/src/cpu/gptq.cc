#include "gptq.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "../common.h"
#include "../cuda/api.h"
#include "features.h"
#include "simd.h"
#include "thread-pool.h"

namespace qk {
namespace {

double jsRound(double x) {  // Math.round: half toward +infinity
  const double r = std::floor(x);
  return x - r >= 0.5 ? r + 1 : r;
}

// weight-quant.ts gridParams (clip = 1): scale, zero point for v[start .. start + count).
void gridParams(const float* v, int64_t count, int bits, bool symmetric, double& scale, double& zp) {
  const double mq = double((1 << bits) - 1);
  if (symmetric) {
    double m = 0, am = 0;
    for (int64_t k = 0; k < count; ++k) {
      const double x = v[k], a = x < 0 ? -x : x;
      if (a > am) { am = a; m = x; }
    }
    const double half = (mq + 1) / 2;
    scale = am == 0 ? 1 : m / -half;
    zp = half;
    return;
  }
  double lo = 0, hi = 0;
  for (int64_t k = 0; k < count; ++k) {
    const double x = v[k];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (hi - lo == 0) { lo = -1; hi = 1; }
  scale = (hi - lo) / mq;
  double z = jsRound(-lo / scale);
  zp = z < 0 ? 0 : z > mq ? mq : z;
}

inline int32_t quantizeValue(double x, double s, int32_t zp, int32_t mq) {
  int32_t q = int32_t(std::nearbyint(x / s)) + zp;  // roundEven: nearbyint in the default mode
  return q < 0 ? 0 : q > mq ? mq : q;
}

// w[j] = float(w[j] - e * h[j]) for j in [0, n): each element's single operation, as in the reference.
QK_AVX512 void axpySubAvx512(float* w, double e, const double* h, int64_t n) {
  const __m512d ve = _mm512_set1_pd(e);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m512d wd = _mm512_cvtps_pd(_mm256_loadu_ps(w + j));
    _mm256_storeu_ps(w + j, _mm512_cvtpd_ps(_mm512_sub_pd(wd, _mm512_mul_pd(ve, _mm512_loadu_pd(h + j)))));
  }
  for (; j < n; ++j) w[j] = float(double(w[j]) - e * h[j]);
}
void axpySubScalar(float* w, double e, const double* h, int64_t n) {
  for (int64_t j = 0; j < n; ++j) w[j] = float(double(w[j]) - e * h[j]);
}
inline void axpySub(float* w, double e, const double* h, int64_t n) {
  static const bool avx512 = cpuFeatures().avx512();
  if (avx512) axpySubAvx512(w, e, h, n); else axpySubScalar(w, e, h, n);
}

// a[j] += r * b[j] (multiply, then add: the reference's two roundings, no FMA), b double or float
QK_AVX512 void addScaledAvx512(double* a, double r, const double* b, int64_t n) {
  const __m512d vr = _mm512_set1_pd(r);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm512_storeu_pd(a + j, _mm512_add_pd(_mm512_loadu_pd(a + j), _mm512_mul_pd(vr, _mm512_loadu_pd(b + j))));
  for (; j < n; ++j) a[j] += r * b[j];
}
QK_AVX512 void addScaledAvx512(double* a, double r, const float* b, int64_t n) {
  const __m512d vr = _mm512_set1_pd(r);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    _mm512_storeu_pd(a + j, _mm512_add_pd(_mm512_loadu_pd(a + j), _mm512_mul_pd(vr, _mm512_cvtps_pd(_mm256_loadu_ps(b + j)))));
  for (; j < n; ++j) a[j] += r * double(b[j]);
}
template <class T>
inline void addScaled(double* a, double r, const T* b, int64_t n) {
  static const bool avx512 = cpuFeatures().avx512();
  if (avx512) return addScaledAvx512(a, r, b, n);
  for (int64_t j = 0; j < n; ++j) a[j] += r * double(b[j]);
}

}  // namespace

bool upperCholeskyOfInverse(double* h, int64_t n, int threads) {
  for (int64_t j = n - 1; j >= 0; --j) {
    double* rowJ = h + j * n;
    double d = rowJ[j];
    for (int64_t k = j + 1; k < n; ++k) { const double v = rowJ[k]; d -= v * v; }
    if (!(d > 0)) return false;
    const double rjj = std::sqrt(d);
    rowJ[j] = rjj;
    const double inv = 1 / rjj;
    // rows i < j are independent; four at a time hide the add latency without reordering any sum
    const int64_t groups = (j + 3) / 4;
    auto body = [&](int64_t g) {
      const int64_t i0 = g * 4, cnt = std::min<int64_t>(4, j - i0);
      double s[4];
      for (int u = 0; u < cnt; ++u) s[u] = h[(i0 + u) * n + j];
      if (cnt == 4) {
        const double *r0 = h + i0 * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
        for (int64_t k = j + 1; k < n; ++k) {
          const double v = rowJ[k];
          s[0] -= r0[k] * v; s[1] -= r1[k] * v; s[2] -= r2[k] * v; s[3] -= r3[k] * v;
        }
      } else {
        for (int u = 0; u < cnt; ++u) {
          const double* ri = h + (i0 + u) * n;
          for (int64_t k = j + 1; k < n; ++k) s[u] -= ri[k] * rowJ[k];
        }
      }
      for (int u = 0; u < cnt; ++u) h[(i0 + u) * n + j] = s[u] * inv;
    };
    const int64_t work = j * (n - j);
    if (work < 32768) for (int64_t g = 0; g < groups; ++g) body(g);
    else parallelFor(groups, threads, body);
  }
  // U = R^-1, row i from rows below it; acc[j] accumulates over k in increasing order as the reference
  std::vector<double> acc(static_cast<size_t>(n));
  for (int64_t i = n - 1; i >= 0; --i) {
    double* rowI = h + i * n;
    const double uii = 1 / rowI[i];
    std::fill(acc.begin(), acc.begin() + (n - i), 0.0);
    for (int64_t k = i + 1; k < n; ++k) {
      const double rik = rowI[k];
      if (rik == 0) continue;
      const double* rowK = h + k * n;
      addScaled(acc.data() + (k - i - 1), rik, rowK + k, n - k);
    }
    for (int64_t j = i + 1; j < n; ++j) rowI[j] = -acc[j - i - 1] * uii;
    rowI[i] = uii;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) h[i * n + j] = 0;
  return true;
}

void hessianAccumulate(double* gram, const float* X, int64_t rows, int64_t cols, int threads) {
  // each (i, j) sums over rows in order: parallel over i, vectorizable over j
  parallelFor(cols, threads, [&](int64_t i) {
    double* g = gram + i * cols;
    for (int64_t r = 0; r < rows; ++r) {
      const double xi = X[r * cols + i];
      if (xi == 0) continue;
      addScaled(g, xi, X + r * cols, cols);
    }
  });
}

void gptq(const GptqArgs& a) {
  const int64_t rows = a.rows, cols = a.cols;
  const int bits = a.bits;
  const int32_t mq = (1 << bits) - 1;
  const int64_t groupSize = a.groupSize > 0 ? a.groupSize : 0;
  const int64_t blockSize = std::max<int64_t>(1, a.blockSize);
  const int64_t nG = groupSize > 0 ? (cols + groupSize - 1) / groupSize : 1;
  const int64_t gs = groupSize > 0 ? groupSize : cols;

  std::vector<float> W(a.weight, a.weight + rows * cols);
  std::vector<double> H(size_t(cols * cols));
  for (int64_t i = 0; i < cols * cols; ++i) H[i] = a.hessian[i];
  for (int64_t c = 0; c < cols; ++c)
    if (H[c * cols + c] == 0) {
      H[c * cols + c] = 1;
      for (int64_t r = 0; r < rows; ++r) W[r * cols + c] = 0;
    }

  float* scales = a.scales;
  int32_t* zps = a.zeroPoints;
  auto setGroupParams = [&](const float* src, int64_t r, int64_t colStart, int64_t count, int64_t g) {
    double s, z;
    gridParams(src + r * cols + colStart, count, bits, a.symmetric, s, z);
    scales[r * nG + g] = float(s);
    zps[r * nG + g] = int32_t(z);
  };

  std::vector<int32_t> perm;
  if (a.actOrder) {
    perm.resize(size_t(cols));
    std::iota(perm.begin(), perm.end(), 0);
    std::stable_sort(perm.begin(), perm.end(), [&](int32_t x, int32_t y) {
      const double hx = H[x * cols + x], hy = H[y * cols + y];
      return hx != hy ? hx > hy : x < y;
    });
    for (int64_t g = 0; g < nG; ++g)
      for (int64_t r = 0; r < rows; ++r) setGroupParams(W.data(), r, g * gs, std::min(gs, cols - g * gs), g);
    std::vector<float> Wp(W.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) Wp[r * cols + c] = W[r * cols + perm[c]];
    W.swap(Wp);
    std::vector<double> Hp(H.size());
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) Hp[i * cols + j] = H[perm[i] * cols + perm[j]];
    H.swap(Hp);
  } else if (groupSize == 0) {
    for (int64_t r = 0; r < rows; ++r) setGroupParams(W.data(), r, 0, cols, 0);
  }

  double meanDiag = 0;
  for (int64_t c = 0; c < cols; ++c) meanDiag += H[c * cols + c];
  meanDiag /= double(cols);
  double damp = a.damp;
  std::vector<double> Hinv(H.size());
  for (int attempt = 0;; ++attempt) {
    Hinv = H;
    const double lambda = damp * meanDiag;
    for (int64_t c = 0; c < cols; ++c) Hinv[c * cols + c] += lambda;
    if (upperCholeskyOfInverse(Hinv.data(), cols, a.threads)) break;
    if (attempt >= 6)
      throw KernelError("gptq: the Hessian (" + std::to_string(cols) + "x" + std::to_string(cols) +
                        ") is not positive definite even with damping " + std::to_string(damp));
    damp = damp > 0 ? damp * 10 : 1e-4;
  }

  std::vector<int8_t> Q(size_t(rows * cols));
  auto groupOf = [&](int64_t pc) { return (perm.empty() ? pc : perm[pc]) / gs; };
  const int64_t rowChunk = 8;
  const int64_t chunks = (rows + rowChunk - 1) / rowChunk;
  std::vector<float> Err(size_t(rows * blockSize));
  std::vector<float> hinvSlab;

  for (int64_t i1 = 0; i1 < cols; i1 += blockSize) {
    const int64_t i2 = std::min(i1 + blockSize, cols), bw = i2 - i1;
    parallelFor(chunks, a.threads, [&](int64_t ch) {
      const int64_t r0 = ch * rowChunk, r1 = std::min(rows, r0 + rowChunk);
      for (int64_t i = i1; i < i2; ++i) {
        if (perm.empty() && groupSize > 0 && i % groupSize == 0)
          for (int64_t r = r0; r < r1; ++r) setGroupParams(W.data(), r, i, std::min(groupSize, cols - i), i / groupSize);
        const double d = Hinv[i * cols + i];
        const int64_t g = groupOf(i);
        const double* hRow = Hinv.data() + i * cols;
        for (int64_t r = r0; r < r1; ++r) {
          float* wr = W.data() + r * cols;
          const double w = wr[i];
          const double s = scales[r * nG + g];
          const int32_t zp = zps[r * nG + g];
          const int32_t qi = quantizeValue(w, s, zp, mq);
          Q[r * cols + i] = int8_t(qi);
          const double e = (w - double(qi - zp) * s) / d;
          Err[r * blockSize + (i - i1)] = float(e);
          if (i + 1 < i2) axpySub(wr + i + 1, e, hRow + i + 1, i2 - i - 1);
        }
      }
      if (i2 < cols && !a.cuda) {
        for (int64_t b = 0; b < bw; ++b) {
          const double* hRow = Hinv.data() + (i1 + b) * cols + i2;
          for (int64_t r = r0; r < r1; ++r) {
            const double e = Err[r * blockSize + b];
            if (e == 0) continue;
            axpySub(W.data() + r * cols + i2, e, hRow, cols - i2);
          }
        }
      }
    });
    if (i2 < cols && a.cuda) {
      // the GPU does the trailing update as one float32 GEMM per block
      std::vector<float> err(size_t(rows * bw));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t b = 0; b < bw; ++b) err[r * bw + b] = Err[r * blockSize + b];
      hinvSlab.resize(size_t(bw * cols));
      for (int64_t b = 0; b < bw; ++b)
        for (int64_t j = 0; j < cols; ++j) hinvSlab[b * cols + j] = float(Hinv[(i1 + b) * cols + j]);
      cuda::gptqTrailingUpdate(W.data(), rows, cols, err.data(), i1, i2, hinvSlab.data());
    }
  }

  for (int64_t r = 0; r < rows; ++r)
    for (int64_t pc = 0; pc < cols; ++pc) {
      const int64_t c = perm.empty() ? pc : perm[pc];
      const int8_t qi = Q[r * cols + pc];
      a.q[r * cols + c] = qi;
      const int64_t g = r * nG + c / gs;
      a.dequantized[r * cols + c] = float(double(int32_t(qi) - zps[g]) * double(scales[g]));
    }
}

}  // namespace qk
