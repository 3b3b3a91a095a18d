#include "features.h"

#include <cpuid.h>
#include <cstring>
#include <thread>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace qk {
namespace {

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  unsigned hw = std::thread::hardware_concurrency();
  f.threads = hw ? int(hw) : 1;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned maxLeaf = a;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4); std::memcpy(vendor + 4, &d, 4); std::memcpy(vendor + 8, &c, 4);
  f.vendor = vendor;
  __get_cpuid(1, &a, &b, &c, &d);
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12), f16c = c & (1u << 29), avx = c & (1u << 28);
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymmOs = (xcr0 & 0x6) == 0x6;
  const bool zmmOs = (xcr0 & 0xE6) == 0xE6;
  const bool tileOs = (xcr0 & (3ull << 17)) == (3ull << 17);
  if (maxLeaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = avx && ymmOs && (b & (1u << 5));
    f.fma = f.avx2 && fma;
    f.f16c = f.avx2 && f16c;
    f.avx512f = zmmOs && (b & (1u << 16));
    f.avx512dq = zmmOs && (b & (1u << 17));
    f.avx512bw = zmmOs && (b & (1u << 30));
    f.avx512vl = zmmOs && (b & (1u << 31));
    f.avx512vnni = zmmOs && (c & (1u << 11));
    f.amxTile = d & (1u << 24);
    f.amxInt8 = d & (1u << 25);
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    f.avxvnni = ymmOs && (a1 & (1u << 4));
  }
  if (f.amxTile && f.amxInt8) {
#if defined(__linux__)
    // Linux >= 5.16 keeps AMX tile data off until a process asks for it (ARCH_REQ_XCOMP_PERM = 0x1023,
    // XFEATURE_XTILEDATA = 18); without the grant the first tile instruction raises SIGILL.
    long rc = syscall(SYS_arch_prctl, 0x1023, 18);
    if (rc == 0) {
      unsigned long bitmask = 0;
      syscall(SYS_arch_prctl, 0x1022, &bitmask);  // ARCH_GET_XCOMP_PERM
      f.amxPermitted = (bitmask & (1ul << 18)) != 0;
      if (!f.amxPermitted) f.amxNote = "the kernel granted the request but XTILEDATA is not in the permitted set";
    } else {
      f.amxNote = "arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) was refused (kernel older than 5.16 or AMX disabled)";
    }
    if (f.amxPermitted && !tileOs) f.amxPermitted = false, f.amxNote = "the OS has not enabled tile state in XCR0";
#else
    f.amxNote = "AMX needs Linux (tile permission request)";
#endif
  }
  char brand[49] = {};
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002 + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i, &a, 4); std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4); std::memcpy(brand + 16 * i + 12, &d, 4);
    }
  }
  f.brand = brand;
  while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
  while (!f.brand.empty() && f.brand.front() == ' ') f.brand.erase(0, 1);
  return f;
}

}  // namespace

const CpuFeatures& cpuFeatures() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace qk
