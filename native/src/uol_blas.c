/*
 * uol_blas: native kernels for TF.js's wasm backend (see src/engine/native.ts) — this file is the N-API glue;
 * compute.c (matmul/linear on OpenBLAS, LayerNorm, attention, batch norm, conv dispatch, vector math), conv_avx512.c
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
 * Hand-written (no library offers this): it is the glue between TF.js tensors, cblas_sgemm and our kernels.
 */
#include <node_api.h>
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute.h"
#include "pool.h"

/* OpenBLAS extensions (declared here too, in case cblas.h comes from another CBLAS). */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern int openblas_get_num_procs(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);


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
  if (!is_ta) {
    char msg[128];
    snprintf(msg, sizeof msg, "uol_blas: %s must be a Float32Array", name);
    napi_throw_type_error(env, "UOL_BLAS_ARG", msg);
    return 0;
  }
  napi_typedarray_type tt;
  size_t len;
  void *data;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &tt, &len, &data, &ab, &off) != napi_ok || tt != napi_float32_array) {
    char msg[128];
    snprintf(msg, sizeof msg, "uol_blas: %s must be a Float32Array", name);
    napi_throw_type_error(env, "UOL_BLAS_ARG", msg);
    return 0;
  }
  out->data = (float *)data;
  out->length = len;
  return 1;
}

/* Reads argument as a non-negative integer (doubles are accepted when integral). Returns 0 after throwing. */
static int get_i64(napi_env env, napi_value v, const char *name, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != floor(d) || d < 0 || d > 9007199254740991.0) {
    char msg[128];
    snprintf(msg, sizeof msg, "uol_blas: %s must be a non-negative integer", name);
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

static int range_error(napi_env env, const char *what) {
  char msg[192];
  snprintf(msg, sizeof msg, "uol_blas: %s is too short for the given shape/strides", what);
  napi_throw_range_error(env, "UOL_BLAS_RANGE", msg);
  return 0;
}

/* Largest index touched by a [d0,d1,d2] walk with strides s, plus one (0 when any dim is 0). */
static int64_t extent3(int64_t d0, int64_t d1, int64_t d2, int64_t s0, int64_t s1, int64_t s2) {
  if (d0 == 0 || d1 == 0 || d2 == 0) return 0;
  return (d0 - 1) * s0 + (d1 - 1) * s1 + (d2 - 1) * s2 + 1;
}

/* --- epilogue -------------------------------------------------------------------------------------------------- */

/* Parses [bias, bs0, bs1, bs2, act, alpha, prelu, ps0, ps1, ps2] starting at argv[i0]; checks extents against
 * the output view [d0, d1, d2]. Returns 0 after throwing. */
static int get_epilogue(napi_env env, napi_value *argv, int i0, int64_t d0, int64_t d1, int64_t d2, epilogue_t *e) {
  f32view bias, prelu;
  int64_t act;
  double alpha;
  memset(e, 0, sizeof *e);
  if (!get_f32(env, argv[i0], "bias", 1, &bias)) return 0;
  for (int k = 0; k < 3; k++)
    if (!get_i64(env, argv[i0 + 1 + k], "bias stride", &e->bs[k])) return 0;
  if (!get_i64(env, argv[i0 + 4], "activation", &act)) return 0;
  if (!get_f64(env, argv[i0 + 5], "alpha", &alpha)) return 0;
  if (!get_f32(env, argv[i0 + 6], "prelu weights", 1, &prelu)) return 0;
  for (int k = 0; k < 3; k++)
    if (!get_i64(env, argv[i0 + 7 + k], "prelu stride", &e->ps[k])) return 0;
  if (act > ACT_MAX) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas: unknown activation code");
    return 0;
  }
  if (act == ACT_PRELU && prelu.data == NULL) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas: prelu activation needs weights");
    return 0;
  }
  if (bias.data && (int64_t)bias.length < extent3(d0, d1, d2, e->bs[0], e->bs[1], e->bs[2])) return range_error(env, "bias");
  if (act == ACT_PRELU && (int64_t)prelu.length < extent3(d0, d1, d2, e->ps[0], e->ps[1], e->ps[2]))
    return range_error(env, "prelu weights");
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
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 21) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.matmul: expected 21 arguments");
    return NULL;
  }
  f32view a, b, out;
  int64_t batch, m, n, k, ta, tb, as, bsz;
  if (!get_f32(env, argv[0], "a", 0, &a) || !get_f32(env, argv[1], "b", 0, &b) || !get_f32(env, argv[2], "out", 0, &out))
    return NULL;
  if (!get_i64(env, argv[3], "batch", &batch) || !get_i64(env, argv[4], "m", &m) || !get_i64(env, argv[5], "n", &n) ||
      !get_i64(env, argv[6], "k", &k) || !get_i64(env, argv[7], "transA", &ta) || !get_i64(env, argv[8], "transB", &tb) ||
      !get_i64(env, argv[9], "aBatchStride", &as) || !get_i64(env, argv[10], "bBatchStride", &bsz))
    return NULL;
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || batch * m > INT32_MAX) {
    napi_throw_range_error(env, "UOL_BLAS_RANGE", "uol_blas.matmul: dimension exceeds 2^31-1");
    return NULL;
  }
  epilogue_t e;
  if (!get_epilogue(env, argv, 11, batch, m, n, &e)) return NULL;
  if ((int64_t)out.length < batch * m * n) {
    range_error(env, "out");
    return NULL;
  }
  if (batch > 0 && m > 0 && k > 0 && (int64_t)a.length < (batch - 1) * as + m * k) {
    range_error(env, "a");
    return NULL;
  }
  if (batch > 0 && n > 0 && k > 0 && (int64_t)b.length < (batch - 1) * bsz + k * n) {
    range_error(env, "b");
    return NULL;
  }
  par_matmul(batch, m, n, k, ta ? 1 : 0, tb ? 1 : 0, a.data, as, b.data, bsz, out.data, &e);
  return NULL;
}

