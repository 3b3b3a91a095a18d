// The Node-API binding. Arguments arrive already validated by lib/index.ts; this layer only unpacks
// them. Every kernel entry takes `async` first: true queues it on an AsyncWorker (off the JS thread)
// and returns a Promise; false runs it inline. Outputs are typed arrays the caller allocated.
#include <napi.h>

#include <functional>
#include <vector>

#include "common.h"
#include "cpu/features.h"
#include "cpu/gemm.h"
#include "cpu/gptq.h"
#include "cpu/quant.h"
#include "cpu/thread-pool.h"
#include "cuda/api.h"

namespace {

using qk::Layout;

class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, std::function<void()> fn, std::vector<Napi::ObjectReference> keep)
      : Napi::AsyncWorker(env, "quant-kernels"), fn_(std::move(fn)), keep_(std::move(keep)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  void Execute() override {
    try { fn_(); } catch (const std::exception& e) { SetError(e.what()); }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }
  Napi::Promise promise() { return deferred_.Promise(); }

 private:
  std::function<void()> fn_;
  std::vector<Napi::ObjectReference> keep_;  // typed arrays stay alive while the worker runs
  Napi::Promise::Deferred deferred_;
};

Napi::Value dispatch(const Napi::CallbackInfo& info, std::function<void()> fn) {
  Napi::Env env = info.Env();
  if (!info[0].ToBoolean().Value()) {
    try { fn(); } catch (const std::exception& e) { throw Napi::Error::New(env, e.what()); }
    return env.Undefined();
  }
  std::vector<Napi::ObjectReference> keep;
  for (size_t i = 1; i < info.Length(); ++i)
    if (info[i].IsObject()) keep.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
  auto* job = new Job(env, std::move(fn), std::move(keep));
  auto p = job->promise();
  job->Queue();
  return p;
}

template <class T>
T* ptr(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  auto ta = v.As<Napi::TypedArray>();
  return reinterpret_cast<T*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}
int64_t byteLen(const Napi::Value& v) { return int64_t(v.As<Napi::TypedArray>().ByteLength()); }
int64_t i64(const Napi::Value& v) { return v.As<Napi::Number>().Int64Value(); }
int i32(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }
double f64(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }
bool flag(const Napi::Value& v) { return v.ToBoolean().Value(); }
Layout layoutAt(const Napi::CallbackInfo& info, size_t i) {
  Layout L;
  L.outer = i64(info[i]); L.axisLen = i64(info[i + 1]); L.inner = i64(info[i + 2]); L.block = i64(info[i + 3]);
  return L;
}
qk::Impl implOf(const Napi::Value& v) { return qk::Impl(i32(v)); }
bool onCuda(const Napi::Value& v) { return i32(v) == 100; }  // impl code 100 = the CUDA device

Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  const auto& f = qk::cpuFeatures();
  auto o = Napi::Object::New(info.Env());
  o.Set("vendor", f.vendor); o.Set("brand", f.brand); o.Set("threads", qk::poolSize());
  o.Set("avx2", f.avx2); o.Set("fma", f.fma); o.Set("avx512f", f.avx512f); o.Set("avx512bw", f.avx512bw);
  o.Set("avx512vl", f.avx512vl); o.Set("avx512dq", f.avx512dq); o.Set("avx512vnni", f.avx512vnni);
  o.Set("avxVnni", f.avxvnni); o.Set("amxTile", f.amxTile); o.Set("amxInt8", f.amxInt8);
  o.Set("amxPermitted", f.amxPermitted); o.Set("amxNote", f.amxNote);
  return o;
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  const auto d = qk::cuda::deviceInfo();
  auto o = Napi::Object::New(info.Env());
  o.Set("compiled", d.compiled); o.Set("available", d.available); o.Set("reason", d.reason);
  o.Set("name", d.name); o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
  o.Set("multiprocessors", d.multiprocessors); o.Set("totalMemory", double(d.totalMemory));
  o.Set("freeMemory", double(d.freeMemory)); o.Set("driverVersion", d.driverVersion);
  o.Set("runtimeVersion", d.runtimeVersion); o.Set("deviceCount", d.deviceCount); o.Set("archs", d.archs);
  return o;
}

