/*
 * CPU detection and the kernel table. CPUID says what the core implements; XGETBV says whether
 * the OS saves the wider registers on a context switch. Both are needed before a level is used.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "softmax_fast.h"
#include "exp_portable.h"

#if defined(__x86_64__) || defined(_M_X64)
#define SF_X86 1
#if defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
static void sf_cpuid(int leaf, int sub, unsigned r[4]) {
    int v[4];
    __cpuidex(v, leaf, sub);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
}
static unsigned long long sf_xgetbv0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void sf_cpuid(int leaf, int sub, unsigned r[4]) {
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}
static unsigned long long sf_xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif
#endif

static const char *const sf_isa_names[SF_NUM_ISAS] = {"scalar", "avx2", "avx512"};

const char *sf_isa_name(int isa) {
    return isa >= 0 && isa < SF_NUM_ISAS ? sf_isa_names[isa] : "unknown";
}

int sf_cpu_isa_mask(void) {
    int mask = 1 << SF_ISA_SCALAR;
#ifdef SF_X86
    unsigned r[4];
    sf_cpuid(0, 0, r);
    const unsigned max_leaf = r[0];
    if (max_leaf < 7) return mask;
    sf_cpuid(1, 0, r);
    const int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    const int f16c = (r[2] >> 29) & 1; /* the avx2 and avx512 tables convert float16 with it */
    if (!(osxsave && avx)) return mask;
    const unsigned long long xcr0 = sf_xgetbv0();
    const int os_ymm = (xcr0 & 0x6) == 0x6;    /* XMM and YMM state */
    const int os_zmm = (xcr0 & 0xe6) == 0xe6;  /* plus opmask and both ZMM halves */
    sf_cpuid(7, 0, r);
    const int avx2 = (r[1] >> 5) & 1, avx512f = (r[1] >> 16) & 1;
    const int avx512dq = (r[1] >> 17) & 1, avx512bw = (r[1] >> 30) & 1, avx512vl = (r[1] >> 31) & 1;
    if (os_ymm && avx2 && fma && f16c) mask |= 1 << SF_ISA_AVX2;
    if (os_zmm && (mask & (1 << SF_ISA_AVX2)) && avx512f && avx512dq && avx512bw && avx512vl)
        mask |= 1 << SF_ISA_AVX512;
#endif
    return mask;
}

int sf_cpu_has_avx512bf16(void) {
#ifdef SF_X86
    static int cached = -1; /* computed once; a race only computes the same answer twice */
    if (cached >= 0) return cached;
    int has = 0;
    if (sf_cpu_isa_mask() & (1 << SF_ISA_AVX512)) {
        unsigned r[4];
        sf_cpuid(7, 0, r);
        if (r[0] >= 1) { /* leaf 7 sub-leaf 1 exists: EAX bit 5 is AVX512_BF16 */
            sf_cpuid(7, 1, r);
            has = (r[0] >> 5) & 1;
        }
    }
    cached = has;
    return has;
#else
    return 0;
#endif
}

const sf_kernels *sf_kernels_for_isa(int isa) {
    switch (isa) {
    case SF_ISA_SCALAR: return &sf_kernels_scalar;
#if SF_HAVE_X86_SIMD_BUILDS
    case SF_ISA_AVX2: return &sf_kernels_avx2;
    case SF_ISA_AVX512: return &sf_kernels_avx512;
#endif
    default: return NULL;
    }
}

int sf_best_isa(void) {
    const int mask = sf_cpu_isa_mask();
    for (int isa = SF_NUM_ISAS - 1; isa > 0; isa--)
        if ((mask >> isa & 1) && sf_kernels_for_isa(isa)) return isa;
    return SF_ISA_SCALAR;
}

double sf_exp_of_diff(double a, double b) {
    if (!isfinite(a) || !isfinite(b)) return exp(a - b);
    double lo;
    const double hi = f64_two_diff(a, b, &lo);
    return exp(hi) * (1.0 + lo); /* |lo| <= ulp(hi) / 2: exp(lo) = 1 + lo to within u^2 */
}

double sf_exp_of_diff2(double a, double b, double *lo) {
#if LDBL_MANT_DIG > DBL_MANT_DIG
    if (isfinite(a) && isfinite(b)) {
        const long double e = expl((long double)a - (long double)b);
        const double hi = (double)e;
        *lo = (double)(e - (long double)hi);
        return hi;
    }
#endif
    *lo = 0.0;
    return sf_exp_of_diff(a, b);
}

double sf_inverse2(double s, double *lo) {
    const double r = 1.0 / s;
    /* 1 - s r is exact in one FMA; dividing it by s gives the residual to ~2^-53 of itself */
    *lo = isfinite(r) && r != 0.0 ? fma(-s, r, 1.0) / s : 0.0;
    return r;
}

double sf_log1p2(double rest, double *lo) {
#if LDBL_MANT_DIG > DBL_MANT_DIG
    const long double l = log1pl((long double)rest);
    const double hi = (double)l;
    *lo = isfinite(hi) ? (double)(l - (long double)hi) : 0.0;
    return hi;
#else
    *lo = 0.0;
    return log1p(rest);
#endif
}