/*
 * linear(x, w, out, m, n, k, bias, act, scale, residual[, packed])
 * out[m,n] = act(x[m,k] @ w[k,n] + bias[n]) · scale[n] + residual[m,n]; bias, scale, residual may be null; act is
 * linear (0), relu (1) or gelu (7). The fused Linear of our transformer blocks. `packed` (w from packConvFilter(w, k,
 * n)) selects the direct kernel on AVX-512 CPUs.
 */
static napi_value Linear(napi_env env, napi_callback_info info) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 10 && argc != 11) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.linear: expected 10 or 11 arguments");
    return NULL;
  }
  f32view x, w, out, bias, scale, res, packed = {NULL, 0};
  int64_t m, n, k, act;
  if (!get_f32(env, argv[0], "x", 0, &x) || !get_f32(env, argv[1], "w", 0, &w) || !get_f32(env, argv[2], "out", 0, &out) ||
      !get_i64(env, argv[3], "m", &m) || !get_i64(env, argv[4], "n", &n) || !get_i64(env, argv[5], "k", &k) ||
      !get_f32(env, argv[6], "bias", 1, &bias) || !get_i64(env, argv[7], "activation", &act) ||
      !get_f32(env, argv[8], "scale", 1, &scale) || !get_f32(env, argv[9], "residual", 1, &res) ||
      (argc == 11 && !get_f32(env, argv[10], "packed", 1, &packed)))
    return NULL;
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) {
    napi_throw_range_error(env, "UOL_BLAS_RANGE", "uol_blas.linear: dimension exceeds 2^31-1");
    return NULL;
  }
  if (act != ACT_LINEAR && act != ACT_RELU && act != ACT_GELU) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas.linear: activation must be 0 (linear), 1 (relu) or 7 (gelu)");
    return NULL;
  }
  if ((int64_t)x.length < m * k) return range_error(env, "x"), NULL;
  if ((int64_t)w.length < k * n) return range_error(env, "w"), NULL;
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
  if (par_linear(x.data, w.data, packed.data, out.data, m, n, k, &e) != 0) {
    napi_throw_error(env, "UOL_BLAS_NOMEM", "uol_blas.linear: out of memory for scratch buffers");
    return NULL;
  }
  return NULL;
}

/* linearPath(m, n, k) -> 'direct' | 'blas': which algorithm linear uses with a packed weight. */
static napi_value LinearPath(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t m, n, k;
  if (argc != 3 || !get_i64(env, argv[0], "m", &m) || !get_i64(env, argv[1], "n", &n) || !get_i64(env, argv[2], "k", &k)) return NULL;
  const conv_geom_t g = {1, 1, m, k, 1, m, n, 1, 1, 1, 1, 1, 1, 0, 0};
  napi_value s;
  CHECK_NAPI(env, napi_create_string_utf8(env, conv_uses_direct(&g) ? "direct" : "blas", NAPI_AUTO_LENGTH, &s));
  return s;
}

