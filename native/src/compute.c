/*
 * Compute kernels of the uol_blas addon (see compute.h). Hand-written: this is the glue between TF.js tensors on the
 * wasm heap, our sgemm (gemm.c; OpenBLAS's in a UOL_BLAS=openblas build), the conv kernels (conv_*.c) and our thread
 * pool, plus the element-wise parts PyTorch runs vectorised (GELU, softmax, LayerNorm) that the wasm backend runs
 * scalar.
 *
 * Vector math: loops are written so the compiler vectorises them (explicit lane arrays for reductions, branch-free
 * exp), and built for AVX-512, AVX2+FMA and baseline x86-64 (VEC_DISPATCH, picked by the ISA level in effect); other
 * platforms get the plain build.
 */
#include "compute.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "pool.h"

#ifdef UOL_OPENBLAS
#include <cblas.h>
#define OPENBLAS_BUILD 1
#else
#define OPENBLAS_BUILD 0
#endif

/* Every matrix product of the addon goes through here: our own sgemm (gemm.c), or — in a build made with
 * UOL_BLAS=openblas, kept only to compare against — OpenBLAS's cblas_sgemm. Returns 0, or -1 when out of memory. */
static int mm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
              float *c, int64_t ldc) {
#ifdef UOL_OPENBLAS
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.f, a,
              (int)lda, b, (int)ldb, 0.f, c, (int)ldc);
  return 0;
#else
  return sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
#endif
}

/* Element-wise loops are written once (NAME_impl, always inlined) and compiled for AVX-512, AVX2+FMA and baseline by
 * VEC_DISPATCH, which picks the copy for gemm_isa() — the level in effect, so UOL_ISA forces these too (GCC's
 * target_clones would pick by the CPU alone). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VEC_DISPATCH(name, params, args)                                                                             \
  __attribute__((target("avx512f"))) static void name##_avx512 params { name##_impl args; }                        \
  __attribute__((target("avx2,fma"))) static void name##_avx2 params { name##_impl args; }                         \
  static void name##_base params { name##_impl args; }                                                               \
  static void name params {                                                                                          \
    const int isa = gemm_isa();                                                                                      \
    if (isa >= ISA_AVX512) name##_avx512 args;                                                                       \
    else if (isa >= ISA_AVX2) name##_avx2 args;                                                                      \
    else name##_base args;                                                                                           \
  }
#else
#define VEC_DISPATCH(name, params, args)                                                                             \
  static void name params { name##_impl args; }
#endif
#define VEC_IMPL static inline __attribute__((always_inline)) void

#define LANES 16

/* --- vector math ------------------------------------------------------------------------------------------------ */

static inline float bits_float(int32_t i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}

/* exp(x) for float32, relative error ≈ 2 ulp on [-87.3, 88.3] (clamped outside: 2^-126 .. 2.5e38): x = n·ln2 + r with
 * |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by its degree-7 Taylor polynomial (truncation < 6e-9), times 2^n built
 * from the exponent bits. Branch-free so loops over it vectorise. */
static inline float exp_fast(float x) {
  x = x < -87.33f ? -87.33f : x;
  x = x > 88.3f ? 88.3f : x;
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f; /* round to nearest */
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  return p * bits_float(((int32_t)n + 127) << 23);
}

/* Exact GELU x·Φ(x), Φ(x) = erfc(−x/√2)/2, with erfc from Numerical Recipes' Chebyshev fit (fractional error
 * < 1.2e-7 for all arguments): erfc(u) = t·exp(−u² + P(t)), t = 1/(1 + u/2), u ≥ 0; erfc(−u) = 2 − erfc(u). */
static inline float gelu1(float x) {
  const float u = fabsf(x) * 0.70710678118654752f;
  const float t = 1.f / (1.f + 0.5f * u);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float e = t * exp_fast(p - u * u);
  const float phi = x >= 0.f ? 1.f - 0.5f * e : 0.5f * e;
  return x * phi;
}

VEC_IMPL gelu_inplace_any_impl(float *y, int64_t n) {
  for (int64_t j = 0; j < n; j++) y[j] = gelu1(y[j]);
}
VEC_DISPATCH(gelu_inplace_any, (float *y, int64_t n), (y, n))
void gelu_inplace(float *y, int64_t n) {
  gelu_inplace_any(y, n);
}

VEC_IMPL sigmoid_inplace_impl(float *y, int64_t n) {
  for (int64_t j = 0; j < n; j++) y[j] = 1.f / (1.f + exp_fast(-y[j]));
}
VEC_DISPATCH(sigmoid_inplace, (float *y, int64_t n), (y, n))

VEC_IMPL add_row_impl(float *y, const float *b, int64_t n) {
  for (int64_t j = 0; j < n; j++) y[j] += b[j];
}
VEC_DISPATCH(add_row, (float *y, const float *b, int64_t n), (y, b, n))

VEC_IMPL mul_row_impl(float *y, const float *s, int64_t n) {
  for (int64_t j = 0; j < n; j++) y[j] *= s[j];
}
VEC_DISPATCH(mul_row, (float *y, const float *s, int64_t n), (y, s, n))

VEC_IMPL relu_row_impl(float *y, int64_t n) {
  for (int64_t j = 0; j < n; j++) y[j] = y[j] > 0.f ? y[j] : 0.f;
}
VEC_DISPATCH(relu_row, (float *y, int64_t n), (y, n))

/* Softmax of one row in place: max, exp(x − max) and sum (16 explicit lanes so the reductions vectorise without
 * reassociation), then scale by 1/sum. */
VEC_IMPL softmax_row_impl(float *s, int64_t n) {
  float mx[LANES];
  for (int l = 0; l < LANES; l++) mx[l] = -INFINITY;
  int64_t j = 0;
  for (; j + LANES <= n; j += LANES)
    for (int l = 0; l < LANES; l++) mx[l] = s[j + l] > mx[l] ? s[j + l] : mx[l];
  float m = -INFINITY;
  for (int l = 0; l < LANES; l++) m = mx[l] > m ? mx[l] : m;
  for (; j < n; j++) m = s[j] > m ? s[j] : m;
  float acc[LANES] = {0};
  j = 0;
  for (; j + LANES <= n; j += LANES)
    for (int l = 0; l < LANES; l++) {
      const float v = exp_fast(s[j + l] - m);
      s[j + l] = v;
      acc[l] += v;
    }
  float sum = 0.f;
  for (; j < n; j++) {
    s[j] = exp_fast(s[j] - m);
    sum += s[j];
  }
  for (int l = 0; l < LANES; l++) sum += acc[l];
  const float inv = 1.f / sum;
  for (j = 0; j < n; j++) s[j] *= inv;
}
VEC_DISPATCH(softmax_row, (float *s, int64_t n), (s, n))