// quantize(async, x, scales, zps, outer, axisLen, inner, block, qmin, qmax, bits, out, impl, threads)
Napi::Value Quantize(const Napi::CallbackInfo& info) {
  auto x = ptr<float>(info[1]); auto s = ptr<float>(info[2]); auto z = ptr<int32_t>(info[3]);
  Layout L = layoutAt(info, 4);
  int qmin = i32(info[8]), qmax = i32(info[9]), bits = i32(info[10]);
  auto out = ptr<uint8_t>(info[11]);
  const bool cuda = onCuda(info[12]);
  auto impl = implOf(info[12]); int threads = i32(info[13]);
  return dispatch(info, [=] {
    if (cuda) qk::cuda::quantize(x, L, s, z, qmin, qmax, bits, out);
    else qk::quantize(x, L, s, z, qmin, qmax, bits, out, impl, threads);
  });
}

// dequantize(async, q, scales, zps, outer, axisLen, inner, block, signed, bits, out, impl, threads)
Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  auto q = ptr<uint8_t>(info[1]); auto s = ptr<float>(info[2]); auto z = ptr<int32_t>(info[3]);
  Layout L = layoutAt(info, 4);
  bool sgn = flag(info[8]); int bits = i32(info[9]);
  auto out = ptr<float>(info[10]);
  const bool cuda = onCuda(info[11]);
  auto impl = implOf(info[11]); int threads = i32(info[12]);
  return dispatch(info, [=] {
    if (cuda) qk::cuda::dequantize(q, L, s, z, sgn, bits, out);
    else qk::dequantize(q, L, s, z, sgn, bits, out, impl, threads);
  });
}

// minmax(async, x, outer, axisLen, inner, block, mins, maxs, impl, threads)
Napi::Value MinMax(const Napi::CallbackInfo& info) {
  auto x = ptr<float>(info[1]);
  Layout L = layoutAt(info, 2);
  auto mn = ptr<float>(info[6]); auto mx = ptr<float>(info[7]);
  auto impl = implOf(info[8]); int threads = i32(info[9]);
  return dispatch(info, [=] { qk::minmax(x, L, mn, mx, impl, threads); });
}

// histogram(async, x, lo, hi, counts, zeroNaN|null, impl, threads)
Napi::Value Histogram(const Napi::CallbackInfo& info) {
  auto x = ptr<float>(info[1]); int64_t n = byteLen(info[1]) / 4;
  double lo = f64(info[2]), hi = f64(info[3]);
  auto counts = ptr<double>(info[4]); int bins = int(byteLen(info[4]) / 8);
  auto zeroNaN = ptr<double>(info[5]);
  const bool cuda = onCuda(info[6]);
  auto impl = implOf(info[6]); int threads = i32(info[7]);
  return dispatch(info, [=] {
    if (cuda) qk::cuda::histogram(x, n, lo, hi, bins, counts, zeroNaN);
    else qk::histogram(x, n, lo, hi, bins, counts, zeroNaN, impl, threads);
  });
}

// fakeQuantForward(async, x, scales, zps, outer, axisLen, inner, block, qmin, qmax, y, mask|null, impl, threads)
Napi::Value FakeQuantForward(const Napi::CallbackInfo& info) {
  auto x = ptr<float>(info[1]); auto s = ptr<float>(info[2]); auto z = ptr<int32_t>(info[3]);
  Layout L = layoutAt(info, 4);
  int qmin = i32(info[8]), qmax = i32(info[9]);
  auto y = ptr<float>(info[10]); auto mask = ptr<uint8_t>(info[11]);
  const bool cuda = onCuda(info[12]);
  auto impl = implOf(info[12]); int threads = i32(info[13]);
  return dispatch(info, [=] {
    if (cuda) qk::cuda::fakeQuantForward(x, L, s, z, qmin, qmax, y, mask);
    else qk::fakeQuantForward(x, L, s, z, qmin, qmax, y, mask, impl, threads);
  });
}

