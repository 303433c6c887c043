/*
 * AVX-512 (F, DQ, BW, VL) build of the portable kernels, 512-bit vectors preferred. Target set
 * for this file only; used only after CPUID and XGETBV confirmed ZMM state is enabled.
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,prefer-vector-width=512")
#define SF_ISA avx512
#define SF_LANES_F32 32 /* two 16-float vectors: measured faster than four on 1000-long rows */
#define SF_LANES_F64 16
#include "kernels_portable.h"
#endif
