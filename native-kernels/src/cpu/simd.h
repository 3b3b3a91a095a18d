// Function-level target attributes: the SIMD paths are compiled for their ISA inside one binary built
// for baseline x86-64, and only called after cpuid says the CPU has it.
#pragma once
#define QK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define QK_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")))
#define QK_VNNI512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define QK_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#define QK_AMX __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,amx-tile,amx-int8")))
