// CUDA kernels: quantize / dequantize / histogram / fake-quant (one element per thread, grid-stride),
// an int8 Tensor Core GEMM (mma.sync m16n8k32 s8 x s8 -> s32, 128x128x64 block tiles double-buffered in shared
// memory through cp.async),
// and the GPTQ trailing update. Host wrappers copy in, run, copy out; the bench entries time
// device-resident data. Integer outputs follow the CPU twins exactly (IEEE division, round-half-even).
#include <cuda_runtime.h>

#include <cstring>
#include <string>
#include <vector>

#include "api.h"

namespace qk {
namespace cuda {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw KernelError(std::string("CUDA ") + what + " failed: " + cudaGetErrorString(e) + " (error " +
                      std::to_string(int(e)) + ")");
}
#define CK(x) check((x), #x)

template <class T>
struct Buf {
  T* p = nullptr;
  size_t n = 0;
  explicit Buf(size_t count) : n(count) { if (count) CK(cudaMalloc(&p, count * sizeof(T))); }
  Buf(const T* host, size_t count) : Buf(count) { if (count) CK(cudaMemcpy(p, host, count * sizeof(T), cudaMemcpyHostToDevice)); }
  ~Buf() { if (p) cudaFree(p); }
  void get(T* host) const { if (n) CK(cudaMemcpy(host, p, n * sizeof(T), cudaMemcpyDeviceToHost)); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
};

struct DLayout {
  long long outer, axisLen, inner, block;
};
DLayout dl(const Layout& L) { return {L.outer, L.axisLen, L.inner, L.block}; }

__device__ __forceinline__ long long scaleIndex(const DLayout& L, long long i) {
  const long long j = i % L.inner, c = (i / L.inner) % L.axisLen;
  if (L.block <= 0) return c;
  const long long groups = (L.axisLen + L.block - 1) / L.block, o = i / (L.inner * L.axisLen);
  return (o * groups + c / L.block) * L.inner + j;
}

__device__ __forceinline__ int quantOne(float x, float s, int zp, int qmin, int qmax) {
  float t = __fdiv_rn(x, s);
  const float lo = float(qmin - zp), hi = float(qmax - zp);
  if (!(t >= lo)) t = lo;
  if (t > hi) t = hi;
  return __float2int_rn(t) + zp;
}

__global__ void quantizeKernel(const float* x, long long n, DLayout L, const float* s, const int* z, int qmin, int qmax,
                               int bits, unsigned char* out) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  if (bits == 8) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
      const long long k = scaleIndex(L, i);
      out[i] = (unsigned char)quantOne(x[i], s[k], z[k], qmin, qmax);
    }
    return;
  }
  for (long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x; b < (n + 1) / 2; b += stride) {
    const long long i = 2 * b;
    const long long k0 = scaleIndex(L, i);
    unsigned v = (unsigned)quantOne(x[i], s[k0], z[k0], qmin, qmax) & 0xF;
    if (i + 1 < n) {
      const long long k1 = scaleIndex(L, i + 1);
      v |= ((unsigned)quantOne(x[i + 1], s[k1], z[k1], qmin, qmax) & 0xF) << 4;
    }
    out[b] = (unsigned char)v;
  }
}

// Per-tensor int8 fast path: 4 elements per thread (float4 in, 4 bytes out).
__global__ void quantizeTensorKernel(const float4* x, long long n4, float s, int zp, int qmin, int qmax, char4* out) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += stride) {
    const float4 v = x[i];
    out[i] = make_char4((char)quantOne(v.x, s, zp, qmin, qmax), (char)quantOne(v.y, s, zp, qmin, qmax),
                        (char)quantOne(v.z, s, zp, qmin, qmax), (char)quantOne(v.w, s, zp, qmin, qmax));
  }
}

__global__ void dequantizeKernel(const unsigned char* q, long long n, DLayout L, const float* s, const int* z, bool sgn,
                                 int bits, float* out) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    int v;
    if (bits == 8) v = sgn ? (int)(signed char)q[i] : (int)q[i];
    else {
      const int nib = (i & 1) ? (q[i / 2] >> 4) : (q[i / 2] & 0xF);
      v = sgn ? ((nib ^ 8) - 8) : nib;
    }
    const long long k = scaleIndex(L, i);
    out[i] = __fmul_rn((float)(v - z[k]), s[k]);
  }
}

