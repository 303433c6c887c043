/*
 * The memory-bandwidth yardstick of the benchmarks: copy bytes with non-temporal stores, which
 * write around the cache the way a softmax of data far larger than cache has to. SSE2 is part
 * of every x86-64 CPU, so this needs no dispatch; elsewhere it is a plain memcpy.
 */
#include <stdint.h>
#include <string.h>

#include "softmax_fast.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>

void sf_stream_copy(const void *src, void *dst, size_t bytes) {
    const unsigned char *s = (const unsigned char *)src;
    unsigned char *d = (unsigned char *)dst;
    /* head: up to the first 16-byte boundary of the destination */
    size_t head = (16 - ((uintptr_t)d & 15)) & 15;
    if (head > bytes) head = bytes;
    memcpy(d, s, head);
    s += head;
    d += head;
    bytes -= head;
    size_t i = 0;
    for (; i + 64 <= bytes; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + i + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + i + 48));
        _mm_stream_si128((__m128i *)(d + i), a);
        _mm_stream_si128((__m128i *)(d + i + 16), b);
        _mm_stream_si128((__m128i *)(d + i + 32), c);
        _mm_stream_si128((__m128i *)(d + i + 48), e);
    }
    memcpy(d + i, s + i, bytes - i);
}

void sf_stream_fence(void) { _mm_sfence(); }
#else
void sf_stream_copy(const void *src, void *dst, size_t bytes) { memcpy(dst, src, bytes); }
void sf_stream_fence(void) {}
#endif