VEC_IMPL layernorm_row_impl(const float *x, const float *g, const float *b, float *y, int64_t C, float eps) {
  float acc[LANES] = {0};
  int64_t j = 0;
  for (; j + LANES <= C; j += LANES)
    for (int l = 0; l < LANES; l++) acc[l] += x[j + l];
  float s = 0.f;
  for (; j < C; j++) s += x[j];
  for (int l = 0; l < LANES; l++) s += acc[l];
  const float mean = s / (float)C;
  float acc2[LANES] = {0};
  j = 0;
  for (; j + LANES <= C; j += LANES)
    for (int l = 0; l < LANES; l++) {
      const float d = x[j + l] - mean;
      acc2[l] += d * d;
    }
  float v = 0.f;
  for (; j < C; j++) v += (x[j] - mean) * (x[j] - mean);
  for (int l = 0; l < LANES; l++) v += acc2[l];
  const float inv = 1.f / sqrtf(v / (float)C + eps);
  for (j = 0; j < C; j++) y[j] = (x[j] - mean) * inv * g[j] + b[j];
}
VEC_DISPATCH(layernorm_row, (const float *x, const float *g, const float *b, float *y, int64_t C, float eps),
             (x, g, b, y, C, eps))

/* --- epilogue --------------------------------------------------------------------------------------------------- */

int epilogue_is_identity(const epilogue_t *e) {
  return !e || (!e->bias && e->act == ACT_LINEAR && !e->scale && !e->residual);
}

static void act_row(float *y, int64_t n, const epilogue_t *e, const float *w, int64_t ws) {
  switch (e->act) {
    case ACT_RELU:
      relu_row(y, n);
      break;
    case ACT_RELU6:
      for (int64_t j = 0; j < n; j++) y[j] = y[j] > 0.f ? (y[j] < 6.f ? y[j] : 6.f) : 0.f;
      break;
    case ACT_PRELU:
      for (int64_t j = 0; j < n; j++) y[j] = y[j] < 0.f ? w[j * ws] * y[j] : y[j];
      break;
    case ACT_LEAKYRELU:
      for (int64_t j = 0; j < n; j++) y[j] = y[j] < 0.f ? e->alpha * y[j] : y[j];
      break;
    case ACT_SIGMOID:
      sigmoid_inplace(y, n);
      break;
    case ACT_ELU:
      for (int64_t j = 0; j < n; j++) y[j] = y[j] >= 0.f ? y[j] : expm1f(y[j]);
      break;
    case ACT_GELU:
      gelu_inplace(y, n);
      break;
    default:
      break;
  }
}

void epilogue_region(float *out, int64_t rows, int64_t ld, int64_t b, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                     const epilogue_t *e) {
  if (epilogue_is_identity(e) || c1 <= c0) return;
  const int64_t n = c1 - c0;
  for (int64_t r = r0; r < r1; r++) {
    const int64_t off = (b * rows + r) * ld + c0;
    float *y = out + off;
    if (e->bias) {
      const float *bb = e->bias + b * e->bs[0] + r * e->bs[1] + c0 * e->bs[2];
      const int64_t s = e->bs[2];
      if (s == 1)
        add_row(y, bb, n);
      else
        for (int64_t j = 0; j < n; j++) y[j] += bb[j * s];
    }
    if (e->residual && e->residual_first) add_row(y, e->residual + off, n);
    const float *w = e->prelu ? e->prelu + b * e->ps[0] + r * e->ps[1] + c0 * e->ps[2] : NULL;
    act_row(y, n, e, w, e->ps[2]);
    if (e->scale) mul_row(y, e->scale + c0, n);
    if (e->residual && !e->residual_first) add_row(y, e->residual + off, n);
  }
}

/* --- matmul ------------------------------------------------------------------------------------------------------ */

/* Below this many multiply-adds a product runs as one task (the pool's hand-off costs a few microseconds). */
#define PAR_MIN_MACS (1 << 17)

typedef struct {
  int64_t batch, m, n, k;
  int ta, tb;
  const float *a, *b;
  int64_t as, bsz;
  float *out;
  const epilogue_t *e;
  int merged; /* batches folded into the rows of one product */
  int64_t mt, nt, mc, nc;
  const float *packed; /* b pre-packed in 64-column panels (pack_conv_filter), read in place; or NULL */
  int oom;
} mm_job;

static void mm_task(void *vctx, int task, int thread) {
  (void)thread;
  mm_job *j = (mm_job *)vctx;
  const int64_t per = j->mt * j->nt;
  const int64_t z = task / per;
  const int64_t ti = (task % per) / j->nt, tj = (task % per) % j->nt;
  const int64_t rows = j->merged ? j->batch * j->m : j->m;
  const int64_t i0 = ti * j->mc, i1 = i0 + j->mc < rows ? i0 + j->mc : rows;
  const int64_t c0 = tj * j->nc, c1 = c0 + j->nc < j->n ? c0 + j->nc : j->n;
  if (i1 <= i0 || c1 <= c0) return;
  const int64_t m = j->m, n = j->n, k = j->k;
  const float *A = j->a + z * j->as + (j->ta ? i0 : i0 * k);
  const float *B = j->b + z * j->bsz + (j->tb ? c0 * k : c0);
  float *C = j->out + z * m * n + i0 * n + c0;
  const int r = j->packed ? sgemm_prepacked(i1 - i0, c1 - c0, k, A, k, j->packed, c0, C, n)
                         : mm(j->ta, j->tb, i1 - i0, c1 - c0, k, A, j->ta ? m : k, B, j->tb ? k : n, C, n);
  if (r != 0) {
    j->oom = 1;
    return;
  }
  if (epilogue_is_identity(j->e)) return;
  if (!j->merged) {
    epilogue_region(j->out, m, n, z, i0, i1, c0, c1, j->e);
  } else {
    /* Rows of the merged product are (batch, row) pairs: apply the epilogue per batch segment. */
    for (int64_t zz = i0 / m; zz * m < i1; zz++) {
      const int64_t r0 = i0 > zz * m ? i0 - zz * m : 0;
      const int64_t r1 = i1 < (zz + 1) * m ? i1 - zz * m : m;
      epilogue_region(j->out, m, n, zz, r0, r1, c0, c1, j->e);
    }
  }
}

static int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

static int64_t round_up(int64_t a, int64_t b) {
  return ceil_div(a, b) * b;
}