/* layerNorm(x, gamma, beta, out, rows, C, eps): LayerNorm over the last axis of x [rows, C] (biased variance). */
static napi_value LayerNorm(napi_env env, napi_callback_info info) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 7) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.layerNorm: expected 7 arguments");
    return NULL;
  }
  f32view x, g, b, out;
  int64_t rows, C;
  double eps;
  if (!get_f32(env, argv[0], "x", 0, &x) || !get_f32(env, argv[1], "gamma", 0, &g) || !get_f32(env, argv[2], "beta", 0, &b) ||
      !get_f32(env, argv[3], "out", 0, &out) || !get_i64(env, argv[4], "rows", &rows) || !get_i64(env, argv[5], "C", &C) ||
      !get_f64(env, argv[6], "eps", &eps))
    return NULL;
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
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 9) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.batchNorm: expected 9 arguments");
    return NULL;
  }
  f32view x, mean, var, off, scale, out;
  int64_t rows, C;
  double eps;
  if (!get_f32(env, argv[0], "x", 0, &x) || !get_f32(env, argv[1], "mean", 0, &mean) || !get_f32(env, argv[2], "variance", 0, &var) ||
      !get_f32(env, argv[3], "offset", 1, &off) || !get_f32(env, argv[4], "scale", 1, &scale) || !get_f32(env, argv[5], "out", 0, &out) ||
      !get_i64(env, argv[6], "rows", &rows) || !get_i64(env, argv[7], "C", &C) || !get_f64(env, argv[8], "eps", &eps))
    return NULL;
  if ((int64_t)x.length < rows * C) return range_error(env, "x"), NULL;
  if ((int64_t)out.length < rows * C) return range_error(env, "out"), NULL;
  if ((int64_t)mean.length < C) return range_error(env, "mean"), NULL;
  if ((int64_t)var.length < C) return range_error(env, "variance"), NULL;
  if (off.data && (int64_t)off.length < C) return range_error(env, "offset"), NULL;
  if (scale.data && (int64_t)scale.length < C) return range_error(env, "scale"), NULL;
  par_batchnorm(x.data, mean.data, var.data, off.data, scale.data, out.data, rows, C, (float)eps);
  return NULL;
}

/* attention(qkv, out, B, N, heads): out [B·N, C] = per-head softmax(q kᵀ) v from qkv [B·N, 3C] (q pre-scaled). */
static napi_value Attention(napi_env env, napi_callback_info info) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.attention: expected 6 arguments");
    return NULL;
  }
  f32view qkv, out;
  int64_t B, N, heads, C;
  if (!get_f32(env, argv[0], "qkv", 0, &qkv) || !get_f32(env, argv[1], "out", 0, &out) || !get_i64(env, argv[2], "B", &B) ||
      !get_i64(env, argv[3], "N", &N) || !get_i64(env, argv[4], "heads", &heads) || !get_i64(env, argv[5], "C", &C))
    return NULL;
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
  if (par_attention(qkv.data, out.data, B, N, heads, C / heads) != 0) {
    napi_throw_error(env, "UOL_BLAS_NOMEM", "uol_blas.attention: out of memory for the score blocks");
    return NULL;
  }
  return NULL;
}

/* --- conv2d ---------------------------------------------------------------------------------------------------- */

/*
 * conv2d(x, filter, out, B, inH, inW, inC, outH, outW, outC, fH, fW, strideH, strideW, dilH, dilW, padTop, padLeft,
 *        bias, bs0, bs1, bs2, act, alpha, prelu, ps0, ps1, ps2[, packed[, residual[, packedKind]]])
 * NHWC input [B,inH,inW,inC], HWIO filter [fH,fW,inC,outC], NHWC output [B,outH,outW,outC]; zero padding. The
 * epilogue views the output as [B, outH*outW, outC]. `packed` is the filter packed by packConvFilter (packedKind 1,
 * the default) or packWinogradFilter (2); the algorithm is convPath's when the packing matches it. `residual` (the output's shape) is added before the
 * activation: act(conv + bias + residual).
 */
