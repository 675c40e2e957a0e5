/*
 * uol_blas: native kernels for TF.js's wasm backend (see src/engine/native.ts) — this file is the N-API glue;
 * gemm.c (our packed SGEMM), compute.c (matmul/linear, LayerNorm, attention, batch norm, conv dispatch, vector math), conv_avx512.c
 * (direct convolution) and pool.c (thread pool) do the work.
 *
 * Every entry point works in place on Float32Array views the caller hands in (views of the wasm heap, so no copies):
 * it reads the inputs, writes the output, and returns nothing. Shapes and strides are passed as numbers and checked
 * against the views' lengths before anything is touched, so a caller bug throws instead of corrupting the heap.
 *
 * The epilogue (bias, then activation) follows TF.js's fused-kernel definitions:
 *   linear x | relu max(x,0) | relu6 min(max(x,0),6) | prelu x<0 ? w*x : x | leakyrelu x<0 ? alpha*x : x
 *   sigmoid 1/(1+exp(-x)) | elu x>=0 ? x : exp(x)-1
 * with activation codes equal to tfjs-backend-wasm's FusableActivation enum (0..6), plus 7 = exact GELU for our own
 * kernels. Bias and prelu weights are broadcast onto the output viewed as [batch, rows, cols] through three element
 * strides (0 on a broadcast axis), computed by the caller.
 *
 * Hand-written (no library offers this): it is the glue between TF.js tensors and our kernels. Arguments are read by
 * one table-driven helper (unpack) so each entry point only states its arguments and checks their extents.
 */
#include <node_api.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute.h"
#include "gemm.h"
#include "pool.h"

#ifdef UOL_OPENBLAS
/* OpenBLAS extensions (a UOL_BLAS=openblas build, kept to compare against). */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_procs(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
#endif

#define MAX_ARGS 32

#define CHECK_NAPI(env, call)                                                                                          \
  do {                                                                                                                 \
    if ((call) != napi_ok) {                                                                                           \
      napi_throw_error((env), "UOL_BLAS_NAPI", "uol_blas: N-API call failed: " #call);                                 \
      return NULL;                                                                                                     \
    }                                                                                                                  \
  } while (0)

typedef struct {
  float *data;
  size_t length; /* elements */
} f32view;

/* Reads argument i as a Float32Array (or null/undefined when allow_null). Returns 0 after throwing on error. */
static int get_f32(napi_env env, napi_value v, const char *name, int allow_null, f32view *out) {
  napi_valuetype t;
  out->data = NULL;
  out->length = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (allow_null && (t == napi_null || t == napi_undefined)) return 1;
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  napi_typedarray_type tt;
  size_t len;
  void *data;
  napi_value ab;
  size_t off;
  if (!is_ta || napi_get_typedarray_info(env, v, &tt, &len, &data, &ab, &off) != napi_ok || tt != napi_float32_array) {
    char msg[128];
    snprintf(msg, sizeof msg, "uol_blas: %s must be a Float32Array", name);
    napi_throw_type_error(env, "UOL_BLAS_ARG", msg);
    return 0;
  }
  out->data = (float *)data;
  out->length = len;
  return 1;
}

/* Reads argument as a non-negative integer (doubles are accepted when integral), or any integer when `signed_ok`.
 * Returns 0 after throwing. */
static int get_i64(napi_env env, napi_value v, const char *name, int signed_ok, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != floor(d) || (d < 0 && !signed_ok) || fabs(d) > 9007199254740991.0) {
    char msg[128];
    snprintf(msg, sizeof msg, signed_ok ? "uol_blas: %s must be an integer" : "uol_blas: %s must be a non-negative integer", name);
    napi_throw_type_error(env, "UOL_BLAS_ARG", msg);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static int get_f64(napi_env env, napi_value v, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "uol_blas: %s must be a number", name);
    napi_throw_type_error(env, "UOL_BLAS_ARG", msg);
    return 0;
  }
  return 1;
}

/*
 * Argument unpacking, shared by every entry point: a table of (name, kind, destination) read in order.
 * Kinds: 'f' Float32Array, 'F' Float32Array or null/undefined (f32view), 'i' non-negative integer, 's' any integer
 * (int64_t), 'd' number (double).
 */
typedef struct {
  const char *name;
  char kind;
  void *dst;
} arg_t;

/* The call's arguments. */
typedef struct {
  napi_env env;
  size_t argc;
  napi_value argv[MAX_ARGS];
} args_t;

/* Fetches the arguments of a call to `fn` and checks min <= argc <= max. Returns 0 after throwing. */
static int args_get(napi_env env, napi_callback_info info, const char *fn, size_t min, size_t max, args_t *a) {
  a->env = env;
  a->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "UOL_BLAS_NAPI", "uol_blas: N-API call failed: napi_get_cb_info");
    return 0;
  }
  if (a->argc < min || a->argc > max) {
    char msg[160];
    if (min == max)
      snprintf(msg, sizeof msg, "uol_blas.%s: expected %zu arguments", fn, min);
    else
      snprintf(msg, sizeof msg, "uol_blas.%s: expected %zu to %zu arguments", fn, min, max);
    napi_throw_type_error(env, "UOL_BLAS_ARG", msg);
    return 0;
  }
  return 1;
}