/* par_matmul, optionally with b pre-packed (then batch 1, no transposes). */
static int par_matmul_impl(int64_t batch, int64_t m, int64_t n, int64_t k, int ta, int tb, const float *a, int64_t as,
                           const float *b, int64_t bsz, const float *packed, float *out, const epilogue_t *e) {
  if (batch == 0 || m == 0 || n == 0) return 0;
  if (k == 0) {
    memset(out, 0, (size_t)(batch * m * n) * sizeof(float));
    for (int64_t z = 0; z < batch; z++) epilogue_region(out, m, n, z, 0, m, 0, n, e);
    return 0;
  }
  mm_job j = {batch, m, n, k, ta, tb, a, b, as, bsz, out, e, 0, 1, 1, m, n, packed, 0};
  /* A shared right operand with contiguous left batches is one [batch·m, k] @ [k, n] product. */
  if (!ta && bsz == 0 && (as == m * k || batch == 1)) j.merged = 1;
  const int64_t T = pool_threads();
  const double macs = (double)batch * (double)m * (double)n * (double)k;
  const int64_t per_batch = j.merged ? 1 : batch;
  const int64_t rows = j.merged ? batch * m : m;
  int64_t want = 1;
  if (T > 1 && macs >= PAR_MIN_MACS) {
    want = ceil_div(2 * T, per_batch); /* splits per product: ~2 tasks per thread in all */
    const int64_t maxTasks = (int64_t)(macs / PAR_MIN_MACS);
    if (want * per_batch > maxTasks) want = maxTasks / per_batch > 1 ? maxTasks / per_batch : 1;
  }
  if (want > 1) {
    /* Split the wider side (the narrower operand is then re-packed per task, the cheaper choice). Column chunks
     * are multiples of 16 (one AVX-512 vector; 64, one panel, with a pre-packed b), row chunks of 6 (the micro-kernel's
     * rows). */
    const int64_t cq = packed ? 64 : 16;
    if (n >= rows) {
      int64_t nt = want < ceil_div(n, cq) ? want : ceil_div(n, cq);
      j.nc = round_up(ceil_div(n, nt), cq);
      j.nt = ceil_div(n, j.nc);
    } else {
      int64_t mt = want < ceil_div(rows, 6) ? want : ceil_div(rows, 6);
      j.mc = round_up(ceil_div(rows, mt), 6);
      j.mt = ceil_div(rows, j.mc);
    }
  } else {
    j.mc = rows;
    j.nc = n;
  }
  pool_run((int)(per_batch * j.mt * j.nt), mm_task, &j);
  return j.oom ? -1 : 0;
}

int par_matmul(int64_t batch, int64_t m, int64_t n, int64_t k, int ta, int tb, const float *a, int64_t as, const float *b,
               int64_t bsz, float *out, const epilogue_t *e) {
  return par_matmul_impl(batch, m, n, k, ta, tb, a, as, b, bsz, NULL, out, e);
}


/* --- layer norm ---------------------------------------------------------------------------------------------------- */

typedef struct {
  const float *x, *g, *b;
  float *out;
  int64_t rows, C, chunk;
  float eps;
} ln_job;

static void ln_task(void *vctx, int task, int thread) {
  (void)thread;
  const ln_job *j = (const ln_job *)vctx;
  const int64_t r0 = task * j->chunk, r1 = r0 + j->chunk < j->rows ? r0 + j->chunk : j->rows;
  for (int64_t r = r0; r < r1; r++) layernorm_row(j->x + r * j->C, j->g, j->b, j->out + r * j->C, j->C, j->eps);
}

void par_layernorm(const float *x, const float *g, const float *b, float *out, int64_t rows, int64_t C, float eps) {
  if (rows == 0 || C == 0) return;
  const int64_t T = pool_threads();
  int64_t tasks = (rows * C) >= 32768 ? 2 * T : 1;
  if (tasks > rows) tasks = rows;
  ln_job j = {x, g, b, out, rows, C, ceil_div(rows, tasks), eps};
  pool_run((int)ceil_div(rows, j.chunk), ln_task, &j);
}

/* --- batch norm ---------------------------------------------------------------------------------------------------- */

VEC_IMPL affine_rows_impl(const float *x, const float *m, const float *k, const float *o, float *y, int64_t rows,
                           int64_t C) {
  for (int64_t r = 0; r < rows; r++, x += C, y += C)
    for (int64_t j = 0; j < C; j++) y[j] = (x[j] - m[j]) * k[j] + o[j];
}
VEC_DISPATCH(affine_rows,
             (const float *x, const float *m, const float *k, const float *o, float *y, int64_t rows, int64_t C),
             (x, m, k, o, y, rows, C))

typedef struct {
  const float *x, *mean, *k, *off;
  float *out;
  int64_t rows, C, chunk;
} bn_job;

static void bn_task(void *vctx, int task, int thread) {
  (void)thread;
  const bn_job *j = (const bn_job *)vctx;
  const int64_t r0 = task * j->chunk, r1 = r0 + j->chunk < j->rows ? r0 + j->chunk : j->rows;
  affine_rows(j->x + r0 * j->C, j->mean, j->k, j->off, j->out + r0 * j->C, r1 - r0, j->C);
}

void par_batchnorm(const float *x, const float *mean, const float *var, const float *offset, const float *scale, float *out,
                   int64_t rows, int64_t C, float eps) {
  if (rows == 0 || C == 0) return;
  float *k = (float *)malloc((size_t)C * 2 * sizeof(float));
  if (!k) {
    /* Out of memory for 2·C floats: compute in place of the per-channel factors. */
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = 0; c < C; c++) {
        const float v = (x[r * C + c] - mean[c]) * (scale ? scale[c] : 1.f) / sqrtf(var[c] + eps);
        out[r * C + c] = v + (offset ? offset[c] : 0.f);
      }
    return;
  }
  float *o = k + C;
  for (int64_t c = 0; c < C; c++) {
    k[c] = (scale ? scale[c] : 1.f) / sqrtf(var[c] + eps);
    o[c] = offset ? offset[c] : 0.f;
  }
  const int64_t T = pool_threads();
  int64_t tasks = rows * C >= 65536 ? 2 * T : 1;
  if (tasks > rows) tasks = rows;
  bn_job j = {x, mean, k, o, out, rows, C, ceil_div(rows, tasks)};
  pool_run((int)ceil_div(rows, j.chunk), bn_task, &j);
  free(k);
}

/* --- max pooling ---------------------------------------------------------------------------------------------------- */

/* One output pixel: the max over the in-image window taps of every channel (padding is not a value, as in TF; −∞
 * where no tap is inside). The comparison is written `m > v ? m : v`, maxps(m, v)'s rule, from −∞. */