// zeroNaN (null, or 2 device counters): values equal to 0 and NaN values over all n, summed per block first.
__global__ void histogramKernel(const float* x, long long n, double lo, double hi, int bins, unsigned* counts,
                                unsigned long long* zeroNaN) {
  extern __shared__ unsigned local[];
  __shared__ unsigned long long blockZeroNaN[2];
  const bool shared = bins <= 8192;
  if (shared) for (int b = threadIdx.x; b < bins; b += blockDim.x) local[b] = 0;
  if (threadIdx.x < 2) blockZeroNaN[threadIdx.x] = 0;
  __syncthreads();
  const double scale = double(bins) / (hi - lo);
  const long long stride = (long long)gridDim.x * blockDim.x;
  unsigned long long zeros = 0, nans = 0;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const double v = x[i];
    if (v == 0) ++zeros;
    else if (v != v) ++nans;
    if (!(v >= lo && v <= hi)) continue;
    long long b = (long long)floor((v - lo) * scale);
    if (b >= bins) b = bins - 1;
    if (shared) atomicAdd(&local[b], 1u); else atomicAdd(&counts[b], 1u);
  }
  if (zeroNaN) {
    if (zeros) atomicAdd(&blockZeroNaN[0], zeros);
    if (nans) atomicAdd(&blockZeroNaN[1], nans);
  }
  __syncthreads();
  if (shared) for (int b = threadIdx.x; b < bins; b += blockDim.x) if (local[b]) atomicAdd(&counts[b], local[b]);
  if (zeroNaN && threadIdx.x < 2 && blockZeroNaN[threadIdx.x]) atomicAdd(&zeroNaN[threadIdx.x], blockZeroNaN[threadIdx.x]);
}

__global__ void fakeQuantKernel(const float* x, const float* gy, long long n, DLayout L, const float* s, const int* z,
                                int qmin, int qmax, float* y, unsigned char* mask, float* gx) {
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const long long k = scaleIndex(L, i);
    const float r = rintf(__fdiv_rn(x[i], s[k]));
    const bool inside = r >= float(qmin - z[k]) && r <= float(qmax - z[k]);
    if (gx) { gx[i] = inside ? gy[i] : 0.0f; continue; }
    y[i] = __fmul_rn((float)(quantOne(x[i], s[k], z[k], qmin, qmax) - z[k]), s[k]);
    if (mask) mask[i] = inside ? 1 : 0;
  }
}

// ---- int8 GEMM: A [Mp,Kp] row-major, Bt [Np,Kp] row-major (B transposed), C [Mp,Np]; Mp,Np % 128 == 0, Kp % 64 == 0.
constexpr int BM = 128, BN = 128, BK = 64, LDS = BK + 16;  // 80-byte rows: conflict-free fragment loads

__device__ __forceinline__ void mma16832(int* c, const unsigned* a, const unsigned* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__global__ void __launch_bounds__(256) gemmS8Kernel(const signed char* A, const signed char* Bt, int* C, int Mp, int Np, int Kp) {
  __shared__ __align__(16) signed char As[2][BM * LDS];
  __shared__ __align__(16) signed char Bs[2][BN * LDS];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
  const int wm = (warp / 4) * 64, wn = (warp % 4) * 32;  // 2 x 4 warps, 64 x 32 each
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  int acc[4][4][4] = {};
  // each thread moves 2 x 16 bytes of A and of B per stage, asynchronously (cp.async, sm_80+): the next
  // stage streams into shared memory while the tensor cores work on this one
  auto load = [&](int stage, int k0) {
    for (int r = 0; r < 2; ++r) {
      const int idx = threadIdx.x + r * 256, row = idx / 4, col = (idx % 4) * 16;
      const unsigned sa = (unsigned)__cvta_generic_to_shared(&As[stage][row * LDS + col]);
      const unsigned sb = (unsigned)__cvta_generic_to_shared(&Bs[stage][row * LDS + col]);
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(sa), "l"(&A[(size_t)(m0 + row) * Kp + k0 + col]));
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(sb), "l"(&Bt[(size_t)(n0 + row) * Kp + k0 + col]));
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
  };
  load(0, 0);
  int stage = 0;
  for (int k0 = 0; k0 < Kp; k0 += BK) {
    if (k0 + BK < Kp) {
      load(stage ^ 1, k0 + BK);
      asm volatile("cp.async.wait_group 1;\n" ::: "memory");  // this stage's copies are done, the next may still fly
    } else {
      asm volatile("cp.async.wait_group 0;\n" ::: "memory");
    }
    __syncthreads();
    const signed char* as = As[stage];
    const signed char* bs = Bs[stage];
#pragma unroll
    for (int kk = 0; kk < BK; kk += 32) {
      unsigned af[4][4], bf[4][2];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const signed char* p = as + (wm + i * 16 + g) * LDS + kk + t * 4;
        af[i][0] = *reinterpret_cast<const unsigned*>(p);
        af[i][1] = *reinterpret_cast<const unsigned*>(p + 8 * LDS);
        af[i][2] = *reinterpret_cast<const unsigned*>(p + 16);
        af[i][3] = *reinterpret_cast<const unsigned*>(p + 8 * LDS + 16);
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const signed char* p = bs + (wn + j * 8 + g) * LDS + kk + t * 4;
        bf[j][0] = *reinterpret_cast<const unsigned*>(p);
        bf[j][1] = *reinterpret_cast<const unsigned*>(p + 16);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) mma16832(acc[i][j], af[i], bf[j]);
    }
    __syncthreads();  // everyone is done reading this stage before it is refilled
    stage ^= 1;
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int row = m0 + wm + i * 16 + g, col = n0 + wn + j * 8 + t * 2;
      *reinterpret_cast<int2*>(&C[(size_t)row * Np + col]) = make_int2(acc[i][j][0], acc[i][j][1]);
      *reinterpret_cast<int2*>(&C[(size_t)(row + 8) * Np + col]) = make_int2(acc[i][j][2], acc[i][j][3]);
    }
}

