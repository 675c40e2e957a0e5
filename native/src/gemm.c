/*
 * The addon's own SGEMM (see gemm.h). Hand-written so that the addon needs nothing but a C compiler: no system BLAS,
 * one binary for every x86-64 CPU (each ISA's code is compiled with a target attribute and picked at run time).
 *
 * Structure (the classic packed-GEMM design of Goto and van de Geijn, "Anatomy of high-performance matrix
 * multiplication", ACM TOMS 2008):
 *   for jc over N in NC columns:  for pc over K in KC:  pack B[pc:+KC, jc:+NC] into KC × NR panels
 *     for ic over M in MC rows:  pack A[ic:+MC, pc:+KC] into MR × KC panels
 *       for jr over the B panels, ir over the A panels:  micro-kernel: C[MR × NR] (+)= Ã_ir · B̃_jr
 * Packing makes every operand layout (transposed or not, any leading dimension) one contiguous stream per kernel call,
 * and zero-pads the edges so the kernel always computes a full tile (edge tiles go through a small buffer).
 *
 * Micro-kernels (register tiles; accumulators stay in registers for the whole KC loop):
 *   AVX-512:  6 × 64  (24 zmm accumulators, 4 B vectors, A broadcast from memory)
 *   AVX2+FMA: 6 × 16  (12 ymm accumulators, 2 B vectors)
 *   portable: 4 × 16  plain C over fixed-size arrays, which compilers vectorise for the baseline ISA (SSE2 on x86-64,
 *             NEON on AArch64); a NEON kernel would be one more entry in `kernels` with NR dividing 64.
 * NR divides 64, so a B pre-packed in 64-column panels (the conv filter layout) is read in place by every kernel.
 */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define UOL_X86 1
#include <immintrin.h>
#else
#define UOL_X86 0
#endif

#define KC 256
#define MC_ROWS 120 /* multiple of every MR (4, 6) */
#define NC_COLS 1024 /* multiple of 64 */
#define MAX_MR 6
#define MAX_NR 64

/* C tile (MR × NR, row stride ldc) = (accumulate ? C : 0) + Σ_p a[p·MR + i] · b[p·bs + j] over p < kc. */
typedef void (*ukernel_fn)(int64_t kc, const float *a, const float *b, int64_t bs, float *c, int64_t ldc, int accumulate);

typedef struct {
  int mr, nr;
  ukernel_fn fn;
} kernel_t;

/* --- portable ------------------------------------------------------------------------------------------------ */

static void uk_portable(int64_t kc, const float *a, const float *b, int64_t bs, float *c, int64_t ldc, int accumulate) {
  float acc0[16] = {0}, acc1[16] = {0}, acc2[16] = {0}, acc3[16] = {0};
  for (int64_t p = 0; p < kc; p++, a += 4, b += bs) {
    const float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    for (int j = 0; j < 16; j++) {
      const float bj = b[j];
      acc0[j] += a0 * bj;
      acc1[j] += a1 * bj;
      acc2[j] += a2 * bj;
      acc3[j] += a3 * bj;
    }
  }
  float *acc[4] = {acc0, acc1, acc2, acc3};
  for (int i = 0; i < 4; i++) {
    float *ci = c + i * ldc;
    if (accumulate)
      for (int j = 0; j < 16; j++) ci[j] += acc[i][j];
    else
      for (int j = 0; j < 16; j++) ci[j] = acc[i][j];
  }
}

/* --- AVX2 + FMA ---------------------------------------------------------------------------------------------- */

#if UOL_X86
__attribute__((target("avx2,fma"))) static void uk_avx2(int64_t kc, const float *a, const float *b, int64_t bs, float *c,
                                                         int64_t ldc, int accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#define FMA_ROW8(i)                                                                                                    \
  do {                                                                                                                 \
    const __m256 x = _mm256_broadcast_ss(a + i);                                                                       \
    c##i##0 = _mm256_fmadd_ps(x, b0, c##i##0);                                                                         \
    c##i##1 = _mm256_fmadd_ps(x, b1, c##i##1);                                                                         \
  } while (0)
  for (int64_t p = 0; p < kc; p++, a += 6, b += bs) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    FMA_ROW8(0);
    FMA_ROW8(1);
    FMA_ROW8(2);
    FMA_ROW8(3);
    FMA_ROW8(4);
    FMA_ROW8(5);
  }
#undef FMA_ROW8
  __m256 r[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  for (int i = 0; i < 6; i++)
    for (int h = 0; h < 2; h++) {
      float *dst = c + i * ldc + 8 * h;
      __m256 v = r[2 * i + h];
      if (accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(dst));
      _mm256_storeu_ps(dst, v);
    }
}

/* --- AVX-512 ------------------------------------------------------------------------------------------------- */

