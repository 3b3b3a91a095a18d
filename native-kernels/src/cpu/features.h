// What the CPU can do, read once with cpuid (and, for AMX, the Linux permission to use tile data).
#pragma once
#include <string>

namespace qk {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
  bool avxvnni = false;
  bool amxTile = false, amxInt8 = false;
  bool amxPermitted = false;   // arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) succeeded
  std::string amxNote;         // why AMX is not usable, when the CPU has it
  std::string vendor, brand;
  int threads = 1;
  bool avx512() const { return avx512f && avx512bw && avx512vl && avx512dq; }
  bool vnni512() const { return avx512() && avx512vnni; }
  bool amx() const { return amxTile && amxInt8 && amxPermitted; }
};

const CpuFeatures& cpuFeatures();

}  // namespace qk