__global__ void gptqUpdateKernel(float* W, long long rows, long long cols, const float* err, long long c0, long long c1,
                                 const float* slab) {
  const long long bw = c1 - c0, width = cols - c1;
  const long long stride = (long long)gridDim.x * blockDim.x;
  for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < rows * width; idx += stride) {
    const long long r = idx / width, j = c1 + idx % width;
    float acc = 0;
    for (long long b = 0; b < bw; ++b) acc += err[r * bw + b] * slab[b * cols + j];
    W[r * cols + j] -= acc;
  }
}

__global__ void fillKernel(signed char* p, size_t n, unsigned seed) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    unsigned h = (unsigned)i * 2654435761u ^ seed;
    h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
    p[i] = (signed char)(h & 0xFF);
  }
}
__global__ void fillFloatKernel(float* p, size_t n) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = float((int)(i % 2001) - 1000) * 0.01f;
}

int gridFor(long long n, int block = 256) {
  long long g = (n + block - 1) / block;
  return int(g < 1 ? 1 : g > 65535 * 8 ? 65535 * 8 : g);
}

void ensureDevice() {
  int count = 0;
  CK(cudaGetDeviceCount(&count));
  if (count == 0) throw KernelError("CUDA: no device found");
}

size_t padTo(size_t v, size_t m) { return (v + m - 1) / m * m; }

}  // namespace

