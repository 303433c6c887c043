/*
 * Portable kernels built for the baseline CPU (SSE2 on x86-64, anything elsewhere): the fallback
 * on every machine and the readable reference for the SIMD builds.
 *
 * Plain C written for the auto-vectorizer: the hot loops run over small "lane" arrays of fixed
 * width so the compiler keeps several independent accumulators in vector registers without
 * being allowed to reassociate floating-point sums (no -ffast-math: it would break the NaN
 * semantics and the rounding trick of exp_portable.h).
 */
#define SF_ISA scalar
#define SF_LANES_F32 16
#define SF_LANES_F64 8
#define SF_DEFINE_SHARED 1 /* the dtype helpers that do not depend on the ISA live here */
#include "kernels_portable.h"
