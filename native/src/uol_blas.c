/*
 * uol_blas: float32 matmul and NHWC convolution on OpenBLAS for TF.js's wasm backend (see src/engine/native.ts).
 *
 * Every entry point works in place on Float32Array views the caller hands in (views of the wasm heap, so no copies):
 * it reads the inputs, writes the output, and returns nothing. Shapes and strides are passed as numbers and checked
 * against the views' lengths before anything is touched, so a caller bug throws instead of corrupting the heap.
 *
 * The epilogue (bias, then activation) follows TF.js's fused-kernel definitions:
 *   linear x | relu max(x,0) | relu6 min(max(x,0),6) | prelu x<0 ? w*x : x | leakyrelu x<0 ? alpha*x : x
 *   sigmoid 1/(1+exp(-x)) | elu x>=0 ? x : exp(x)-1
 * with activation codes equal to tfjs-backend-wasm's FusableActivation enum (0..6).
 * Bias and prelu weights are broadcast onto the output viewed as [batch, rows, cols] through three element strides
 * (0 on a broadcast axis), computed by the caller.
 *
 * Hand-written (no library offers this): it is the glue between TF.js tensors and cblas_sgemm.
 */
#include <node_api.h>
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS extensions (declared here too, in case cblas.h comes from another CBLAS). */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern int openblas_get_num_procs(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_RELU6 = 2, ACT_PRELU = 3, ACT_LEAKYRELU = 4, ACT_SIGMOID = 5, ACT_ELU = 6 };

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

typedef struct {
  const float *bias;
  int64_t bs[3];
  int act;
  float alpha;
  const float *prelu;
  int64_t ps[3];
} epilogue_t;

/* Parses [bias, bs0, bs1, bs2, act, alpha, prelu, ps0, ps1, ps2] starting at argv[i0]; checks extents against
 * the output view [d0, d1, d2]. Returns 0 after throwing. */