// fakeQuantBackward(async, x, gy, scales, zps, outer, axisLen, inner, block, qmin, qmax, gx, impl, threads)
Napi::Value FakeQuantBackward(const Napi::CallbackInfo& info) {
  auto x = ptr<float>(info[1]); auto gy = ptr<float>(info[2]); auto s = ptr<float>(info[3]); auto z = ptr<int32_t>(info[4]);
  Layout L = layoutAt(info, 5);
  int qmin = i32(info[9]), qmax = i32(info[10]);
  auto gx = ptr<float>(info[11]);
  const bool cuda = onCuda(info[12]);
  auto impl = implOf(info[12]); int threads = i32(info[13]);
  return dispatch(info, [=] {
    if (cuda) qk::cuda::fakeQuantBackward(x, gy, L, s, z, qmin, qmax, gx);
    else qk::fakeQuantBackward(x, gy, L, s, z, qmin, qmax, gx, impl, threads);
  });
}

// copyBytes(async, dst, src, threads)
Napi::Value CopyBytes(const Napi::CallbackInfo& info) {
  auto dst = ptr<uint8_t>(info[1]); auto src = ptr<uint8_t>(info[2]);
  int64_t n = std::min(byteLen(info[1]), byteLen(info[2])); int threads = i32(info[3]);
  return dispatch(info, [=] { qk::copyBytes(dst, src, n, threads); });
}

// packB(async, B, K, N, packed, colSums)
Napi::Value PackB(const Napi::CallbackInfo& info) {
  auto B = ptr<int8_t>(info[1]); int64_t K = i64(info[2]), N = i64(info[3]);
  auto packed = ptr<uint8_t>(info[4]); auto sums = ptr<int32_t>(info[5]);
  return dispatch(info, [=] { qk::packB(B, K, N, packed, sums); });
}

Napi::Value PackedBSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(qk::packedBSize(i64(info[0]), i64(info[1]))));
}

// gemm(async, A, aSigned, aZp, packedB, colSums, bZp, M, K, N, C, impl, threads)
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  auto A = ptr<uint8_t>(info[1]); bool aSigned = flag(info[2]); int32_t aZp = i32(info[3]);
  auto packed = ptr<uint8_t>(info[4]); auto sums = ptr<int32_t>(info[5]); int32_t bZp = i32(info[6]);
  int64_t M = i64(info[7]), K = i64(info[8]), N = i64(info[9]);
  auto C = ptr<int32_t>(info[10]); auto impl = implOf(info[11]); int threads = i32(info[12]);
  return dispatch(info, [=] { qk::gemm(A, aSigned, aZp, packed, sums, bZp, M, K, N, C, impl, threads); });
}

Napi::Value GemmImpl(const Napi::CallbackInfo& info) {
  try {
    return Napi::Number::New(info.Env(), int(qk::gemmChooseImpl(implOf(info[0]), i64(info[1]))));
  } catch (const std::exception& e) { throw Napi::Error::New(info.Env(), e.what()); }
}

// gemmRef(async, A, aSigned, aZp, B, bZp, M, K, N, C): the scalar twin on the unpacked operands
Napi::Value GemmRef(const Napi::CallbackInfo& info) {
  auto A = ptr<uint8_t>(info[1]); bool aSigned = flag(info[2]); int32_t aZp = i32(info[3]);
  auto B = ptr<int8_t>(info[4]); int32_t bZp = i32(info[5]);
  int64_t M = i64(info[6]), K = i64(info[7]), N = i64(info[8]); auto C = ptr<int32_t>(info[9]);
  return dispatch(info, [=] { qk::ref::gemm(A, aSigned, aZp, B, bZp, M, K, N, C); });
}

// cudaGemmS8(async, A, B, M, K, N, C)
Napi::Value CudaGemmS8(const Napi::CallbackInfo& info) {
  auto A = ptr<int8_t>(info[1]); auto B = ptr<int8_t>(info[2]);
  int64_t M = i64(info[3]), K = i64(info[4]), N = i64(info[5]); auto C = ptr<int32_t>(info[6]);
  return dispatch(info, [=] { qk::cuda::gemmS8(A, B, M, K, N, C); });
}