/* Reads spec[i] from argument from + i, for the arguments present (missing trailing ones keep their destination's
 * value; an optional Float32Array left out reads as null). Returns 0 after throwing. */
static int unpack(const args_t *a, size_t from, const arg_t *spec, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const arg_t *s = &spec[i];
    if (from + i >= a->argc) {
      if (s->kind == 'F') ((f32view *)s->dst)->data = NULL, ((f32view *)s->dst)->length = 0;
      continue;
    }
    const napi_value v = a->argv[from + i];
    int ok = 0;
    switch (s->kind) {
      case 'f': ok = get_f32(a->env, v, s->name, 0, (f32view *)s->dst); break;
      case 'F': ok = get_f32(a->env, v, s->name, 1, (f32view *)s->dst); break;
      case 'i': ok = get_i64(a->env, v, s->name, 0, (int64_t *)s->dst); break;
      case 's': ok = get_i64(a->env, v, s->name, 1, (int64_t *)s->dst); break;
      case 'd': ok = get_f64(a->env, v, s->name, (double *)s->dst); break;
      default: napi_throw_error(a->env, "UOL_BLAS_NAPI", "uol_blas: bad argument spec"); break;
    }
    if (!ok) return 0;
  }
  return 1;
}

#define NARGS(spec) (sizeof(spec) / sizeof((spec)[0]))

static int range_error(napi_env env, const char *what) {
  char msg[192];
  snprintf(msg, sizeof msg, "uol_blas: %s is too short for the given shape/strides", what);
  napi_throw_range_error(env, "UOL_BLAS_RANGE", msg);
  return 0;
}

static napi_value nomem(napi_env env, const char *fn) {
  char msg[160];
  snprintf(msg, sizeof msg, "uol_blas.%s: out of memory for scratch buffers", fn);
  napi_throw_error(env, "UOL_BLAS_NOMEM", msg);
  return NULL;
}

/* Largest index touched by a [d0,d1,d2] walk with strides s, plus one (0 when any dim is 0). */
static int64_t extent3(int64_t d0, int64_t d1, int64_t d2, int64_t s0, int64_t s1, int64_t s2) {
  if (d0 == 0 || d1 == 0 || d2 == 0) return 0;
  return (d0 - 1) * s0 + (d1 - 1) * s1 + (d2 - 1) * s2 + 1;
}

/* --- epilogue -------------------------------------------------------------------------------------------------- */

/* Parses [bias, bs0, bs1, bs2, act, alpha, prelu, ps0, ps1, ps2] starting at argument i0; checks extents against
 * the output view [d0, d1, d2]. Returns 0 after throwing. */
static int get_epilogue(const args_t *a, size_t i0, int64_t d0, int64_t d1, int64_t d2, epilogue_t *e) {
  f32view bias, prelu;
  int64_t act;
  double alpha;
  memset(e, 0, sizeof *e);
  const arg_t spec[] = {{"bias", 'F', &bias},          {"bias stride", 'i', &e->bs[0]},  {"bias stride", 'i', &e->bs[1]},
                        {"bias stride", 'i', &e->bs[2]}, {"activation", 'i', &act},      {"alpha", 'd', &alpha},
                        {"prelu weights", 'F', &prelu},  {"prelu stride", 'i', &e->ps[0]}, {"prelu stride", 'i', &e->ps[1]},
                        {"prelu stride", 'i', &e->ps[2]}};
  if (!unpack(a, i0, spec, NARGS(spec))) return 0;
  if (act > ACT_MAX) {
    napi_throw_range_error(a->env, "UOL_BLAS_ARG", "uol_blas: unknown activation code");
    return 0;
  }
  if (act == ACT_PRELU && prelu.data == NULL) {
    napi_throw_type_error(a->env, "UOL_BLAS_ARG", "uol_blas: prelu activation needs weights");
    return 0;
  }
  if (bias.data && (int64_t)bias.length < extent3(d0, d1, d2, e->bs[0], e->bs[1], e->bs[2])) return range_error(a->env, "bias");
  if (act == ACT_PRELU && (int64_t)prelu.length < extent3(d0, d1, d2, e->ps[0], e->ps[1], e->ps[2]))
    return range_error(a->env, "prelu weights");
  e->bias = bias.data;
  e->act = (int)act;
  e->alpha = (float)alpha;
  e->prelu = act == ACT_PRELU ? prelu.data : NULL;
  return 1;
}

/* --- matmul ---------------------------------------------------------------------------------------------------- */