VEC_IMPL maxpool_pixel_impl(const float *restrict xb, const maxpool_geom_t *g, int64_t oy, int64_t ox, float *restrict y) {
  const int64_t iy0 = oy * g->SH - g->PT, ix0 = ox * g->SW - g->PL, C = g->C;
  const int64_t ky0 = iy0 < 0 ? -iy0 : 0, ky1 = iy0 + g->FH > g->H ? g->H - iy0 : g->FH;
  const int64_t kx0 = ix0 < 0 ? -ix0 : 0, kx1 = ix0 + g->FW > g->W ? g->W - ix0 : g->FW;
  /* Blocks of 64 channels held in a local array the compiler keeps in vector registers. */
  for (int64_t c0 = 0; c0 < C; c0 += 64) {
    const int64_t n = C - c0 < 64 ? C - c0 : 64;
    float m[64];
    if (n == 64) {
      for (int c = 0; c < 64; c++) m[c] = -INFINITY;
      for (int64_t ky = ky0; ky < ky1; ky++)
        for (int64_t kx = kx0; kx < kx1; kx++) {
          const float *restrict v = xb + ((iy0 + ky) * g->W + ix0 + kx) * C + c0;
          for (int c = 0; c < 64; c++) m[c] = m[c] > v[c] ? m[c] : v[c];
        }
      for (int c = 0; c < 64; c++) y[c0 + c] = m[c];
    } else {
      for (int64_t c = 0; c < n; c++) m[c] = -INFINITY;
      for (int64_t ky = ky0; ky < ky1; ky++)
        for (int64_t kx = kx0; kx < kx1; kx++) {
          const float *restrict v = xb + ((iy0 + ky) * g->W + ix0 + kx) * C + c0;
          for (int64_t c = 0; c < n; c++) m[c] = m[c] > v[c] ? m[c] : v[c];
        }
      for (int64_t c = 0; c < n; c++) y[c0 + c] = m[c];
    }
  }
}
VEC_DISPATCH(maxpool_pixel, (const float *xb, const maxpool_geom_t *g, int64_t oy, int64_t ox, float *y), (xb, g, oy, ox, y))

typedef struct {
  const float *x;
  float *out;
  const maxpool_geom_t *g;
  int64_t chunk; /* output rows (of B·OH) per task */
} maxpool_job;

static void maxpool_task(void *vctx, int task, int thread) {
  (void)thread;
  const maxpool_job *j = (const maxpool_job *)vctx;
  const maxpool_geom_t *g = j->g;
  const int64_t r0 = task * j->chunk, r1 = r0 + j->chunk < g->B * g->OH ? r0 + j->chunk : g->B * g->OH;
  for (int64_t r = r0; r < r1; r++) {
    const int64_t b = r / g->OH, oy = r % g->OH;
    const float *xb = j->x + b * g->H * g->W * g->C;
    for (int64_t ox = 0; ox < g->OW; ox++) maxpool_pixel(xb, g, oy, ox, j->out + (r * g->OW + ox) * g->C);
  }
}

void par_maxpool(const float *x, float *out, const maxpool_geom_t *g) {
  const int64_t rows = g->B * g->OH;
  if (rows == 0 || g->OW == 0 || g->C == 0) return;
  const int64_t T = pool_threads();
  int64_t tasks = rows * g->OW * g->C >= 65536 ? 4 * T : 1;
  if (tasks > rows) tasks = rows;
  maxpool_job j = {x, out, g, ceil_div(rows, tasks)};
  pool_run((int)ceil_div(rows, j.chunk), maxpool_task, &j);
}

/* --- attention ------------------------------------------------------------------------------------------------------ */

typedef struct {
  const float *qkv;
  float *out;
  int64_t B, N, heads, d, qc, nq;
  int oom;
} attn_job;

static void attn_task(void *vctx, int task, int thread) {
  attn_job *j = (attn_job *)vctx;
  const int64_t N = j->N, d = j->d, C = j->heads * d, C3 = 3 * C;
  const int64_t qi = task % j->nq;
  const int64_t h = (task / j->nq) % j->heads;
  const int64_t b = task / (j->nq * j->heads);
  const int64_t r0 = qi * j->qc, r1 = r0 + j->qc < N ? r0 + j->qc : N, rows = r1 - r0;
  float *S = pool_scratch(thread, (size_t)(rows * N));
  if (!S) {
    j->oom = 1;
    return;
  }
  const float *base = j->qkv + b * N * C3;
  const float *Q = base + r0 * C3 + h * d;
  const float *K = base + C + h * d;
  const float *V = base + 2 * C + h * d;
  if (mm(0, 1, rows, N, d, Q, C3, K, C3, S, N) != 0) {
    j->oom = 1;
    return;
  }
  for (int64_t r = 0; r < rows; r++) softmax_row(S + r * N, N);
  if (mm(0, 0, rows, d, N, S, N, V, C3, j->out + (b * N + r0) * C + h * d, C) != 0) j->oom = 1;
}

int par_attention(const float *qkv, float *out, int64_t B, int64_t N, int64_t heads, int64_t d) {
  if (B == 0 || N == 0 || heads == 0 || d == 0) return 0;
  /* Query rows per task: at most 128 (the score block, rows × N floats, stays in L2). */
  const int64_t nq = ceil_div(N, 128);
  attn_job j = {qkv, out, B, N, heads, d, ceil_div(N, nq), nq, 0};
  pool_run((int)(B * heads * nq), attn_task, &j);
  return j.oom ? -1 : 0;
}

/* --- conv2d --------------------------------------------------------------------------------------------------------- */

static int conv_mode = -1;

void conv_set_mode(int mode) {
  conv_mode = mode;
}

int direct_conv_available(void) {
  return 1; /* every level has direct kernels (conv_avx512.c, conv_avx2.c, conv_portable.c) */
}

void direct_conv_region(UOL_DIRECT_CONV_ARGS) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (gemm_isa() >= ISA_AVX512) {
    direct_conv_region_avx512(x, f, packed, out, g, b, p0, p1, c0, c1, zeros, ptrs, fuse, bias, res, act, pf);
    return;
  }
  if (gemm_isa() >= ISA_AVX2) {
    direct_conv_region_avx2(x, f, packed, out, g, b, p0, p1, c0, c1, zeros, ptrs, fuse, bias, res, act, pf);
    return;
  }
#endif
  direct_conv_region_portable(x, f, packed, out, g, b, p0, p1, c0, c1, zeros, ptrs, fuse, bias, res, act, pf);
}

void wino_conv_region(UOL_WINO_ARGS) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (gemm_isa() >= ISA_AVX512) {
    wino_conv_region_avx512(m, x, packed, out, g, b, t0, t1, c0, c1, zeros, scratch, bias, res, act);
    return;
  }
  if (gemm_isa() >= ISA_AVX2) {
    wino_conv_region_avx2(m, x, packed, out, g, b, t0, t1, c0, c1, zeros, scratch, bias, res, act);
    return;
  }
#endif
  wino_conv_region_portable(m, x, packed, out, g, b, t0, t1, c0, c1, zeros, scratch, bias, res, act);
}

int64_t wino_scratch_floats(int m, int64_t T, int64_t C) {
  const int64_t nn = (m + 2) * (m + 2), groups = ceil_div(T, 6);
  return nn * T * C + nn * T * 64 + (int64_t)((nn * groups * 6 * sizeof(const float *) + sizeof(float) - 1) / sizeof(float));
}

