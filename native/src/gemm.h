/*
 * The addon's own single-precision GEMM (gemm.c): packed operands, cache blocking and register-tiled micro-kernels for
 * AVX-512, AVX2+FMA and portable C, picked at run time from the CPU's features (or forced lower with gemm_set_isa).
 * Single-threaded: the callers (compute.c) split work across the thread pool and call it inside each task.
 */
#ifndef UOL_GEMM_H
#define UOL_GEMM_H

#include <stdint.h>

/* Instruction-set levels of the kernels, lowest first. */
enum { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };

/* The best level this CPU (and this build) supports. */
int gemm_isa_detected(void);

/* The level in effect (the detected one unless lowered by gemm_set_isa). */
int gemm_isa(void);

/* Sets the level: -1 = auto (detected); a level above the detected one is clamped to it. Returns the level in effect.
 * Not thread-safe against kernels running concurrently: call between kernels. */
int gemm_set_isa(int isa);

/* "avx512", "avx2" or "portable". */
const char *gemm_isa_name(int isa);

/*
 * C[m,n] = op(A)[m,k] · op(B)[k,n] (beta 0: C is overwritten). Row-major: op(A)(i,p) = a[i·lda + p], or a[p·lda + i]
 * when ta; op(B)(p,j) = b[p·ldb + j], or b[j·ldb + p] when tb; C(i,j) = c[i·ldc + j]. Returns 0, or -1 when out of
 * memory for the packing buffers (C is then untouched).
 */
int sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
          int64_t ldc);

/*
 * Like sgemm (no transposes) with B already packed in the conv filter layout: panels of 64 columns, [ceil(N/64)][K][64]
 * (pack_conv_filter in compute.h, zero-padded), where this call uses columns [j0, j0 + n) of the whole K × N matrix;
 * j0 must be a multiple of 64. B is then read in place — no copy of the weights.
 */
int sgemm_prepacked(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *bp, int64_t j0, float *c,
                    int64_t ldc);

#endif