#define FMA_ROW(i)                                                                                                     \
  do {                                                                                                                 \
    const __m512 x = _mm512_set1_ps(a[i]);                                                                             \
    r##i##0 = _mm512_fmadd_ps(x, b0, r##i##0);                                                                         \
    r##i##1 = _mm512_fmadd_ps(x, b1, r##i##1);                                                                         \
    r##i##2 = _mm512_fmadd_ps(x, b2, r##i##2);                                                                         \
    r##i##3 = _mm512_fmadd_ps(x, b3, r##i##3);                                                                         \
  } while (0)

__attribute__((target("avx512f"))) static void uk_avx512(int64_t kc, const float *a, const float *b, int64_t bs, float *c,
                                                          int64_t ldc, int accumulate) {
  __m512 r00 = _mm512_setzero_ps(), r01 = r00, r02 = r00, r03 = r00, r10 = r00, r11 = r00, r12 = r00, r13 = r00;
  __m512 r20 = r00, r21 = r00, r22 = r00, r23 = r00, r30 = r00, r31 = r00, r32 = r00, r33 = r00;
  __m512 r40 = r00, r41 = r00, r42 = r00, r43 = r00, r50 = r00, r51 = r00, r52 = r00, r53 = r00;
  for (int64_t p = 0; p < kc; p++, a += 6, b += bs) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32),
                 b3 = _mm512_loadu_ps(b + 48);
    FMA_ROW(0);
    FMA_ROW(1);
    FMA_ROW(2);
    FMA_ROW(3);
    FMA_ROW(4);
    FMA_ROW(5);
  }
  __m512 r[24] = {r00, r01, r02, r03, r10, r11, r12, r13, r20, r21, r22, r23,
                  r30, r31, r32, r33, r40, r41, r42, r43, r50, r51, r52, r53};
  for (int i = 0; i < 6; i++)
    for (int h = 0; h < 4; h++) {
      float *dst = c + i * ldc + 16 * h;
      __m512 v = r[4 * i + h];
      if (accumulate) v = _mm512_add_ps(v, _mm512_loadu_ps(dst));
      _mm512_storeu_ps(dst, v);
    }
}
#undef FMA_ROW
#endif

/* --- ISA selection ------------------------------------------------------------------------------------------- */

static const kernel_t kernels[3] = {
    {4, 16, uk_portable},
#if UOL_X86
    {6, 16, uk_avx2},
    {6, 64, uk_avx512},
#else
    {4, 16, uk_portable},
    {4, 16, uk_portable},
#endif
};

static int detected = -2;
static int current = -2;

int gemm_isa_detected(void) {
  if (detected == -2) {
    int lvl = ISA_PORTABLE;
#if UOL_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) lvl = ISA_AVX2;
    if (__builtin_cpu_supports("avx512f")) lvl = ISA_AVX512;
#endif
    detected = lvl;
  }
  return detected;
}

int gemm_isa(void) {
  if (current == -2) current = gemm_isa_detected();
  return current;
}

int gemm_set_isa(int isa) {
  const int best = gemm_isa_detected();
  current = isa < 0 || isa > best ? best : isa;
  return current;
}

const char *gemm_isa_name(int isa) {
  return isa == ISA_AVX512 ? "avx512" : isa == ISA_AVX2 ? "avx2" : "portable";
}

/* --- packing ------------------------------------------------------------------------------------------------- */

/* Per-thread packing buffers (grow, never shrink; the pool's threads live as long as the process). */
static _Thread_local float *buf_a, *buf_b;
static _Thread_local size_t cap_a, cap_b;

static float *grow(float **buf, size_t *cap, size_t floats) {
  if (floats <= *cap) return *buf;
  free(*buf);
  const size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
  *buf = (float *)aligned_alloc(64, bytes);
  *cap = *buf ? floats : 0;
  return *buf;
}

/* A[i0:+mc, p0:+kc] → panels of MR rows: dst[panel][p][MR], zero rows past mc. */
static void pack_a(int ta, const float *a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, int mr, float *dst) {
  for (int64_t ir = 0; ir < mc; ir += mr, dst += mr * kc) {
    const int64_t rows = mc - ir < mr ? mc - ir : mr;
    if (!ta) {
      for (int64_t i = 0; i < rows; i++) {
        const float *src = a + (i0 + ir + i) * lda + p0;
        for (int64_t p = 0; p < kc; p++) dst[p * mr + i] = src[p];
      }
    } else {
      for (int64_t p = 0; p < kc; p++) {
        const float *src = a + (p0 + p) * lda + i0 + ir;
        for (int64_t i = 0; i < rows; i++) dst[p * mr + i] = src[i];
      }
    }
    if (rows < mr)
      for (int64_t p = 0; p < kc; p++)
        for (int64_t i = rows; i < mr; i++) dst[p * mr + i] = 0.f;
  }
}

