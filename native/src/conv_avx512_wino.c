/*
 * The Winograd kernels of conv_simd.inc for AVX-512 CPUs: 16-float vectors, register tiles of 6 pixels × 64 channels
 * (24 accumulators of the 32 zmm registers). The AVX-512 direct kernel lives in conv_avx512.c (masked loads for narrow
 * layers); compute.c calls these only when gemm_isa() is ISA_AVX512.
 */
#include "compute.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define VW 16
#define NVB 4
#define SIMD_NO_DIRECT
typedef __m512 vec;
#define SFX(name) name##_avx512
#define SIMD_FN __attribute__((target("avx512f")))
#define SIMD_INLINE __attribute__((target("avx512f"), always_inline)) static inline
#define vzero() _mm512_setzero_ps()
#define vset1(x) _mm512_set1_ps(x)
#define vload(p) _mm512_loadu_ps(p)
#define vstore(p, v) _mm512_storeu_ps((p), (v))
#define vadd(a, b) _mm512_add_ps((a), (b))
#define vsub(a, b) _mm512_sub_ps((a), (b))
#define vmul(a, b) _mm512_mul_ps((a), (b))
#define vfma(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define vmax(a, b) _mm512_max_ps((a), (b))
#define vmin(a, b) _mm512_min_ps((a), (b))

#include "conv_simd.inc"

#endif