/*
 * matmul(a, b, out, batch, m, n, k, transA, transB, aBatchStride, bBatchStride,
 *        bias, bs0, bs1, bs2, act, alpha, prelu, ps0, ps1, ps2)
 * out[z] = epilogue(op(a[z]) @ op(b[z])) for z < batch, where a[z] starts at z*aBatchStride (0 broadcasts a single
 * matrix), op(a) is [m,k] (stored [k,m] when transA), op(b) is [k,n] (stored [n,k] when transB); out is [batch,m,n].
 */
static napi_value Matmul(napi_env env, napi_callback_info info) {
  args_t A;
  f32view a, b, out;
  int64_t batch, m, n, k, ta, tb, as, bsz;
  const arg_t spec[] = {{"a", 'f', &a},           {"b", 'f', &b},          {"out", 'f', &out},
                        {"batch", 'i', &batch},   {"m", 'i', &m},          {"n", 'i', &n},
                        {"k", 'i', &k},           {"transA", 'i', &ta},    {"transB", 'i', &tb},
                        {"aBatchStride", 'i', &as}, {"bBatchStride", 'i', &bsz}};
  if (!args_get(env, info, "matmul", 21, 21, &A) || !unpack(&A, 0, spec, NARGS(spec))) return NULL;
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || batch * m > INT32_MAX) {
    napi_throw_range_error(env, "UOL_BLAS_RANGE", "uol_blas.matmul: dimension exceeds 2^31-1");
    return NULL;
  }
  epilogue_t e;
  if (!get_epilogue(&A, 11, batch, m, n, &e)) return NULL;
  if ((int64_t)out.length < batch * m * n) return range_error(env, "out"), NULL;
  if (batch > 0 && m > 0 && k > 0 && (int64_t)a.length < (batch - 1) * as + m * k) return range_error(env, "a"), NULL;
  if (batch > 0 && n > 0 && k > 0 && (int64_t)b.length < (batch - 1) * bsz + k * n) return range_error(env, "b"), NULL;
  if (par_matmul(batch, m, n, k, ta ? 1 : 0, tb ? 1 : 0, a.data, as, b.data, bsz, out.data, &e) != 0) return nomem(env, "matmul");
  return NULL;
}

/*
 * gemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc): C[m,n] = op(A)·op(B) on one thread through the addon's own
 * sgemm (gemm.h) with explicit leading dimensions — the primitive every product above is built on, exposed for its
 * tests.
 */
static napi_value Gemm(napi_env env, napi_callback_info info) {
  args_t A;
  f32view a, b, c;
  int64_t ta, tb, m, n, k, lda, ldb, ldc;
  const arg_t spec[] = {{"transA", 'i', &ta}, {"transB", 'i', &tb}, {"m", 'i', &m},     {"n", 'i', &n},
                        {"k", 'i', &k},       {"a", 'f', &a},       {"lda", 'i', &lda}, {"b", 'f', &b},
                        {"ldb", 'i', &ldb},   {"c", 'f', &c},       {"ldc", 'i', &ldc}};
  if (!args_get(env, info, "gemm", 11, 11, &A) || !unpack(&A, 0, spec, NARGS(spec))) return NULL;
  const int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  if (lda < (ac > 1 ? ac : 1) || ldb < (bc > 1 ? bc : 1) || ldc < (n > 1 ? n : 1)) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas.gemm: a leading dimension is smaller than its row");
    return NULL;
  }
  if (m > 0 && k > 0 && (int64_t)a.length < (ar - 1) * lda + ac) return range_error(env, "a"), NULL;
  if (n > 0 && k > 0 && (int64_t)b.length < (br - 1) * ldb + bc) return range_error(env, "b"), NULL;
  if (m > 0 && n > 0 && (int64_t)c.length < (m - 1) * ldc + n) return range_error(env, "c"), NULL;
  if (sgemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, a.data, lda, b.data, ldb, c.data, ldc) != 0) return nomem(env, "gemm");
  return NULL;
}

/*
 * linear(x, w, out, m, n, k, bias, act, scale, residual[, packed])
 * out[m,n] = act(x[m,k] @ w[k,n] + bias[n]) · scale[n] + residual[m,n]; bias, scale, residual may be null; act is
 * linear (0), relu (1) or gelu (7). The fused Linear of our transformer blocks. With `packed` (w from
 * packConvFilter(w, k, n)) the kernels read only the packed copy, and `w` may be null.
 */