void conv_fill_pointers(const float *x, const conv_geom_t *g, int64_t b, int64_t p0, int64_t p1, const float *zeros,
                        const float **ptrs) {
  const int64_t taps = g->FH * g->FW, C = g->C, OW = g->OW, tiles = ceil_div(p1 - p0, 6);
  const float *xb = x + b * g->H * g->W * C;
  for (int64_t i = 0; i < tiles; i++) {
    for (int r = 0; r < 6; r++) {
      const int64_t p = p0 + i * 6 + r;
      const float **dst = ptrs + i * taps * 6 + r;
      if (p >= p1) {
        for (int64_t t = 0; t < taps; t++) dst[t * 6] = zeros;
        continue;
      }
      const int64_t oy = p / OW, ox = p % OW;
      for (int64_t ky = 0; ky < g->FH; ky++) {
        const int64_t iy = oy * g->SH - g->PT + ky * g->DH;
        for (int64_t kx = 0; kx < g->FW; kx++) {
          const int64_t ix = ox * g->SW - g->PL + kx * g->DW;
          dst[(ky * g->FW + kx) * 6] = (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W) ? zeros : xb + (iy * g->W + ix) * C;
        }
      }
    }
  }
}

int conv_uses_direct(const conv_geom_t *g) {
  if (conv_mode == 0 || !direct_conv_available()) return 0;
  /* The direct kernel loops over input channels innermost; with very few (an RGB stem) im2col + sgemm is better. */
  return g->C >= 16 && g->OC >= 16;
}

/* Winograd pays on 3×3 stride-1 convolutions with enough tiles to amortise its larger filter. 7×7 maps (ResNet-50's
 * layer4 at 224², 16 tiles of 2×2) included: its 53 convolutions chained in network order (tools/resnet-chain.mjs,
 * four alternating runs each) took 0.6–1.3 ms less at AVX2 and 1.5–2.6 ms less in portable C with F(2×2) there than
 * direct, and the same at AVX-512 (its 512→512 layer alone: 0.48 vs 0.75 ms); the cost is its 16/9 larger filter
 * (+34 MB for ResNet-50). Below 7×7 it is untested. */
#ifndef WINO_MIN_PIXELS
#define WINO_MIN_PIXELS 49
#endif

/* Which Winograd variant runs. F(4×4,3×3) needs 4× fewer multiply-adds than direct, F(2×2,3×3) 2.25×, but F(4×4)'s
 * filter is 36/16 the size of F(2×2)'s, and with few tiles its GEMMs are bound by reading it: F(2×2) wins below ~49
 * tiles of 4×4 (tools/conv-layers.mjs, AVX-512: 14×14 maps 1.4 vs 1.8 ms at 512→512, 28×28 7.0 vs 5.6 ms; AVX2:
 * 14×14 at 256→256 0.65 vs 0.76 ms, 28×28 at 128→128 0.63 vs 0.38 ms). */
static int wino_kind(const conv_geom_t *g) {
  if (conv_mode == 2) return CONV_WINOGRAD;
  if (conv_mode == 3) return CONV_WINOGRAD4;
  return ceil_div(g->OH, 4) * ceil_div(g->OW, 4) >= 49 ? CONV_WINOGRAD4 : CONV_WINOGRAD;
}

int conv_path(const conv_geom_t *g, const epilogue_t *e) {
  if (!conv_uses_direct(g)) {
    /* Few input channels (an RGB stem): im2col, then the direct kernel on the columns as a 1×1 convolution. */
    return conv_mode != 0 && direct_conv_available() && g->OC >= 16 && g->FH * g->FW * g->C >= 16 ? CONV_IM2COL_DIRECT : CONV_IM2COL;
  }
  if (conv_mode != 1 && g->FH == 3 && g->FW == 3 && g->SH == 1 && g->SW == 1 && g->DH == 1 && g->DW == 1 &&
      g->OH * g->OW >= WINO_MIN_PIXELS && conv_epilogue_fusable(e, g->B))
    return wino_kind(g);
  return CONV_DIRECT;
}

/* Floats of a Winograd task's transformed input (about L2: 1 MB). */
#ifndef WINO_V_FLOATS
#define WINO_V_FLOATS (1 << 18)
#endif

typedef struct {
  const float *x, *f, *packed;
  float *out;
  const conv_geom_t *g;
  int64_t tiles, tt, nt; /* Winograd: tiles per image, tiles per task, tile chunks per image */
  const epilogue_t *e;
  int64_t pc, cc, np, ncb; /* pixels per task, channels per task, pixel chunks per image, channel chunks */
  int fuse, oom;
  const float *zeros;
  const float *gemm_packed; /* im2col + our GEMM reading the filter from its direct-kernel packing (no copy) */
  int wkind;                /* Winograd: CONV_WINOGRAD (F(2×2,3×3)) or CONV_WINOGRAD4 */
  int64_t ntasks;           /* direct: tasks in the job (the next-task prefetch stays inside it) */
} conv_job;

/* Per-channel bias (or none), a residual added before the activation, and linear/relu/relu6 can be applied inside the
 * direct kernel. */
int conv_epilogue_fusable(const epilogue_t *e, int64_t B) {
  if (epilogue_is_identity(e)) return 1;
  if (e->scale || e->prelu || (e->residual && !e->residual_first)) return 0;
  if (e->act != ACT_LINEAR && e->act != ACT_RELU && e->act != ACT_RELU6) return 0;
  if (!e->bias) return 1;
  return e->bs[2] == 1 && e->bs[1] == 0 && (e->bs[0] == 0 || B == 1);
}

static void conv_direct_task(void *vctx, int task, int thread) {
  conv_job *j = (conv_job *)vctx;
  const conv_geom_t *g = j->g;
  const int64_t P = g->OH * g->OW;
  const int64_t cb = task % j->ncb;
  const int64_t pi = (task / j->ncb) % j->np;
  const int64_t b = task / (j->ncb * j->np);
  const int64_t p0 = pi * j->pc, p1 = p0 + j->pc < P ? p0 + j->pc : P;
  const int64_t c0 = cb * j->cc, c1 = c0 + j->cc < g->OC ? c0 + j->cc : g->OC;
  const int64_t taps = g->FH * g->FW;
  const int64_t tiles = ceil_div(p1 - p0, 6);
  /* Pointer table: tiles · taps · 6 pointers, in float-sized units of scratch. */
  const size_t ptr_bytes = (size_t)(tiles * taps * 6) * sizeof(const float *);
  float *mem = pool_scratch(thread, (ptr_bytes + sizeof(float) - 1) / sizeof(float));
  if (!mem) {
    j->oom = 1;
    return;
  }
  /* The weights of the task this thread will likely claim next (tasks are claimed in order, channel block fastest, so
   * about task + threads): when they are another block's, the task prefetches them while it computes. At batch 1 a
   * network's weights come from memory (ResNet-50: 100 MB per image); without this, each task's first pixel tile
   * waits for its block's weights. With this and the residual prefetch in the tile kernels, ResNet-50's 53
   * convolutions chained in network order (tools/resnet-chain.mjs, four alternating runs) took 0.2–2.5 ms less at
   * AVX2 (mean 49.1 → 47.7 ms) and 0–0.4 ms less at AVX-512; ViT-S/16 was unchanged within noise. */
  conv_pf_t pf = {NULL, 0};
  const int64_t nxt = task + pool_threads();
  if (j->packed && nxt < j->ntasks && nxt % j->ncb != cb) {
    const int64_t taps = g->FH * g->FW, ncb_next = nxt % j->ncb;
    pf.p = (const char *)(j->packed + ncb_next * taps * g->C * 64);
    pf.lines = taps * g->C * 64 * (int64_t)sizeof(float) / 64;
  }
  direct_conv_region(j->x, j->f, j->packed, j->out, g, b, p0, p1, c0, c1, j->zeros, (const float **)(void *)mem, j->fuse,
                     j->fuse && j->e ? j->e->bias : NULL, j->fuse && j->e ? j->e->residual : NULL,
                     j->fuse && j->e ? j->e->act : ACT_LINEAR, &pf);
  if (!j->fuse) epilogue_region(j->out, P, g->OC, b, p0, p1, c0, c1, j->e);
}