// hessianAccumulate(async, H, X, rows, cols, threads): H[cols x cols] += X^T X (float64 accumulation)
Napi::Value HessianAccumulate(const Napi::CallbackInfo& info) {
  auto H = ptr<double>(info[1]); auto X = ptr<float>(info[2]);
  int64_t rows = i64(info[3]), cols = i64(info[4]); int threads = i32(info[5]);
  return dispatch(info, [=] { qk::hessianAccumulate(H, X, rows, cols, threads); });
}

// gptq(async, W, rows, cols, H, bits, groupSize, symmetric, damp, blockSize, actOrder, q, scales, zps, deq, device, threads)
Napi::Value Gptq(const Napi::CallbackInfo& info) {
  qk::GptqArgs a;
  a.weight = ptr<float>(info[1]); a.rows = i64(info[2]); a.cols = i64(info[3]); a.hessian = ptr<float>(info[4]);
  a.bits = i32(info[5]); a.groupSize = i64(info[6]); a.symmetric = flag(info[7]); a.damp = f64(info[8]);
  a.blockSize = i64(info[9]); a.actOrder = flag(info[10]);
  a.q = ptr<int8_t>(info[11]); a.scales = ptr<float>(info[12]); a.zeroPoints = ptr<int32_t>(info[13]);
  a.dequantized = ptr<float>(info[14]); a.cuda = onCuda(info[15]); a.threads = i32(info[16]);
  return dispatch(info, [=] { qk::gptq(a); });
}

// cudaBench(kind, a, b, c, iters) -> { ms }: device-resident timing for the bench only
Napi::Value CudaBench(const Napi::CallbackInfo& info) {
  std::string kind = info[0].As<Napi::String>();
  qk::cuda::Timing t;
  try {
    if (kind == "quantize") t = qk::cuda::benchQuantize(i64(info[1]), i32(info[4]));
    else if (kind == "copy") t = qk::cuda::benchCopy(i64(info[1]), i32(info[4]));
    else t = qk::cuda::benchGemm(i64(info[1]), i64(info[2]), i64(info[3]), i32(info[4]));
  } catch (const std::exception& e) { throw Napi::Error::New(info.Env(), e.what()); }
  auto o = Napi::Object::New(info.Env());
  o.Set("ms", t.ms); o.Set("work", t.bytesOrOps);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", 2);  // 2: histogram takes the zero/NaN tally (lib/index.ts refuses a binary of another version)
#ifdef QK_HAVE_CUDA
  exports.Set("cudaCompiled", true);
#else
  exports.Set("cudaCompiled", false);
#endif
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeatures));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo));
  exports.Set("quantize", Napi::Function::New(env, Quantize));
  exports.Set("dequantize", Napi::Function::New(env, Dequantize));
  exports.Set("minmax", Napi::Function::New(env, MinMax));
  exports.Set("histogram", Napi::Function::New(env, Histogram));
  exports.Set("fakeQuantForward", Napi::Function::New(env, FakeQuantForward));
  exports.Set("fakeQuantBackward", Napi::Function::New(env, FakeQuantBackward));
  exports.Set("copyBytes", Napi::Function::New(env, CopyBytes));
  exports.Set("packB", Napi::Function::New(env, PackB));
  exports.Set("packedBSize", Napi::Function::New(env, PackedBSize));
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("gemmImpl", Napi::Function::New(env, GemmImpl));
  exports.Set("gemmRef", Napi::Function::New(env, GemmRef));
  exports.Set("cudaGemmS8", Napi::Function::New(env, CudaGemmS8));
  exports.Set("hessianAccumulate", Napi::Function::New(env, HessianAccumulate));
  exports.Set("gptq", Napi::Function::New(env, Gptq));
  exports.Set("cudaBench", Napi::Function::New(env, CudaBench));
  return exports;
}

}  // namespace

NODE_API_MODULE(quant_kernels, Init)