static napi_value Linear(napi_env env, napi_callback_info info) {
  args_t A;
  f32view x, w, out, bias, scale, res, packed = {NULL, 0};
  int64_t m, n, k, act;
  const arg_t spec[] = {{"x", 'f', &x},        {"w", 'F', &w},           {"out", 'f', &out},        {"m", 'i', &m},
                        {"n", 'i', &n},        {"k", 'i', &k},           {"bias", 'F', &bias},      {"activation", 'i', &act},
                        {"scale", 'F', &scale}, {"residual", 'F', &res}, {"packed", 'F', &packed}};
  if (!args_get(env, info, "linear", 10, 11, &A) || !unpack(&A, 0, spec, NARGS(spec))) return NULL;
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) {
    napi_throw_range_error(env, "UOL_BLAS_RANGE", "uol_blas.linear: dimension exceeds 2^31-1");
    return NULL;
  }
  if (act != ACT_LINEAR && act != ACT_RELU && act != ACT_GELU) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas.linear: activation must be 0 (linear), 1 (relu) or 7 (gelu)");
    return NULL;
  }
  if (!w.data && !packed.data) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.linear: w must be a Float32Array when packed is not given");
    return NULL;
  }
  if ((int64_t)x.length < m * k) return range_error(env, "x"), NULL;
  if (w.data && (int64_t)w.length < k * n) return range_error(env, "w"), NULL;
  if ((int64_t)out.length < m * n) return range_error(env, "out"), NULL;
  if (bias.data && (int64_t)bias.length < n) return range_error(env, "bias"), NULL;
  if (scale.data && (int64_t)scale.length < n) return range_error(env, "scale"), NULL;
  if (res.data && (int64_t)res.length < m * n) return range_error(env, "residual"), NULL;
  if (packed.data && (int64_t)packed.length < packed_filter_size(k, n)) return range_error(env, "packed"), NULL;
  epilogue_t e;
  memset(&e, 0, sizeof e);
  e.bias = bias.data;
  e.bs[2] = 1;
  e.act = (int)act;
  e.scale = scale.data;
  e.residual = res.data;
  if (par_linear(x.data, w.data, packed.data, out.data, m, n, k, &e) != 0) return nomem(env, "linear");
  return NULL;
}

/* linearPath(m, n, k) -> 'direct' | 'gemm': which algorithm linear uses with a packed weight (the direct kernel at the
 * ISA level in effect, or the packed GEMM). */
static napi_value LinearPath(napi_env env, napi_callback_info info) {
  args_t A;
  int64_t m, n, k;
  const arg_t spec[] = {{"m", 'i', &m}, {"n", 'i', &n}, {"k", 'i', &k}};
  if (!args_get(env, info, "linearPath", 3, 3, &A) || !unpack(&A, 0, spec, NARGS(spec))) return NULL;
  const conv_geom_t g = {1, 1, m, k, 1, m, n, 1, 1, 1, 1, 1, 1, 0, 0};
  napi_value s;
  CHECK_NAPI(env, napi_create_string_utf8(env, conv_uses_direct(&g) ? "direct" : "gemm", NAPI_AUTO_LENGTH, &s));
  return s;
}

/* layerNorm(x, gamma, beta, out, rows, C, eps): LayerNorm over the last axis of x [rows, C] (biased variance). */
static napi_value LayerNorm(napi_env env, napi_callback_info info) {
  args_t A;
  f32view x, g, b, out;
  int64_t rows, C;
  double eps;
  const arg_t spec[] = {{"x", 'f', &x},       {"gamma", 'f', &g}, {"beta", 'f', &b}, {"out", 'f', &out},
                        {"rows", 'i', &rows}, {"C", 'i', &C},     {"eps", 'd', &eps}};
  if (!args_get(env, info, "layerNorm", 7, 7, &A) || !unpack(&A, 0, spec, NARGS(spec))) return NULL;
  if ((int64_t)x.length < rows * C) return range_error(env, "x"), NULL;
  if ((int64_t)out.length < rows * C) return range_error(env, "out"), NULL;
  if ((int64_t)g.length < C) return range_error(env, "gamma"), NULL;
  if ((int64_t)b.length < C) return range_error(env, "beta"), NULL;
  par_layernorm(x.data, g.data, b.data, out.data, rows, C, (float)eps);
  return NULL;
}

/* batchNorm(x, mean, variance, offset, scale, out, rows, C, eps): inference batch norm over the last axis of x [rows, C];
 * offset and scale may be null. */
static napi_value BatchNorm(napi_env env, napi_callback_info info) {
  args_t A;
  f32view x, mean, var, off, scale, out;
  int64_t rows, C;
  double eps;
  const arg_t spec[] = {{"x", 'f', &x},         {"mean", 'f', &mean},  {"variance", 'f', &var},
                        {"offset", 'F', &off},  {"scale", 'F', &scale}, {"out", 'f', &out},
                        {"rows", 'i', &rows},   {"C", 'i', &C},         {"eps", 'd', &eps}};
  if (!args_get(env, info, "batchNorm", 9, 9, &A) || !unpack(&A, 0, spec, NARGS(spec))) return NULL;
  if ((int64_t)x.length < rows * C) return range_error(env, "x"), NULL;
  if ((int64_t)out.length < rows * C) return range_error(env, "out"), NULL;
  if ((int64_t)mean.length < C) return range_error(env, "mean"), NULL;
  if ((int64_t)var.length < C) return range_error(env, "variance"), NULL;
  if (off.data && (int64_t)off.length < C) return range_error(env, "offset"), NULL;
  if (scale.data && (int64_t)scale.length < C) return range_error(env, "scale"), NULL;
  par_batchnorm(x.data, mean.data, var.data, off.data, scale.data, out.data, rows, C, (float)eps);
  return NULL;
}