static int get_epilogue(napi_env env, napi_value *argv, int i0, int64_t d0, int64_t d1, int64_t d2, epilogue_t *e) {
  f32view bias, prelu;
  int64_t act;
  double alpha;
  if (!get_f32(env, argv[i0], "bias", 1, &bias)) return 0;
  for (int k = 0; k < 3; k++)
    if (!get_i64(env, argv[i0 + 1 + k], "bias stride", &e->bs[k])) return 0;
  if (!get_i64(env, argv[i0 + 4], "activation", &act)) return 0;
  if (!get_f64(env, argv[i0 + 5], "alpha", &alpha)) return 0;
  if (!get_f32(env, argv[i0 + 6], "prelu weights", 1, &prelu)) return 0;
  for (int k = 0; k < 3; k++)
    if (!get_i64(env, argv[i0 + 7 + k], "prelu stride", &e->ps[k])) return 0;
  if (act > ACT_ELU) {
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
  e->prelu = prelu.data;
  return 1;
}

static void act_row(float *y, int64_t n, const epilogue_t *e, const float *w, int64_t ws) {
  switch (e->act) {
    case ACT_RELU:
      for (int64_t j = 0; j < n; j++) y[j] = y[j] > 0.f ? y[j] : 0.f;
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
      for (int64_t j = 0; j < n; j++) y[j] = 1.f / (1.f + expf(-y[j]));
      break;
    case ACT_ELU:
      for (int64_t j = 0; j < n; j++) y[j] = y[j] >= 0.f ? y[j] : expm1f(y[j]);
      break;
    default:
      break;
  }
}

/* Applies bias and activation to out viewed as [d0, d1, d2] (contiguous); row offset r0 shifts the d1 index (used when
 * the output is produced in row chunks). */
static void epilogue(float *out, int64_t d0, int64_t d1, int64_t d2, int64_t r0, const epilogue_t *e) {
  if (!e->bias && e->act == ACT_LINEAR) return;
  for (int64_t b = 0; b < d0; b++) {
    for (int64_t i = 0; i < d1; i++) {
      float *y = out + (b * d1 + i) * d2;
      if (e->bias) {
        const float *bb = e->bias + b * e->bs[0] + (i + r0) * e->bs[1];
        const int64_t s = e->bs[2];
        if (s == 1)
          for (int64_t j = 0; j < d2; j++) y[j] += bb[j];
        else
          for (int64_t j = 0; j < d2; j++) y[j] += bb[j * s];
      }
      const float *w = e->prelu ? e->prelu + b * e->ps[0] + (i + r0) * e->ps[1] : NULL;
      act_row(y, d2, e, w, e->ps[2]);
    }
  }
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
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) {
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
  if (batch == 0 || m == 0 || n == 0) return NULL;
  if (k == 0) {
    memset(out.data, 0, (size_t)(batch * m * n) * sizeof(float));
  } else if (!ta && bsz == 0 && (as == m * k || batch == 1)) {
    /* Shared right operand and contiguous left batches: one [batch*m, k] @ [k, n] product. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)(batch * m), (int)n, (int)k, 1.f,
                a.data, (int)k, b.data, tb ? (int)k : (int)n, 0.f, out.data, (int)n);
  } else {
    for (int64_t z = 0; z < batch; z++) {
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                  1.f, a.data + z * as, ta ? (int)m : (int)k, b.data + z * bsz, tb ? (int)k : (int)n, 0.f,
                  out.data + z * m * n, (int)n);
    }
  }
  epilogue(out.data, batch, m, n, 0, &e);
  return NULL;
}

/* --- conv2d ---------------------------------------------------------------------------------------------------- */

/* The im2col buffer lives in per-environment instance data (main thread and each worker thread get their own),
 * grows to the largest chunk seen (bounded by IM2COL_CHUNK_ELEMS, or 256 rows of a huge filter) and is freed with the
 * environment. */
typedef struct {
  float *buf;
  size_t len;
} scratch_t;

static void free_scratch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  scratch_t *s = (scratch_t *)data;
  if (s) free(s->buf);
  free(s);
}

static float *get_scratch(napi_env env, size_t n) {
  scratch_t *s = NULL;
  if (napi_get_instance_data(env, (void **)&s) != napi_ok || !s) return NULL;
  if (n > s->len) {
    free(s->buf);
    s->buf = (float *)malloc(n * sizeof(float));
    s->len = s->buf ? n : 0;
  }
  return s->buf;
}

/* Target size of one im2col chunk (elements): big enough for efficient GEMMs, small enough to stay in cache. */
#ifndef IM2COL_CHUNK_ELEMS
#define IM2COL_CHUNK_ELEMS (2u << 20)
#endif
#define IM2COL_MIN_ROWS 256

/*
 * conv2d(x, filter, out, B, inH, inW, inC, outH, outW, outC, fH, fW, strideH, strideW, dilH, dilW, padTop, padLeft,
 *        bias, bs0, bs1, bs2, act, alpha, prelu, ps0, ps1, ps2)
 * NHWC input [B,inH,inW,inC], HWIO filter [fH,fW,inC,outC] (already the [fH*fW*inC, outC] GEMM operand), NHWC output
 * [B,outH,outW,outC]; zero padding. The epilogue views the output as [B, outH*outW, outC].
 * 1x1 stride-1 unpadded convolutions are one GEMM on the input itself; others go through im2col in row chunks.
 */
static napi_value Conv2d(napi_env env, napi_callback_info info) {
  size_t argc = MAX_ARGS;
  napi_value argv[MAX_ARGS];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 28) {
    napi_throw_type_error(env, "UOL_BLAS_ARG", "uol_blas.conv2d: expected 28 arguments");
    return NULL;
  }
  f32view x, f, out;
  if (!get_f32(env, argv[0], "x", 0, &x) || !get_f32(env, argv[1], "filter", 0, &f) || !get_f32(env, argv[2], "out", 0, &out))
    return NULL;
  static const char *names[] = {"B",      "inH",     "inW",  "inC",  "outH",   "outW",   "outC",
                                "fH",     "fW",      "strideH", "strideW", "dilH", "dilW", "padTop", "padLeft"};
  int64_t g[15];
  for (int i = 0; i < 15; i++)
    if (!get_i64(env, argv[3 + i], names[i], &g[i])) return NULL;
  const int64_t B = g[0], H = g[1], W = g[2], C = g[3], OH = g[4], OW = g[5], OC = g[6], FH = g[7], FW = g[8];
  const int64_t SH = g[9], SW = g[10], DH = g[11], DW = g[12], PT = g[13], PL = g[14];
  const int64_t rows_per_image = OH * OW;
  const int64_t K = FH * FW * C;
  if (rows_per_image > INT32_MAX || K > INT32_MAX || OC > INT32_MAX || B * rows_per_image > INT32_MAX) {
    napi_throw_range_error(env, "UOL_BLAS_RANGE", "uol_blas.conv2d: dimension exceeds 2^31-1");
    return NULL;
  }
  epilogue_t e;
  if (!get_epilogue(env, argv, 18, B, rows_per_image, OC, &e)) return NULL;
  if ((int64_t)x.length < B * H * W * C) {
    range_error(env, "x");
    return NULL;
  }
  if ((int64_t)f.length < K * OC) {
    range_error(env, "filter");
    return NULL;
  }
  if ((int64_t)out.length < B * rows_per_image * OC) {
    range_error(env, "out");
    return NULL;
  }
  if (B == 0 || rows_per_image == 0 || OC == 0) return NULL;
  if (K == 0) {
    memset(out.data, 0, (size_t)(B * rows_per_image * OC) * sizeof(float));
    epilogue(out.data, B, rows_per_image, OC, 0, &e);
    return NULL;
  }
  /* im2col reads x only at 0 <= iy < H, 0 <= ix < W and zero-fills the rest, so any geometry is memory-safe. */
  if (FH == 1 && FW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0 && OH == H && OW == W) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(B * rows_per_image), (int)OC, (int)C, 1.f, x.data,
                (int)C, f.data, (int)OC, 0.f, out.data, (int)OC);
    epilogue(out.data, B, rows_per_image, OC, 0, &e);
    return NULL;
  }
  int64_t chunk = (int64_t)(IM2COL_CHUNK_ELEMS / (uint64_t)K);
  if (chunk < IM2COL_MIN_ROWS) chunk = IM2COL_MIN_ROWS;
  if (chunk > rows_per_image) chunk = rows_per_image;
  float *cols = get_scratch(env, (size_t)(chunk * K));
  if (!cols) {
    napi_throw_error(env, "UOL_BLAS_NOMEM", "uol_blas.conv2d: out of memory for the im2col buffer");
    return NULL;
  }
  const size_t run = (size_t)C * sizeof(float);
  for (int64_t bi = 0; bi < B; bi++) {
    const float *xb = x.data + bi * H * W * C;
    float *ob = out.data + bi * rows_per_image * OC;
    for (int64_t r0 = 0; r0 < rows_per_image; r0 += chunk) {
      const int64_t nr = rows_per_image - r0 < chunk ? rows_per_image - r0 : chunk;
      for (int64_t r = 0; r < nr; r++) {
        const int64_t oy = (r0 + r) / OW, ox = (r0 + r) % OW;
        float *dst = cols + r * K;
        for (int64_t ky = 0; ky < FH; ky++) {
          const int64_t iy = oy * SH - PT + ky * DH;
          if (iy < 0 || iy >= H) {
            memset(dst, 0, (size_t)(FW * C) * sizeof(float));
            dst += FW * C;
            continue;
          }
          const float *xrow = xb + iy * W * C;
          if (DW == 1) {
            /* Contiguous span of kx in [0, FW): copy the in-bounds part in one go. */
            const int64_t ix0 = ox * SW - PL;
            int64_t lo = ix0 < 0 ? -ix0 : 0;
            if (lo > FW) lo = FW;
            int64_t hi = ix0 + FW > W ? W - ix0 : FW;
            if (hi < lo) hi = lo;
            if (lo > 0) memset(dst, 0, (size_t)(lo * C) * sizeof(float));
            if (hi > lo) memcpy(dst + lo * C, xrow + (ix0 + lo) * C, (size_t)(hi - lo) * run);
            if (hi < FW) memset(dst + hi * C, 0, (size_t)((FW - hi) * C) * sizeof(float));
            dst += FW * C;
          } else {
            for (int64_t kx = 0; kx < FW; kx++) {
              const int64_t ix = ox * SW - PL + kx * DW;
              if (ix < 0 || ix >= W)
                memset(dst, 0, run);
              else
                memcpy(dst, xrow + ix * C, run);
              dst += C;
            }
          }
        }
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)OC, (int)K, 1.f, cols, (int)K, f.data,
                  (int)OC, 0.f, ob + r0 * OC, (int)OC);
      epilogue_t eb = e;
      if (eb.bias) eb.bias += bi * e.bs[0];
      if (eb.prelu) eb.prelu += bi * e.ps[0];
      epilogue(ob + r0 * OC, 1, nr, OC, r0, &eb);
    }
  }
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
  openblas_set_num_threads((int)n);
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

/* info() -> { corename, config, threads, procs } as OpenBLAS reports them. */
static napi_value Info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  CHECK_NAPI(env, napi_create_object(env, &obj));
  if (!set_str(env, obj, "corename", openblas_get_corename()) || !set_str(env, obj, "config", openblas_get_config()) ||
      !set_int(env, obj, "threads", openblas_get_num_threads()) || !set_int(env, obj, "procs", openblas_get_num_procs())) {
    napi_throw_error(env, "UOL_BLAS_NAPI", "uol_blas.info: N-API call failed");
    return NULL;
  }
  return obj;
}

static napi_value Init(napi_env env, napi_value exports) {
  scratch_t *s = (scratch_t *)calloc(1, sizeof(scratch_t));
  if (!s || napi_set_instance_data(env, s, free_scratch, NULL) != napi_ok) {
    free(s);
    napi_throw_error(env, "UOL_BLAS_NOMEM", "uol_blas: cannot set up instance data");
    return NULL;
  }
  napi_property_descriptor desc[] = {
      {"matmul", NULL, Matmul, NULL, NULL, NULL, napi_default, NULL},
      {"conv2d", NULL, Conv2d, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof desc / sizeof desc[0], desc) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
