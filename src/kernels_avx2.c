/*
 * AVX2 + FMA build of the portable kernels. The target is set here, for this file only: the
 * rest of the library stays baseline x86-64, and dispatch.c calls into this table only after
 * CPUID and XGETBV said the CPU and the OS support AVX2 and FMA.
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC target("avx2,fma")
#define SF_ISA avx2
#define SF_LANES_F32 32 /* four 8-float vectors: independent accumulators hide FP latency */
#define SF_LANES_F64 16
#include "kernels_portable.h"
#endif