/* maxPool(x, out, B, H, W, C, outH, outW, fH, fW, sH, sW, padTop, padLeft): NHWC max pooling, padding excluded. */
static napi_value MaxPool(napi_env env, napi_callback_info info) {
  args_t A;
  f32view x, out;
  maxpool_geom_t g;
  const arg_t spec[] = {{"x", 'f', &x},        {"out", 'f', &out},   {"B", 'i', &g.B},     {"inH", 'i', &g.H},
                        {"inW", 'i', &g.W},    {"C", 'i', &g.C},     {"outH", 'i', &g.OH}, {"outW", 'i', &g.OW},
                        {"fH", 'i', &g.FH},    {"fW", 'i', &g.FW},   {"sH", 'i', &g.SH},   {"sW", 'i', &g.SW},
                        {"padTop", 's', &g.PT}, {"padLeft", 's', &g.PL}};
  if (!args_get(env, info, "maxPool", 14, 14, &A) || !unpack(&A, 0, spec, NARGS(spec))) return NULL;
  if (g.FH < 1 || g.FW < 1 || g.SH < 1 || g.SW < 1) return range_error(env, "window and strides (≥ 1)"), NULL;
  if ((int64_t)x.length < g.B * g.H * g.W * g.C) return range_error(env, "x"), NULL;
  if ((int64_t)out.length < g.B * g.OH * g.OW * g.C) return range_error(env, "out"), NULL;
  par_maxpool(x.data, out.data, &g);
  return NULL;
}

/* attention(qkv, out, B, N, heads, C): out [B·N, C] = per-head softmax(q kᵀ) v from qkv [B·N, 3C] (q pre-scaled). */
static napi_value Attention(napi_env env, napi_callback_info info) {
  args_t A;
  f32view qkv, out;
  int64_t B, N, heads, C;
  const arg_t spec[] = {{"qkv", 'f', &qkv}, {"out", 'f', &out}, {"B", 'i', &B}, {"N", 'i', &N}, {"heads", 'i', &heads}, {"C", 'i', &C}};
  if (!args_get(env, info, "attention", 6, 6, &A) || !unpack(&A, 0, spec, NARGS(spec))) return NULL;
  if (heads == 0 || C % heads != 0) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas.attention: C must be a positive multiple of heads");
    return NULL;
  }
  if (N > INT32_MAX || 3 * C > INT32_MAX) {
    napi_throw_range_error(env, "UOL_BLAS_RANGE", "uol_blas.attention: dimension exceeds 2^31-1");
    return NULL;
  }
  if ((int64_t)qkv.length < B * N * 3 * C) return range_error(env, "qkv"), NULL;
  if ((int64_t)out.length < B * N * C) return range_error(env, "out"), NULL;
  if (par_attention(qkv.data, out.data, B, N, heads, C / heads) != 0) return nomem(env, "attention");
  return NULL;
}

/* --- conv2d ---------------------------------------------------------------------------------------------------- */

static const char *const geom_names[] = {"B",  "inH",     "inW",     "inC",  "outH", "outW",   "outC",   "fH",
                                         "fW", "strideH", "strideW", "dilH", "dilW", "padTop", "padLeft"};

/* Reads the 15 geometry numbers starting at argument i0. Returns 0 after throwing. */
static int get_geometry(const args_t *a, size_t i0, conv_geom_t *g) {
  int64_t *v[15] = {&g->B, &g->H, &g->W, &g->C, &g->OH, &g->OW, &g->OC, &g->FH, &g->FW, &g->SH, &g->SW, &g->DH, &g->DW, &g->PT, &g->PL};
  arg_t spec[15];
  for (int i = 0; i < 15; i++) spec[i] = (arg_t){geom_names[i], 'i', v[i]};
  return unpack(a, i0, spec, 15);
}

/*
 * conv2d(x, filter, out, B, inH, inW, inC, outH, outW, outC, fH, fW, strideH, strideW, dilH, dilW, padTop, padLeft,
 *        bias, bs0, bs1, bs2, act, alpha, prelu, ps0, ps1, ps2[, packed[, residual[, packedKind]]])
 * NHWC input [B,inH,inW,inC], HWIO filter [fH,fW,inC,outC], NHWC output [B,outH,outW,outC]; zero padding. The
 * epilogue views the output as [B, outH*outW, outC]. `packed` is the filter packed by packConvFilter (packedKind 1,
 * the default), packWinogradFilter (2) or packWinograd4Filter (4); the algorithm is convPath's when the packing matches it. With a packConvFilter
 * packing, `filter` may be null (every path then reads the packed copy only). `residual` (the output's shape) is added
 * before the activation: act(conv + bias + residual).
 */