static void conv_wino_task(void *vctx, int task, int thread) {
  conv_job *j = (conv_job *)vctx;
  const conv_geom_t *g = j->g;
  const int64_t cb = task % j->ncb;
  const int64_t ti = (task / j->ncb) % j->nt;
  const int64_t b = task / (j->ncb * j->nt);
  const int64_t t0 = ti * j->tt, t1 = t0 + j->tt < j->tiles ? t0 + j->tt : j->tiles;
  const int64_t c0 = cb * j->cc, c1 = c0 + j->cc < g->OC ? c0 + j->cc : g->OC;
  const int m = j->wkind == CONV_WINOGRAD4 ? 4 : 2;
  float *scratch = pool_scratch(thread, (size_t)wino_scratch_floats(m, t1 - t0, g->C));
  if (!scratch) {
    j->oom = 1;
    return;
  }
  const float *bias = j->e ? j->e->bias : NULL, *res = j->e ? j->e->residual : NULL;
  const int act = j->e ? j->e->act : ACT_LINEAR;
  wino_conv_region(m, j->x, j->packed, j->out, g, b, t0, t1, c0, c1, j->zeros, scratch, bias, res, act);
}

static void conv_im2col_task(void *vctx, int task, int thread) {
  conv_job *j = (conv_job *)vctx;
  const conv_geom_t *g = j->g;
  const int64_t P = g->OH * g->OW, K = g->FH * g->FW * g->C, C = g->C;
  const int64_t pi = task % j->np, b = task / j->np;
  const int64_t r0 = pi * j->pc, nr = r0 + j->pc < P ? j->pc : P - r0;
  const float *xb = j->x + b * g->H * g->W * C;
  float *ob = j->out + (b * P + r0) * g->OC;
  if (j->packed && g->DW == 1) {
    /* Row taps (no im2col): a window's FW pixels of one input row are FW·C consecutive floats, so the direct kernel
     * runs with FH taps of FW·C channels each (the packed filter's rows are already in (ky, kx, c) order), reading
     * the image in place. Windows that leave the image sideways get their rows copied, zero-padded, into `edge`;
     * rows above or below it read the zero row. Against im2col, each alone through the addon at AVX2 (two runs):
     * ResNet-50's 7×7/2 stem 1.32–1.38 → 1.18 ms, VGG's first 3×3 1.31–1.41 → 1.14–1.20 ms, ViT-S/16's patch
     * embedding 0.54–0.59 → 0.56 ms; in ResNet-50's chain at AVX-512 0.83–1.02 → 0.68–0.76 ms. */
    const int64_t FH = g->FH, FW = g->FW, CW = FW * C, tiles = ceil_div(nr, 6);
    int64_t nedge = 0;
    for (int64_t r = 0; r < nr; r++) {
      const int64_t ix0 = ((r0 + r) % g->OW) * g->SW - g->PL;
      if (ix0 < 0 || ix0 + FW > g->W) nedge++;
    }
    float *edge = nedge ? pool_scratch(thread, (size_t)(nedge * FH * CW)) : NULL;
    const size_t ptr_bytes = (size_t)(tiles * FH * 6) * sizeof(const float *);
    const float **ptrs = (const float **)(void *)pool_scratch(thread < 0 ? -2 : thread + POOL_SCRATCH_SECOND,
                                                               (ptr_bytes + sizeof(float) - 1) / sizeof(float));
    if ((nedge && !edge) || !ptrs) {
      j->oom = 1;
      return;
    }
    float *e = edge;
    for (int64_t i = 0; i < tiles; i++)
      for (int r = 0; r < 6; r++) {
        const int64_t p = i * 6 + r;
        const float **dst = ptrs + i * FH * 6 + r;
        if (p >= nr) {
          for (int64_t ky = 0; ky < FH; ky++) dst[ky * 6] = j->zeros;
          continue;
        }
        const int64_t oy = (r0 + p) / g->OW, ix0 = ((r0 + p) % g->OW) * g->SW - g->PL;
        const int side = ix0 < 0 || ix0 + FW > g->W;
        int64_t lo = ix0 < 0 ? -ix0 : 0, hi = ix0 + FW > g->W ? g->W - ix0 : FW;
        if (lo > FW) lo = FW;
        if (hi < lo) hi = lo;
        for (int64_t ky = 0; ky < FH; ky++) {
          const int64_t iy = oy * g->SH - g->PT + ky * g->DH;
          if (iy < 0 || iy >= g->H) {
            dst[ky * 6] = j->zeros;
          } else if (!side) {
            dst[ky * 6] = xb + (iy * g->W + ix0) * C;
          } else {
            memset(e, 0, (size_t)CW * sizeof(float));
            if (hi > lo) memcpy(e + lo * C, xb + (iy * g->W + ix0 + lo) * C, (size_t)((hi - lo) * C) * sizeof(float));
            dst[ky * 6] = e;
            e += CW;
          }
        }
      }
    const conv_geom_t g1 = {1, 1, nr, CW, 1, nr, g->OC, FH, 1, 1, 1, 1, 1, 0, 0};
    const float *res = j->fuse && j->e && j->e->residual ? j->e->residual + (b * P + r0) * g->OC : NULL;
    direct_conv_region(NULL, NULL, j->packed, ob, &g1, 0, 0, nr, 0, g->OC, j->zeros, ptrs, j->fuse,
                       j->fuse && j->e ? j->e->bias : NULL, res, j->fuse && j->e ? j->e->act : ACT_LINEAR, NULL);
    if (!j->fuse) epilogue_region(j->out, P, g->OC, b, r0, r0 + nr, 0, g->OC, j->e);
    return;
  }
  const float *A;
  int64_t lda;
  if (g->FH == 1 && g->FW == 1 && g->SH == 1 && g->SW == 1 && g->PT == 0 && g->PL == 0 && g->OH == g->H && g->OW == g->W) {
    A = xb + r0 * C; /* 1×1, stride 1, unpadded: the input is the GEMM operand */
    lda = C;
  } else {
    float *cols = pool_scratch(thread, (size_t)(nr * K));
    if (!cols) {
      j->oom = 1;
      return;
    }
    const size_t run = (size_t)C * sizeof(float);
    for (int64_t r = 0; r < nr; r++) {
      const int64_t oy = (r0 + r) / g->OW, ox = (r0 + r) % g->OW;
      float *dst = cols + r * K;
      for (int64_t ky = 0; ky < g->FH; ky++) {
        const int64_t iy = oy * g->SH - g->PT + ky * g->DH;
        if (iy < 0 || iy >= g->H) {
          memset(dst, 0, (size_t)(g->FW * C) * sizeof(float));
          dst += g->FW * C;
          continue;
        }
        const float *xrow = xb + iy * g->W * C;
        if (g->DW == 1) {
          /* The kx taps are consecutive input pixels: copy the in-bounds span at once, zero the rest. */
          const int64_t ix0 = ox * g->SW - g->PL;
          int64_t lo = ix0 < 0 ? -ix0 : 0;
          if (lo > g->FW) lo = g->FW;
          int64_t hi = ix0 + g->FW > g->W ? g->W - ix0 : g->FW;
          if (hi < lo) hi = lo;
          if (lo > 0) memset(dst, 0, (size_t)(lo * C) * sizeof(float));
          if (hi > lo) memcpy(dst + lo * C, xrow + (ix0 + lo) * C, (size_t)(hi - lo) * run);
          if (hi < g->FW) memset(dst + hi * C, 0, (size_t)((g->FW - hi) * C) * sizeof(float));
          dst += g->FW * C;
          continue;
        }
        for (int64_t kx = 0; kx < g->FW; kx++) {
          const int64_t ix = ox * g->SW - g->PL + kx * g->DW;
          if (ix < 0 || ix >= g->W)
            memset(dst, 0, run);
          else
            memcpy(dst, xrow + ix * C, run);
          dst += C;
        }
      }
    }
    A = cols;
    lda = K;
  }
  if (j->packed) {
    /* im2col + the direct kernel (column dilation only; see the row taps above): the column block is a 1×1
     * convolution over nr "pixels" of K channels. */
    const conv_geom_t g1 = {1, 1, nr, lda, 1, nr, g->OC, 1, 1, 1, 1, 1, 1, 0, 0};
    const size_t ptr_bytes = (size_t)(ceil_div(nr, 6) * 6) * sizeof(const float *);
    float *mem = pool_scratch(thread < 0 ? -2 : thread + POOL_SCRATCH_SECOND, (ptr_bytes + sizeof(float) - 1) / sizeof(float));
    if (!mem) {
      j->oom = 1;
      return;
    }
    const float *res = j->fuse && j->e && j->e->residual ? j->e->residual + (b * P + r0) * g->OC : NULL;
    direct_conv_region(A, NULL, j->packed, ob, &g1, 0, 0, nr, 0, g->OC, j->zeros, (const float **)(void *)mem, j->fuse,
                       j->fuse && j->e ? j->e->bias : NULL, res, j->fuse && j->e ? j->e->act : ACT_LINEAR, NULL);
    if (!j->fuse) epilogue_region(j->out, P, g->OC, b, r0, r0 + nr, 0, g->OC, j->e);
    return;
  }
  const int r = j->gemm_packed ? sgemm_prepacked(nr, g->OC, K, A, lda, j->gemm_packed, 0, ob, g->OC)
                              : mm(0, 0, nr, g->OC, K, A, lda, j->f, g->OC, ob, g->OC);
  if (r != 0) {
    j->oom = 1;
    return;
  }
  epilogue_region(j->out, P, g->OC, b, r0, r0 + nr, 0, g->OC, j->e);
}