static napi_value Conv2d(napi_env env, napi_callback_info info) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 28 || argc > 31) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.conv2d: expected 28 to 31 arguments");
    return NULL;
  }
  f32view x, f, out, packed = {NULL, 0}, res = {NULL, 0};
  if (!get_f32(env, argv[0], "x", 0, &x) || !get_f32(env, argv[1], "filter", 0, &f) || !get_f32(env, argv[2], "out", 0, &out))
    return NULL;
  if (argc >= 29 && !get_f32(env, argv[28], "packed filter", 1, &packed)) return NULL;
  if (argc >= 30 && !get_f32(env, argv[29], "residual", 1, &res)) return NULL;
  int64_t kind = CONV_DIRECT;
  if (argc == 31 && !get_i64(env, argv[30], "packed kind", &kind)) return NULL;
  if (kind != CONV_DIRECT && kind != CONV_WINOGRAD) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas.conv2d: packed kind must be 1 (direct) or 2 (winograd)");
    return NULL;
  }
  static const char *names[] = {"B",      "inH",     "inW",  "inC",  "outH",   "outW",   "outC",
                                "fH",     "fW",      "strideH", "strideW", "dilH", "dilW", "padTop", "padLeft"};
  int64_t v[15];
  for (int i = 0; i < 15; i++)
    if (!get_i64(env, argv[3 + i], names[i], &v[i])) return NULL;
  conv_geom_t g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
  const int64_t rows_per_image = g.OH * g.OW;
  const int64_t K = g.FH * g.FW * g.C;
  if (rows_per_image > INT32_MAX || K > INT32_MAX || g.OC > INT32_MAX || g.B * rows_per_image > INT32_MAX) {
    napi_throw_range_error(env, "UOL_BLAS_RANGE", "uol_blas.conv2d: dimension exceeds 2^31-1");
    return NULL;
  }
  epilogue_t e;
  if (!get_epilogue(env, argv, 18, g.B, rows_per_image, g.OC, &e)) return NULL;
  if ((int64_t)x.length < g.B * g.H * g.W * g.C) return range_error(env, "x"), NULL;
  if ((int64_t)f.length < K * g.OC) return range_error(env, "filter"), NULL;
  if ((int64_t)out.length < g.B * rows_per_image * g.OC) return range_error(env, "out"), NULL;
  if (packed.data && kind == CONV_DIRECT && (int64_t)packed.length < packed_filter_size(K, g.OC)) return range_error(env, "packed filter"), NULL;
  if (packed.data && kind == CONV_WINOGRAD && (g.FH != 3 || g.FW != 3 || (int64_t)packed.length < winograd_filter_size(g.C, g.OC)))
    return range_error(env, "packed filter"), NULL;
  if (res.data && (int64_t)res.length < g.B * rows_per_image * g.OC) return range_error(env, "residual"), NULL;
  e.residual = res.data;
  e.residual_first = 1;
  /* Both paths read x only at 0 <= iy < H, 0 <= ix < W (padding reads a zero row), so any geometry is memory-safe. */
  if (par_conv2d(x.data, f.data, packed.data, (int)kind, out.data, &g, &e) != 0) {
    napi_throw_error(env, "UOL_BLAS_NOMEM", "uol_blas.conv2d: out of memory for scratch buffers");
    return NULL;
  }
  return NULL;
}

/* packConvFilter(filter, K, OC) -> Float32Array: the HWIO filter viewed as [K, OC] in the direct kernel's layout. */
static napi_value PackConvFilter(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  f32view f;
  int64_t K, OC;
  if (argc != 3 || !get_f32(env, argv[0], "filter", 0, &f) || !get_i64(env, argv[1], "K", &K) || !get_i64(env, argv[2], "OC", &OC))
    return NULL;
  if ((int64_t)f.length < K * OC) return range_error(env, "filter"), NULL;
  const int64_t n = packed_filter_size(K, OC);
  napi_value ab, ta;
  void *data;
  CHECK_NAPI(env, napi_create_arraybuffer(env, (size_t)n * sizeof(float), &data, &ab));
  pack_conv_filter(f.data, K, OC, (float *)data);
  CHECK_NAPI(env, napi_create_typedarray(env, napi_float32_array, (size_t)n, ab, 0, &ta));
  return ta;
}

/* convPath(...15 geometry numbers[, fusable]) -> 'im2col' | 'direct' | 'winograd' | 'im2col-direct' (im2col, then the
 * direct kernel on the columns; for few input channels): the algorithm conv2d uses for this
 * geometry when the filter is packed for it; `fusable` (default 1) says whether the epilogue is per-channel bias,
 * residual and linear/relu/relu6 only. */
static napi_value ConvPath(napi_env env, napi_callback_info info) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 15 && argc != 16) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.convPath: expected 15 or 16 arguments");
    return NULL;
  }
  int64_t v[16];
  v[15] = 1;
  for (size_t i = 0; i < argc; i++)
    if (!get_i64(env, argv[i], "geometry", &v[i])) return NULL;
  conv_geom_t g = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
  epilogue_t unfusable;
  memset(&unfusable, 0, sizeof unfusable);
  unfusable.act = ACT_ELU;
  const int path = conv_path(&g, v[15] ? NULL : &unfusable);
  napi_value s;
  static const char *names[] = {"im2col", "direct", "winograd", "im2col-direct"};
  CHECK_NAPI(env, napi_create_string_utf8(env, names[path], NAPI_AUTO_LENGTH, &s));
  return s;
}