DeviceInfo deviceInfo() {
  DeviceInfo d;
  d.compiled = true;
  d.archs = QK_CUDA_ARCHS;
  cudaRuntimeGetVersion(&d.runtimeVersion);
  cudaDriverGetVersion(&d.driverVersion);
  cudaError_t e = cudaGetDeviceCount(&d.deviceCount);
  if (e != cudaSuccess) {
    d.deviceCount = 0;
    d.reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(e) + " (error " + std::to_string(int(e)) +
               (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice ? "; no NVIDIA driver or GPU on this machine)" : ")");
    cudaGetLastError();
    return d;
  }
  if (d.deviceCount == 0) { d.reason = "no CUDA device"; return d; }
  cudaDeviceProp p;
  e = cudaGetDeviceProperties(&p, 0);
  if (e != cudaSuccess) { d.reason = std::string("cudaGetDeviceProperties failed: ") + cudaGetErrorString(e); return d; }
  d.name = p.name; d.major = p.major; d.minor = p.minor; d.multiprocessors = p.multiProcessorCount;
  d.totalMemory = p.totalGlobalMem;
  size_t freeB = 0, totalB = 0;
  if (cudaMemGetInfo(&freeB, &totalB) == cudaSuccess) d.freeMemory = freeB;
  if (p.major < 8) { d.reason = "compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor) + " is below 8.0 (the int8 mma path needs Ampere or newer)"; return d; }
  d.available = true;
  return d;
}

void quantize(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax, int bits,
              uint8_t* out) {
  ensureDevice();
  const long long n = L.count();
  const size_t outBytes = bits == 8 ? size_t(n) : size_t((n + 1) / 2);
  Buf<float> dx(x, size_t(n)), ds(scales, size_t(L.scaleCount()));
  Buf<int32_t> dz(zps, size_t(L.scaleCount()));
  Buf<uint8_t> dout(outBytes);
  if (bits == 8 && L.axisLen == 1 && L.block <= 0 && n % 4 == 0)  // per-tensor: 16 bytes in, 4 out per thread
    quantizeTensorKernel<<<gridFor(n / 4), 256>>>(reinterpret_cast<const float4*>(dx.p), n / 4, scales[0], zps[0], qmin, qmax,
                                                  reinterpret_cast<char4*>(dout.p));
  else
    quantizeKernel<<<gridFor(bits == 8 ? n : (n + 1) / 2), 256>>>(dx.p, n, dl(L), ds.p, dz.p, qmin, qmax, bits, dout.p);
  CK(cudaGetLastError());
  dout.get(out);
}

void dequantize(const uint8_t* q, const Layout& L, const float* scales, const int32_t* zps, bool isSigned, int bits,
                float* out) {
  ensureDevice();
  const long long n = L.count();
  Buf<uint8_t> dq(q, bits == 8 ? size_t(n) : size_t((n + 1) / 2));
  Buf<float> ds(scales, size_t(L.scaleCount())), dout{size_t(n)};
  Buf<int32_t> dz(zps, size_t(L.scaleCount()));
  dequantizeKernel<<<gridFor(n), 256>>>(dq.p, n, dl(L), ds.p, dz.p, isSigned, bits, dout.p);
  CK(cudaGetLastError());
  dout.get(out);
}

void histogram(const float* x, int64_t n, double lo, double hi, int bins, double* counts, double* zeroNaN) {
  ensureDevice();
  Buf<float> dx(x, size_t(n));
  std::vector<unsigned> zero(size_t(bins), 0);
  Buf<unsigned> dc(zero.data(), size_t(bins));
  unsigned long long tally[2] = {0, 0};
  Buf<unsigned long long> dt(tally, zeroNaN ? 2 : 0);
  const size_t smem = bins <= 8192 ? size_t(bins) * 4 : 0;
  histogramKernel<<<std::min(gridFor(n), 1024), 256, smem>>>(dx.p, n, lo, hi, bins, dc.p, zeroNaN ? dt.p : nullptr);
  CK(cudaGetLastError());
  dc.get(zero.data());
  for (int b = 0; b < bins; ++b) counts[b] += zero[b];
  if (zeroNaN) {
    dt.get(tally);
    zeroNaN[0] += double(tally[0]), zeroNaN[1] += double(tally[1]);
  }
}

void fakeQuantForward(const float* x, const Layout& L, const float* scales, const int32_t* zps, int qmin, int qmax,
                      float* y, uint8_t* mask) {
  ensureDevice();
  const long long n = L.count();
  Buf<float> dx(x, size_t(n)), ds(scales, size_t(L.scaleCount())), dy{size_t(n)};
  Buf<int32_t> dz(zps, size_t(L.scaleCount()));
  Buf<uint8_t> dm(mask ? size_t(n) : 0);
  fakeQuantKernel<<<gridFor(n), 256>>>(dx.p, nullptr, n, dl(L), ds.p, dz.p, qmin, qmax, dy.p, mask ? dm.p : nullptr, nullptr);
  CK(cudaGetLastError());
  dy.get(y);
  if (mask) dm.get(mask);
}

void fakeQuantBackward(const float* x, const float* gy, const Layout& L, const float* scales, const int32_t* zps,
                       int qmin, int qmax, float* gx) {
  ensureDevice();
  const long long n = L.count();
  Buf<float> dx(x, size_t(n)), dg(gy, size_t(n)), ds(scales, size_t(L.scaleCount())), dgx{size_t(n)};
  Buf<int32_t> dz(zps, size_t(L.scaleCount()));
  fakeQuantKernel<<<gridFor(n), 256>>>(dx.p, dg.p, n, dl(L), ds.p, dz.p, qmin, qmax, nullptr, nullptr, dgx.p);
  CK(cudaGetLastError());
  dgx.get(gx);
}

void gemmS8(const int8_t* A, const int8_t* B, int64_t M, int64_t K, int64_t N, int32_t* C) {
  ensureDevice();
  const size_t Mp = padTo(size_t(M), BM), Np = padTo(size_t(N), BN), Kp = padTo(size_t(K), BK);
  std::vector<int8_t> Ap(Mp * Kp, 0), Bt(Np * Kp, 0);
  for (int64_t m = 0; m < M; ++m) std::memcpy(&Ap[size_t(m) * Kp], A + m * K, size_t(K));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) Bt[size_t(n) * Kp + size_t(k)] = B[k * N + n];
  Buf<int8_t> dA(Ap.data(), Ap.size()), dB(Bt.data(), Bt.size());
  Buf<int32_t> dC(Mp * Np);
  gemmS8Kernel<<<dim3(unsigned(Np / BN), unsigned(Mp / BM)), 256>>>(reinterpret_cast<const signed char*>(dA.p),
                                                                     reinterpret_cast<const signed char*>(dB.p), dC.p, int(Mp), int(Np), int(Kp));
  CK(cudaGetLastError());
  CK(cudaMemcpy2D(C, size_t(N) * 4, dC.p, Np * 4, size_t(N) * 4, size_t(M), cudaMemcpyDeviceToHost));
}