/* B[p0:+kc, j0:+nc] → panels of NR columns: dst[panel][p][NR], zero columns past nc. */
static void pack_b(int tb, const float *b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr, float *dst) {
  for (int64_t jr = 0; jr < nc; jr += nr, dst += nr * kc) {
    const int64_t cols = nc - jr < nr ? nc - jr : nr;
    if (!tb) {
      for (int64_t p = 0; p < kc; p++) {
        const float *src = b + (p0 + p) * ldb + j0 + jr;
        float *d = dst + p * nr;
        memcpy(d, src, (size_t)cols * sizeof(float));
        for (int64_t j = cols; j < nr; j++) d[j] = 0.f;
      }
    } else {
      for (int64_t j = 0; j < cols; j++) {
        const float *src = b + (j0 + jr + j) * ldb + p0;
        for (int64_t p = 0; p < kc; p++) dst[p * nr + j] = src[p];
      }
      for (int64_t p = 0; p < kc; p++)
        for (int64_t j = cols; j < nr; j++) dst[p * nr + j] = 0.f;
    }
  }
}

/* --- driver -------------------------------------------------------------------------------------------------- */

/* One C tile: the kernel writes a full MR × NR tile, through a buffer at the edges. */
static inline void tile(const kernel_t *kr, int64_t kc, const float *ap, const float *bp, int64_t bs, float *c, int64_t ldc,
                        int64_t rows, int64_t cols, int accumulate) {
  if (rows == kr->mr && cols == kr->nr) {
    kr->fn(kc, ap, bp, bs, c, ldc, accumulate);
    return;
  }
  float tmp[MAX_MR * MAX_NR];
  kr->fn(kc, ap, bp, bs, tmp, kr->nr, 0);
  for (int64_t i = 0; i < rows; i++) {
    float *ci = c + i * ldc;
    const float *ti = tmp + i * kr->nr;
    if (accumulate)
      for (int64_t j = 0; j < cols; j++) ci[j] += ti[j];
    else
      for (int64_t j = 0; j < cols; j++) ci[j] = ti[j];
  }
}

/* The shared loop nest. B comes either from (b, ldb, tb), packed here, or pre-packed in 64-column panels (bpre, j0). */
static int gemm_run(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                    const float *bpre, int64_t j0, float *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return 0;
  if (k <= 0) {
    for (int64_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(float));
    return 0;
  }
  const kernel_t *kr = &kernels[gemm_isa()];
  const int mr = kr->mr, nr = kr->nr;
  const int64_t kcmax = k < KC ? k : KC;
  const int64_t mcmax = m < MC_ROWS ? (m + mr - 1) / mr * mr : MC_ROWS;
  const int64_t ncmax = n < NC_COLS ? (n + nr - 1) / nr * nr : NC_COLS;
  float *pa = grow(&buf_a, &cap_a, (size_t)(mcmax * kcmax));
  if (!pa) return -1;
  float *pb = NULL;
  if (!bpre) {
    pb = grow(&buf_b, &cap_b, (size_t)(ncmax * kcmax));
    if (!pb) return -1;
  }
  for (int64_t jc = 0; jc < n; jc += NC_COLS) {
    const int64_t nc = n - jc < NC_COLS ? n - jc : NC_COLS;
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = k - pc < KC ? k - pc : KC;
      if (!bpre) pack_b(tb, b, ldb, pc, kc, jc, nc, nr, pb);
      for (int64_t ic = 0; ic < m; ic += MC_ROWS) {
        const int64_t mc = m - ic < MC_ROWS ? m - ic : MC_ROWS;
        pack_a(ta, a, lda, ic, mc, pc, kc, mr, pa);
        for (int64_t jr = 0; jr < nc; jr += nr) {
          const int64_t cols = nc - jr < nr ? nc - jr : nr;
          const float *bp;
          int64_t bs;
          if (bpre) {
            const int64_t col = j0 + jc + jr; /* column in the whole packed matrix */
            bp = bpre + (col / 64) * k * 64 + pc * 64 + col % 64;
            bs = 64;
          } else {
            bp = pb + jr * kc;
            bs = nr;
          }
          for (int64_t ir = 0; ir < mc; ir += mr) {
            const int64_t rows = mc - ir < mr ? mc - ir : mr;
            tile(kr, kc, pa + ir * kc, bp, bs, c + (ic + ir) * ldc + jc + jr, ldc, rows, cols, pc > 0);
          }
        }
      }
    }
  }
  return 0;
}

int sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
          int64_t ldc) {
  return gemm_run(ta, tb, m, n, k, a, lda, b, ldb, NULL, 0, c, ldc);
}

int sgemm_prepacked(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *bp, int64_t j0, float *c,
                    int64_t ldc) {
  if (j0 % 64 != 0) return -1;
  return gemm_run(0, 0, m, n, k, a, lda, NULL, 0, bp, j0, c, ldc);
}