static napi_value Conv2d(napi_env env, napi_callback_info info) {
  args_t A;
  f32view x, f, out, packed = {NULL, 0}, res = {NULL, 0};
  int64_t kind = CONV_DIRECT;
  const arg_t head[] = {{"x", 'f', &x}, {"filter", 'F', &f}, {"out", 'f', &out}};
  const arg_t tail[] = {{"packed filter", 'F', &packed}, {"residual", 'F', &res}, {"packed kind", 'i', &kind}};
  conv_geom_t g;
  if (!args_get(env, info, "conv2d", 28, 31, &A) || !unpack(&A, 0, head, NARGS(head)) || !get_geometry(&A, 3, &g) ||
      !unpack(&A, 28, tail, NARGS(tail)))
    return NULL;
  if (kind != CONV_DIRECT && kind != CONV_WINOGRAD && kind != CONV_WINOGRAD4) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas.conv2d: packed kind must be 1 (direct), 2 (winograd) or 4 (winograd4)");
    return NULL;
  }
  if (!f.data && !packed.data) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.conv2d: filter must be a Float32Array unless packed is given");
    return NULL;
  }
  const int64_t rows_per_image = g.OH * g.OW;
  const int64_t K = g.FH * g.FW * g.C;
  if (rows_per_image > INT32_MAX || K > INT32_MAX || g.OC > INT32_MAX || g.B * rows_per_image > INT32_MAX) {
    napi_throw_range_error(env, "UOL_BLAS_RANGE", "uol_blas.conv2d: dimension exceeds 2^31-1");
    return NULL;
  }
  epilogue_t e;
  if (!get_epilogue(&A, 18, g.B, rows_per_image, g.OC, &e)) return NULL;
  if ((int64_t)x.length < g.B * g.H * g.W * g.C) return range_error(env, "x"), NULL;
  if (f.data && (int64_t)f.length < K * g.OC) return range_error(env, "filter"), NULL;
  if ((int64_t)out.length < g.B * rows_per_image * g.OC) return range_error(env, "out"), NULL;
  if (packed.data && kind == CONV_DIRECT && (int64_t)packed.length < packed_filter_size(K, g.OC)) return range_error(env, "packed filter"), NULL;
  if (packed.data && kind == CONV_WINOGRAD && (g.FH != 3 || g.FW != 3 || (int64_t)packed.length < winograd_filter_size(g.C, g.OC)))
    return range_error(env, "packed filter"), NULL;
  if (packed.data && kind == CONV_WINOGRAD4 && (g.FH != 3 || g.FW != 3 || (int64_t)packed.length < winograd4_filter_size(g.C, g.OC)))
    return range_error(env, "packed filter"), NULL;
  if (res.data && (int64_t)res.length < g.B * rows_per_image * g.OC) return range_error(env, "residual"), NULL;
  e.residual = res.data;
  e.residual_first = 1;
  /* Both paths read x only at 0 <= iy < H, 0 <= ix < W (padding reads a zero row), so any geometry is memory-safe. */
  const int rc = par_conv2d(x.data, f.data, packed.data, (int)kind, out.data, &g, &e);
  if (rc == -2) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.conv2d: this geometry's algorithm needs the filter (null given)");
    return NULL;
  }
  if (rc != 0) return nomem(env, "conv2d");
  return NULL;
}

/* Packs a filter (`kind` 1: packConvFilter, 2: packWinogradFilter, 4: packWinograd4Filter) into a new Float32Array. */
static napi_value pack_filter(napi_env env, napi_callback_info info, int kind) {
  args_t A;
  f32view f;
  int64_t r, OC;
  const arg_t spec[] = {{"filter", 'f', &f}, {kind == 1 ? "K" : "C", 'i', &r}, {"OC", 'i', &OC}};
  static const char *names[] = {"", "packConvFilter", "packWinogradFilter", "", "packWinograd4Filter"};
  if (!args_get(env, info, names[kind], 3, 3, &A) || !unpack(&A, 0, spec, NARGS(spec)))
    return NULL;
  const int64_t rows = kind == 1 ? r : 9 * r;
  if ((int64_t)f.length < rows * OC) return range_error(env, "filter"), NULL;
  const int64_t n = kind == 1 ? packed_filter_size(r, OC) : kind == 2 ? winograd_filter_size(r, OC) : winograd4_filter_size(r, OC);
  napi_value ab, ta;
  void *data;
  CHECK_NAPI(env, napi_create_arraybuffer(env, (size_t)n * sizeof(float), &data, &ab));
  if (kind == 1)
    pack_conv_filter(f.data, r, OC, (float *)data);
  else if (kind == 2)
    pack_winograd_filter(f.data, r, OC, (float *)data);
  else
    pack_winograd4_filter(f.data, r, OC, (float *)data);
  CHECK_NAPI(env, napi_create_typedarray(env, napi_float32_array, (size_t)n, ab, 0, &ta));
  return ta;
}