static float *zero_row(int64_t n) {
  static float *z = NULL;
  static int64_t len = 0;
  if (n > len) {
    free(z);
    z = (float *)calloc((size_t)n, sizeof(float));
    len = z ? n : 0;
  }
  return z;
}

int64_t packed_filter_size(int64_t K, int64_t OC) {
  return ceil_div(OC, 64) * K * 64;
}

void pack_conv_filter(const float *f, int64_t K, int64_t OC, float *packed) {
  const int64_t nb = ceil_div(OC, 64);
  for (int64_t cb = 0; cb < nb; cb++) {
    const int64_t c0 = cb * 64, nc = OC - c0 < 64 ? OC - c0 : 64;
    float *dst = packed + cb * K * 64;
    for (int64_t k = 0; k < K; k++, dst += 64) {
      memcpy(dst, f + k * OC + c0, (size_t)nc * sizeof(float));
      if (nc < 64) memset(dst + nc, 0, (size_t)(64 - nc) * sizeof(float));
    }
  }
}

int repack_conv_filter_inplace(float *f, int64_t K, int64_t OC, int pack) {
  if (OC % 64 != 0) return -2;
  float *tmp = (float *)malloc((size_t)(K * OC) * sizeof(float));
  if (!tmp) return -1;
  memcpy(tmp, f, (size_t)(K * OC) * sizeof(float));
  if (pack) {
    pack_conv_filter(tmp, K, OC, f);
  } else {
    for (int64_t cb = 0; cb < OC / 64; cb++)
      for (int64_t k = 0; k < K; k++) memcpy(f + k * OC + cb * 64, tmp + (cb * K + k) * 64, 64 * sizeof(float));
  }
  free(tmp);
  return 0;
}

int64_t winograd4_filter_size(int64_t C, int64_t OC) {
  return ceil_div(OC, 64) * 36 * C * 64;
}

/* U = G g Gᵀ per (input, output channel), in float64, into [ceil(OC/64)][n·n][C][64] (n = 4: F(2×2,3×3), n = 6:
 * F(4×4,3×3)). */
static void pack_winograd_any(const float *f, int64_t C, int64_t OC, float *packed, int n, const double (*G)[3]) {
  const int64_t nb = ceil_div(OC, 64), nn = n * n;
  memset(packed, 0, (size_t)(nb * nn * C * 64) * sizeof(float));
  for (int64_t ci = 0; ci < C; ci++)
    for (int64_t co = 0; co < OC; co++) {
      double gk[3][3], t[6][3];
      for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) gk[ky][kx] = f[((ky * 3 + kx) * C + ci) * OC + co];
      for (int i = 0; i < n; i++)
        for (int kx = 0; kx < 3; kx++) t[i][kx] = G[i][0] * gk[0][kx] + G[i][1] * gk[1][kx] + G[i][2] * gk[2][kx];
      for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
          const double u = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
          packed[(((co / 64) * nn + (n * i + j)) * C + ci) * 64 + co % 64] = (float)u;
        }
    }
}