/* packWinogradFilter(filter, C, OC) -> Float32Array: a 3×3 HWIO filter as Winograd F(2×2,3×3) weights. */
static napi_value PackWinogradFilter(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  f32view f;
  int64_t C, OC;
  if (argc != 3 || !get_f32(env, argv[0], "filter", 0, &f) || !get_i64(env, argv[1], "C", &C) || !get_i64(env, argv[2], "OC", &OC))
    return NULL;
  if ((int64_t)f.length < 9 * C * OC) return range_error(env, "filter"), NULL;
  const int64_t n = winograd_filter_size(C, OC);
  napi_value ab, ta;
  void *data;
  CHECK_NAPI(env, napi_create_arraybuffer(env, (size_t)n * sizeof(float), &data, &ab));
  pack_winograd_filter(f.data, C, OC, (float *)data);
  CHECK_NAPI(env, napi_create_typedarray(env, napi_float32_array, (size_t)n, ab, 0, &ta));
  return ta;
}

/* setConvMode(mode): -1 auto, 0 always im2col + sgemm, 1 direct kernel where supported (no Winograd). */
static napi_value SetConvMode(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double d;
  if (argc != 1 || napi_get_value_double(env, argv[0], &d) != napi_ok || (d != -1 && d != 0 && d != 1)) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.setConvMode: expected -1, 0 or 1");
    return NULL;
  }
  conv_set_mode((int)d);
  return NULL;
}

/* --- info / threads ---------------------------------------------------------------------------------------------- */

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n = 0;
  if (argc != 1) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.setThreads: expected one argument");
    return NULL;
  }
  if (!get_i64(env, argv[0], "threads", &n)) return NULL;
  if (n < 1 || n > 1024) {
    napi_throw_range_error(env, "UOL_BLAS_ARG", "uol_blas.setThreads: expected 1..1024");
    return NULL;
  }
  pool_set_threads((int)n);
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

/* info() -> { corename, config, threads, procs, directConv }: OpenBLAS as it reports itself, except threads, which is
 * the addon's pool (OpenBLAS runs single-threaded inside its tasks); directConv when the AVX-512 kernels are usable. */
static napi_value Info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  CHECK_NAPI(env, napi_create_object(env, &obj));
  if (!set_str(env, obj, "corename", openblas_get_corename()) || !set_str(env, obj, "config", openblas_get_config()) ||
      !set_int(env, obj, "threads", pool_threads()) || !set_int(env, obj, "procs", openblas_get_num_procs()) ||
      !set_int(env, obj, "directConv", direct_conv_available())) {
    napi_throw_error(env, "UOL_BLAS_NAPI", "uol_blas.info: N-API call failed");
    return NULL;
  }
  return obj;
}

/* setSpin(us): microseconds an idle pool worker spins before sleeping. */
static napi_value SetSpin(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t us;
  if (argc != 1 || !get_i64(env, argv[0], "us", &us)) return NULL;
  pool_set_spin_us(us > 1000000 ? 1000000 : (int)us);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  /* Parallelism comes from the addon's pool; OpenBLAS runs single-threaded inside its tasks. */
  openblas_set_num_threads(1);
  napi_property_descriptor desc[] = {
      {"matmul", NULL, Matmul, NULL, NULL, NULL, napi_default, NULL},
      {"linear", NULL, Linear, NULL, NULL, NULL, napi_default, NULL},
      {"linearPath", NULL, LinearPath, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, LayerNorm, NULL, NULL, NULL, napi_default, NULL},
      {"attention", NULL, Attention, NULL, NULL, NULL, napi_default, NULL},
      {"batchNorm", NULL, BatchNorm, NULL, NULL, NULL, napi_default, NULL},
      {"conv2d", NULL, Conv2d, NULL, NULL, NULL, napi_default, NULL},
      {"convPath", NULL, ConvPath, NULL, NULL, NULL, napi_default, NULL},
      {"packConvFilter", NULL, PackConvFilter, NULL, NULL, NULL, napi_default, NULL},
      {"packWinogradFilter", NULL, PackWinogradFilter, NULL, NULL, NULL, napi_default, NULL},
      {"setConvMode", NULL, SetConvMode, NULL, NULL, NULL, napi_default, NULL},
      {"setSpin", NULL, SetSpin, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof desc / sizeof desc[0], desc) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
