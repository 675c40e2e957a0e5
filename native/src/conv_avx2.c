/*
 * The convolution kernels of conv_simd.inc for AVX2+FMA CPUs: 8-float vectors, register tiles of 6 pixels × 16
 * channels (12 accumulators of the 16 ymm registers). Compiled with function target attributes so the rest of the addon
 * stays baseline x86-64; compute.c calls these only when gemm_isa() is ISA_AVX2. Other architectures compile nothing.
 */
#include "compute.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define VW 8
#define NVB 2
typedef __m256 vec;
#define SFX(name) name##_avx2
#define SIMD_FN __attribute__((target("avx2,fma")))
#define SIMD_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline
#define vzero() _mm256_setzero_ps()
#define vset1(x) _mm256_set1_ps(x)
#define vload(p) _mm256_loadu_ps(p)
#define vstore(p, v) _mm256_storeu_ps((p), (v))
#define vadd(a, b) _mm256_add_ps((a), (b))
#define vsub(a, b) _mm256_sub_ps((a), (b))
#define vmul(a, b) _mm256_mul_ps((a), (b))
#define vfma(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define vmax(a, b) _mm256_max_ps((a), (b))
#define vmin(a, b) _mm256_min_ps((a), (b))

#include "conv_simd.inc"

#endif