void pack_winograd_filter(const float *f, int64_t C, int64_t OC, float *packed) {
  static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  pack_winograd_any(f, C, OC, packed, 4, G);
}

void pack_winograd4_filter(const float *f, int64_t C, int64_t OC, float *packed) {
  static const double G[6][3] = {{1.0 / 4, 0, 0},
                                 {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                 {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                 {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                 {0, 0, 1}};
  pack_winograd_any(f, C, OC, packed, 6, G);
}

int64_t winograd_filter_size(int64_t C, int64_t OC) {
  return ceil_div(OC, 64) * 16 * C * 64;
}

int par_conv2d(const float *x, const float *f, const float *packed, int packed_kind, float *out, const conv_geom_t *g,
               const epilogue_t *e) {
  const int64_t P = g->OH * g->OW, K = g->FH * g->FW * g->C;
  if (g->B == 0 || P == 0 || g->OC == 0) return 0;
  if (K == 0) {
    memset(out, 0, (size_t)(g->B * P * g->OC) * sizeof(float));
    for (int64_t b = 0; b < g->B; b++) epilogue_region(out, P, g->OC, b, 0, P, 0, g->OC, e);
    return 0;
  }
  const int64_t T = pool_threads();
  conv_job j;
  memset(&j, 0, sizeof j);
  j.x = x;
  j.f = f;
  j.packed = packed_kind == CONV_DIRECT ? packed : NULL;
  j.out = out;
  j.g = g;
  j.e = e;
  const int path = conv_path(g, e);
  const int wino = path == CONV_WINOGRAD || path == CONV_WINOGRAD4;
  /* Without the filter in its own layout, only a matching packing can be read. */
  if (!f && !(packed && (packed_kind == CONV_DIRECT || (wino && packed_kind == path)))) return -2;
  if (wino && packed && packed_kind == path) {
    const int f4 = path == CONV_WINOGRAD4;
    j.wkind = path;
    j.packed = packed;
    j.zeros = zero_row(g->C);
    if (!j.zeros) return -1;
    j.tiles = f4 ? ceil_div(g->OH, 4) * ceil_div(g->OW, 4) : ceil_div(g->OH, 2) * ceil_div(g->OW, 2);
    /* Tiles per task: V ([16 or 36][T][C]) within WINO_V_FLOATS, whole 6-row groups; channel blocks split across tasks
     * when there are too few tile chunks for the threads. Each tile chunk reads the whole transformed filter U once,
     * and U (16 or 36 · C · OC floats) is far larger than V in deep layers, so fewer, larger chunks pay. */
    const int64_t fit = WINO_V_FLOATS / ((f4 ? 36 : 16) * g->C);
    int64_t tt = round_up(fit > 6 ? fit : 6, 6);
    if (tt > j.tiles) tt = j.tiles;
    j.tt = tt;
    j.nt = ceil_div(j.tiles, tt);
    const int64_t nb = ceil_div(g->OC, 64);
    int64_t groups = ceil_div(2 * T, g->B * j.nt);
    if (groups > nb) groups = nb;
    if (groups < 1) groups = 1;
    j.cc = ceil_div(nb, groups) * 64;
    j.ncb = ceil_div(g->OC, j.cc);
    pool_run((int)(g->B * j.nt * j.ncb), conv_wino_task, &j);
    return j.oom ? -1 : 0;
  }
  if (wino) j.packed = NULL; /* packed for another layout: direct kernel on the filter in place */
  if (path == CONV_IM2COL_DIRECT) {
    /* j.packed is set only when the filter came packed for the direct kernel; otherwise im2col + sgemm. */
    j.zeros = zero_row(K);
    if (!j.zeros) return -1;
    j.fuse = conv_epilogue_fusable(e, g->B);
  }
  if (path == CONV_DIRECT || wino) {
    j.zeros = zero_row(g->C);
    if (!j.zeros) return -1;
    j.fuse = conv_epilogue_fusable(e, g->B);
    /* Channel chunks of 64 (one kernel column block; its weights stay in L2 across the pixel tiles of a task) and
     * pixel chunks of whole 6-row tiles, sized for about 4 tasks per thread but at most 384 pixels. */
    j.cc = 64;
    j.ncb = ceil_div(g->OC, 64);
    const int64_t target = 4 * T;
    int64_t per_image = ceil_div(target, g->B * j.ncb);
    if (per_image < 1) per_image = 1;
    int64_t pc = round_up(ceil_div(P, per_image), 6);
    if (pc > 384) pc = 384;
    if (pc < 6) pc = 6;
    j.pc = pc;
    j.np = ceil_div(P, pc);
    j.ntasks = g->B * j.np * j.ncb;
    pool_run((int)j.ntasks, conv_direct_task, &j);
  } else {
    if (path == CONV_IM2COL) {
      /* Our GEMM reads the direct-kernel packing in place (the OpenBLAS build only when there is no other copy). */
      j.gemm_packed = packed && packed_kind == CONV_DIRECT && (!f || !OPENBLAS_BUILD) ? packed : NULL;
      j.packed = NULL;
    }
    /* im2col blocks of about 1 MB (L2) and at least 64 rows; at least two tasks per thread when there is work. */
    int64_t pc = (int64_t)((1u << 18) / (uint64_t)K);
    if (pc < 64) pc = 64;
    const int64_t split = ceil_div(2 * T, g->B);
    if (ceil_div(P, pc) < split && (double)P * (double)K * (double)g->OC >= PAR_MIN_MACS * (double)split) pc = ceil_div(P, split);
    /* Even blocks, whole 6-row tiles: ResNet's stem at 224² is 8 × 1568 rows, not 7 × 1783 + 63 (one thread idle for
     * an eighth of the layer). */
    else pc = round_up(ceil_div(P, ceil_div(P, pc)), 6);
    if (pc > P) pc = P;
    j.pc = pc;
    j.np = ceil_div(P, pc);
    pool_run((int)(g->B * j.np), conv_im2col_task, &j);
  }
  return j.oom ? -1 : 0;
}

int par_linear(const float *x, const float *w, const float *packed, float *out, int64_t m, int64_t n, int64_t k,
               const epilogue_t *e) {
  const conv_geom_t g = {1, 1, m, k, 1, m, n, 1, 1, 1, 1, 1, 1, 0, 0};
  if (packed && conv_uses_direct(&g)) return par_conv2d(x, w, packed, CONV_DIRECT, out, &g, e);
  if (packed && (!w || !OPENBLAS_BUILD)) return par_matmul_impl(1, m, n, k, 0, 0, x, 0, NULL, 0, packed, out, e);
  return par_matmul(1, m, n, k, 0, 0, x, 0, w, 0, out, e);
}