sf_partial sf_merge_partials(sf_partial a, sf_partial b) {
    sf_partial r;
    if (a.max != a.max || b.max != b.max) {
        r.max = r.sum = r.rest = NAN;
        return r;
    }
    r.max = a.max > b.max ? a.max : b.max;
    if (r.max == -INFINITY) { /* both slices hold only -inf */
        r.sum = a.sum + b.sum;
        r.rest = r.sum - 1.0;
        return r;
    }
    const double fa = a.max == r.max ? 1.0 : sf_exp_of_diff(a.max, r.max);
    const double fb = b.max == r.max ? 1.0 : sf_exp_of_diff(b.max, r.max);
    r.sum = a.sum * fa + b.sum * fb;
    /* the 1 of the merged sum is the 1 of a side holding the max: no rounding of it */
    r.rest = a.max == r.max ? a.rest + b.sum * fb : b.rest + a.sum * fa;
    return r;
}

sf_partial sf_merge_all(const sf_partial *p, ptrdiff_t count) {
    double M = -INFINITY;
    int special = 0;
    for (ptrdiff_t i = 0; i < count; i++) {
        special |= p[i].max != p[i].max || !isfinite(p[i].sum);
        M = p[i].max > M ? p[i].max : M;
    }
    if (special || !isfinite(M)) { /* DESIGN section 3's answers: the pairwise rule has them */
        sf_partial r = {-INFINITY, 0.0, -1.0};
        for (ptrdiff_t i = 0; i < count; i++) r = sf_merge_partials(r, p[i]);
        return r;
    }
    /* sum = (number of partials at the max) + their rests + the others rescaled, in one
     * compensated sum: pairwise merging would round the running sum once per partial
     * (1024 blocks of a 2^24 row: 3.8 ulp on float64 log_softmax) */
    double at_max = 0.0, hi = 0.0, lo = 0.0;
    for (ptrdiff_t i = 0; i < count; i++) {
        if (p[i].max == M) {
            at_max += 1.0;
            sf_acc_add(&hi, &lo, p[i].rest);
        } else {
            double s = p[i].sum, c = 0.0;
            sf_acc_scale(&s, &c, p[i].max, M);
            sf_acc_add(&hi, &lo, s);
            lo += c;
        }
    }
    sf_partial r = {M, at_max + (hi + lo), (at_max - 1.0) + (hi + lo)};
    return r;
}

sf_partial sf_merge_extended(sf_partial a, sf_partial b) {
    sf_partial r;
    r.max = a.max > b.max ? a.max : b.max;
    r.sum = ldexp(a.sum, (int)(a.max - r.max)) + ldexp(b.sum, (int)(b.max - r.max));
    r.rest = 0.0;
    return r;
}

#if defined(_MSC_VER) && !defined(__clang__)
#define SF_THREAD_LOCAL __declspec(thread)
#else
#define SF_THREAD_LOCAL _Thread_local
#endif
static SF_THREAD_LOCAL void *sf_scratch_buf;
static SF_THREAD_LOCAL size_t sf_scratch_cap;

/* 64-byte aligned: vector loads and stores of a buffer that malloc aligns to 16 bytes cross
 * a cache line every time (a 16-bit softmax of 1 x 128256 took 37 instead of 28 us) */
#ifdef _WIN32
#include <malloc.h>
static void *sf_alloc64(size_t bytes) { return _aligned_malloc(bytes, 64); }
static void sf_free64(void *p) { _aligned_free(p); }
#else
static void *sf_alloc64(size_t bytes) {
    void *p = NULL;
    return posix_memalign(&p, 64, bytes) == 0 ? p : NULL;
}
static void sf_free64(void *p) { free(p); }
#endif

void *sf_scratch_get(size_t bytes) {
    if (bytes > SF_SCRATCH_KEEP) return sf_alloc64(bytes);
    if (bytes > sf_scratch_cap || sf_scratch_buf == NULL) {
        sf_free64(sf_scratch_buf);
        sf_scratch_cap = bytes < 65536 ? 65536 : bytes;
        sf_scratch_buf = sf_alloc64(sf_scratch_cap);
        if (sf_scratch_buf == NULL) sf_scratch_cap = 0;
    }
    return sf_scratch_buf;
}

void sf_scratch_release(void *p) {
    if (p != sf_scratch_buf) sf_free64(p);
}

#ifdef _OPENMP
#include <omp.h>
int sf_omp_max_threads(void) { return omp_get_max_threads(); }
int sf_omp_thread_count(void) { return omp_get_num_threads(); }
int sf_have_openmp(void) { return 1; }
/* A barrier of the enclosing parallel region (an orphaned directive binds to it): Cython's
 * prange inside `with parallel()` ends with nowait, and has no barrier statement of its own. */
void sf_omp_barrier(void) {
#pragma omp barrier
}
#else
void sf_omp_barrier(void) {}
int sf_omp_max_threads(void) { return 1; }
int sf_omp_thread_count(void) { return 1; }
int sf_have_openmp(void) { return 0; }
#endif