void gptqTrailingUpdate(float* W, int64_t rows, int64_t cols, const float* err, int64_t c0, int64_t c1, const float* hinv) {
  ensureDevice();
  const int64_t bw = c1 - c0;
  Buf<float> dW(W, size_t(rows * cols)), dE(err, size_t(rows * bw)), dH(hinv, size_t(bw * cols));
  gptqUpdateKernel<<<gridFor(rows * (cols - c1)), 256>>>(dW.p, rows, cols, dE.p, c0, c1, dH.p);
  CK(cudaGetLastError());
  dW.get(W);
}

namespace {
template <class F>
double timeMs(int iters, F&& f) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a)); CK(cudaEventCreate(&b));
  f();  // warm-up
  CK(cudaEventRecord(a));
  for (int i = 0; i < iters; ++i) f();
  CK(cudaEventRecord(b));
  CK(cudaEventSynchronize(b));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, a, b));
  cudaEventDestroy(a); cudaEventDestroy(b);
  return double(ms) / iters;
}
}  // namespace

Timing benchQuantize(int64_t n, int iters) {
  ensureDevice();
  n = n / 4 * 4;
  Buf<float> dx{size_t(n)};
  Buf<uint8_t> dq{size_t(n)};
  fillFloatKernel<<<1024, 256>>>(dx.p, size_t(n));
  Timing t;
  t.ms = timeMs(iters, [&] {
    quantizeTensorKernel<<<gridFor(n / 4), 256>>>(reinterpret_cast<const float4*>(dx.p), n / 4, 0.05f, 3, -128, 127, reinterpret_cast<char4*>(dq.p));
  });
  CK(cudaGetLastError());
  t.bytesOrOps = double(n) * 5;
  return t;
}

Timing benchCopy(int64_t n, int iters) {
  ensureDevice();
  Buf<float> a{size_t(n)}, b{size_t(n)};
  Timing t;
  t.ms = timeMs(iters, [&] { CK(cudaMemcpyAsync(b.p, a.p, size_t(n) * 4, cudaMemcpyDeviceToDevice)); });
  t.bytesOrOps = double(n) * 8;
  return t;
}

Timing benchGemm(int64_t M, int64_t K, int64_t N, int iters) {
  ensureDevice();
  const size_t Mp = padTo(size_t(M), BM), Np = padTo(size_t(N), BN), Kp = padTo(size_t(K), BK);
  Buf<int8_t> dA(Mp * Kp), dB(Np * Kp);
  Buf<int32_t> dC(Mp * Np);
  fillKernel<<<1024, 256>>>(reinterpret_cast<signed char*>(dA.p), Mp * Kp, 1);
  fillKernel<<<1024, 256>>>(reinterpret_cast<signed char*>(dB.p), Np * Kp, 2);
  Timing t;
  t.ms = timeMs(iters, [&] {
    gemmS8Kernel<<<dim3(unsigned(Np / BN), unsigned(Mp / BM)), 256>>>(reinterpret_cast<const signed char*>(dA.p),
                                                                       reinterpret_cast<const signed char*>(dB.p), dC.p, int(Mp), int(Np), int(Kp));
  });
  CK(cudaGetLastError());
  t.bytesOrOps = 2.0 * double(M) * double(N) * double(K);
  return t;
}

}  // namespace cuda
}  // namespace qk