/* packConvFilter(filter, K, OC) -> Float32Array: the HWIO filter viewed as [K, OC] in the direct kernel's layout
 * (also the GEMM's pre-packed B: panels of 64 columns). */
static napi_value PackConvFilter(napi_env env, napi_callback_info info) {
  return pack_filter(env, info, 1);
}

/* packWinogradFilter(filter, C, OC) -> Float32Array: a 3×3 HWIO filter as Winograd F(2×2,3×3) weights. */
static napi_value PackWinogradFilter(napi_env env, napi_callback_info info) {
  return pack_filter(env, info, 2);
}

/* packWinograd4Filter(filter, C, OC) -> Float32Array: a 3×3 HWIO filter as Winograd F(4×4,3×3) weights. */
static napi_value PackWinograd4Filter(napi_env env, napi_callback_info info) {
  return pack_filter(env, info, 4);
}

/* repackInPlace(filter, K, OC, pack): rewrites the [K, OC] filter (OC a multiple of 64) in place into packConvFilter's
 * layout (pack 1) or back (pack 0), through a temporary buffer that is freed at once — no lasting copy. */
static napi_value RepackInPlace(napi_env env, napi_callback_info info) {
  args_t A;
  f32view f;
  int64_t K, OC, pack;
  const arg_t spec[] = {{"filter", 'f', &f}, {"K", 'i', &K}, {"OC", 'i', &OC}, {"pack", 'i', &pack}};
  if (!args_get(env, info, "repackInPlace", 4, 4, &A) || !unpack(&A, 0, spec, NARGS(spec))) return NULL;
  if ((int64_t)f.length < K * OC) return range_error(env, "filter"), NULL;
  const int rc = repack_conv_filter_inplace(f.data, K, OC, pack ? 1 : 0);
  if (rc == -2) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas.repackInPlace: OC must be a multiple of 64");
    return NULL;
  }
  if (rc != 0) return nomem(env, "repackInPlace");
  return NULL;
}

/* convPath(...15 geometry numbers[, fusable]) -> 'im2col' | 'direct' | 'winograd' (F(2×2,3×3)) | 'winograd4'
 * (F(4×4,3×3)) | 'im2col-direct' (im2col, then the direct kernel on the columns; for few input channels): the algorithm conv2d uses for this
 * geometry when the filter is packed for it; `fusable` (default 1) says whether the epilogue is per-channel bias,
 * residual and linear/relu/relu6 only. */
static napi_value ConvPath(napi_env env, napi_callback_info info) {
  args_t A;
  conv_geom_t g;
  int64_t fusable = 1;
  const arg_t tail[] = {{"fusable", 'i', &fusable}};
  if (!args_get(env, info, "convPath", 15, 16, &A) || !get_geometry(&A, 0, &g) || !unpack(&A, 15, tail, 1)) return NULL;
  epilogue_t unfusable;
  memset(&unfusable, 0, sizeof unfusable);
  unfusable.act = ACT_ELU;
  const int path = conv_path(&g, fusable ? NULL : &unfusable);
  napi_value s;
  static const char *names[] = {"im2col", "direct", "winograd", "im2col-direct", "winograd4"};
  CHECK_NAPI(env, napi_create_string_utf8(env, names[path], NAPI_AUTO_LENGTH, &s));
  return s;
}

/* --- settings / info ------------------------------------------------------------------------------------------- */

/* setConvMode(mode): -1 auto, 0 always im2col + GEMM, 1 direct kernel (no Winograd), 2 Winograd F(2×2,3×3) where it
 * applies, 3 Winograd F(4×4,3×3) where it applies. */
static napi_value SetConvMode(napi_env env, napi_callback_info info) {
  args_t A;
  int64_t mode;
  const arg_t spec[] = {{"mode", 's', &mode}};
  if (!args_get(env, info, "setConvMode", 1, 1, &A) || !unpack(&A, 0, spec, 1)) return NULL;
  if (mode < -1 || mode > 3) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.setConvMode: expected -1, 0, 1, 2 or 3");
    return NULL;
  }
  conv_set_mode((int)mode);
  return NULL;
}

/* setIsa(level) -> level in effect: -1 auto (the best this CPU runs), 0 portable C, 1 AVX2+FMA, 2 AVX-512; a level above
 * the CPU's is lowered to it. Call between kernels. */
static napi_value SetIsa(napi_env env, napi_callback_info info) {
  args_t A;
  int64_t lvl;
  const arg_t spec[] = {{"level", 's', &lvl}};
  if (!args_get(env, info, "setIsa", 1, 1, &A) || !unpack(&A, 0, spec, 1)) return NULL;
  if (lvl < -1 || lvl > ISA_AVX512) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas.setIsa: expected -1 (auto), 0 (portable), 1 (avx2) or 2 (avx512)");
    return NULL;
  }
  napi_value v;
  CHECK_NAPI(env, napi_create_int32(env, gemm_set_isa((int)lvl), &v));
  return v;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  args_t A;
  int64_t n = 0;
  const arg_t spec[] = {{"threads", 'i', &n}};
  if (!args_get(env, info, "setThreads", 1, 1, &A) || !unpack(&A, 0, spec, 1)) return NULL;
  if (n < 1 || n > 1024) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas.setThreads: expected 1..1024");
    return NULL;
  }
  pool_set_threads((int)n);
  return NULL;
}

/* setSpin(us): microseconds an idle pool worker spins before sleeping. */
static napi_value SetSpin(napi_env env, napi_callback_info info) {
  args_t A;
  int64_t us;
  const arg_t spec[] = {{"us", 'i', &us}};
  if (!args_get(env, info, "setSpin", 1, 1, &A) || !unpack(&A, 0, spec, 1)) return NULL;
  pool_set_spin_us(us > 1000000 ? 1000000 : (int)us);
  return NULL;
}

static int set_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  if (napi_create_string_utf8(env, val ? val : "", NAPI_AUTO_LENGTH, &v) != napi_ok) return 0;
  return napi_set_named_property(env, obj, key, v) == napi_ok;
}

static int set_int(napi_env env, napi_value obj, const char *key, int val) {
  napi_value v;
  if (napi_create_int32(env, val, &v) != napi_ok) return 0;
  return napi_set_named_property(env, obj, key, v) == napi_ok;
}

/*
 * info() -> { blas, isa, isaDetected, corename, config, threads, procs, directConv }: blas 'uol' (our GEMM) or
 * 'openblas' (a UOL_BLAS=openblas build); isa the kernels' level in effect and isaDetected the CPU's best ('avx512',
 * 'avx2', 'portable'); corename/config describe the GEMM (OpenBLAS's own words in an OpenBLAS build); threads is the
 * addon's pool; directConv 1 when the direct/Winograd conv kernels run (every level).
 */
static napi_value Info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  CHECK_NAPI(env, napi_create_object(env, &obj));
  const char *isa = gemm_isa_name(gemm_isa());
#ifdef UOL_OPENBLAS
  const char *blas = "openblas", *corename = openblas_get_corename(), *config = openblas_get_config();
  const int procs = openblas_get_num_procs();
#else
  char config[96];
  snprintf(config, sizeof config, "uol packed sgemm (%s micro-kernel)", isa);
  const char *blas = "uol", *corename = isa;
  const int procs = pool_threads();
#endif
  if (!set_str(env, obj, "blas", blas) || !set_str(env, obj, "isa", isa) ||
      !set_str(env, obj, "isaDetected", gemm_isa_name(gemm_isa_detected())) || !set_str(env, obj, "corename", corename) ||
      !set_str(env, obj, "config", config) || !set_int(env, obj, "threads", pool_threads()) || !set_int(env, obj, "procs", procs) ||
      !set_int(env, obj, "directConv", direct_conv_available())) {
    napi_throw_error(env, "UOL_BLAS_NAPI", "uol_blas.info: N-API call failed");
    return NULL;
  }
  return obj;
}

static napi_value Init(napi_env env, napi_value exports) {
#ifdef UOL_OPENBLAS
  /* Parallelism comes from the addon's pool; OpenBLAS runs single-threaded inside its tasks. */
  openblas_set_num_threads(1);
#endif
  napi_property_descriptor desc[] = {
      {"matmul", NULL, Matmul, NULL, NULL, NULL, napi_default, NULL},
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_default, NULL},
      {"linear", NULL, Linear, NULL, NULL, NULL, napi_default, NULL},
      {"linearPath", NULL, LinearPath, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, LayerNorm, NULL, NULL, NULL, napi_default, NULL},
      {"attention", NULL, Attention, NULL, NULL, NULL, napi_default, NULL},
      {"batchNorm", NULL, BatchNorm, NULL, NULL, NULL, napi_default, NULL},
      {"maxPool", NULL, MaxPool, NULL, NULL, NULL, napi_default, NULL},
      {"conv2d", NULL, Conv2d, NULL, NULL, NULL, napi_default, NULL},
      {"convPath", NULL, ConvPath, NULL, NULL, NULL, napi_default, NULL},
      {"packConvFilter", NULL, PackConvFilter, NULL, NULL, NULL, napi_default, NULL},
      {"packWinogradFilter", NULL, PackWinogradFilter, NULL, NULL, NULL, napi_default, NULL},
      {"packWinograd4Filter", NULL, PackWinograd4Filter, NULL, NULL, NULL, napi_default, NULL},
      {"repackInPlace", NULL, RepackInPlace, NULL, NULL, NULL, napi_default, NULL},
      {"setConvMode", NULL, SetConvMode, NULL, NULL, NULL, napi_default, NULL},
      {"setIsa", NULL, SetIsa, NULL, NULL, NULL, napi_default, NULL},
      {"setSpin", NULL, SetSpin, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof desc / sizeof desc[0], desc) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
