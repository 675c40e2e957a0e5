/*
 * Direct convolution for AVX-512 CPUs (see compute.h: direct_conv_region), as an indirect GEMM: a tile of 6 output
 * pixels × 64 output channels is accumulated in 24 zmm registers over every filter tap and input channel,
 *   acc[r][:] += x[pixel r shifted by tap][ci] · filter[tap][ci][:]
 * with one pointer per (pixel, tap) into the NHWC input (or to a row of zeros for padding), so there is no im2col
 * copy and no padded input. The filter is read in place (HWIO: the 64 output channels of one (tap, ci) are contiguous).
 * Hand-written: OpenBLAS's sgemm needs the im2col copy and is slow on narrow convolutions (64 output channels), and
 * no library on Debian offers this for NHWC float32.
 *
 * Compiled with function-level target attributes (the rest of the addon stays baseline x86-64); callers check
 * direct_conv_available() first. Other architectures get stubs.
 */
#include "compute.h"

#include <string.h>

#include "gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define MR 6
#define T512 __attribute__((target("avx512f")))
#define INLINE512 __attribute__((target("avx512f"), always_inline)) static inline

int direct_conv_available(void) {
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init();
    cached = __builtin_cpu_supports("avx512f") ? 1 : 0;
  }
  return cached && gemm_isa() >= ISA_AVX512; /* a lower level forced with gemm_set_isa turns these kernels off */
}

/*
 * One tile over one K block (filter tap t, input channels [ci0, ci0 + kc)): rows r < mr of `out` (row stride ldo), nv
 * vectors of 16 channels (the last masked by mlast when `masked`). p: the tile's MR input-row pointers for tap t;
 * w: filter at (t, ci0, first channel of the block), ldw floats between input channels.
 * first: start from the bias (or 0) instead of the partial sums in `out`; last: add `res` (same layout as out, may be
 * NULL) and apply `act` before storing.
 */
INLINE512 void tile(const int nv, const int masked, const __mmask16 mlast, const int mr, const float *const *p,
                    const int64_t ci0, const int64_t kc, const float *w, const int64_t ldw, float *out, const int64_t ldo,
                    const float *bias, const float *res, const int act, const int first, const int last) {
  __m512 acc[MR][4];
  for (int v = 0; v < 4; v++) {
    if (v >= nv) break;
    const __mmask16 mk = masked && v == nv - 1 ? mlast : (__mmask16)0xFFFF;
    if (first) {
      const __m512 b = bias ? _mm512_maskz_loadu_ps(mk, bias + 16 * v) : _mm512_setzero_ps();
      for (int r = 0; r < MR; r++) acc[r][v] = b;
    } else {
      for (int r = 0; r < MR; r++) acc[r][v] = r < mr ? _mm512_maskz_loadu_ps(mk, out + r * ldo + 16 * v) : _mm512_setzero_ps();
    }
  }
  const float *a0 = p[0] + ci0, *a1 = p[1] + ci0, *a2 = p[2] + ci0, *a3 = p[3] + ci0, *a4 = p[4] + ci0, *a5 = p[5] + ci0;
  const float *wp = w;
  for (int64_t ci = 0; ci < kc; ci++, wp += ldw) {
    __m512 wv[4];
    for (int v = 0; v < 4; v++) {
      if (v >= nv) break;
      wv[v] = masked && v == nv - 1 ? _mm512_maskz_loadu_ps(mlast, wp + 16 * v) : _mm512_loadu_ps(wp + 16 * v);
    }
    __m512 x;
#define ROW(r, a)                                                                                                    \
  x = _mm512_set1_ps(a[ci]);                                                                                         \
  for (int v = 0; v < 4; v++) {                                                                                      \
    if (v >= nv) break;                                                                                              \
    acc[r][v] = _mm512_fmadd_ps(x, wv[v], acc[r][v]);                                                                \
  }
    ROW(0, a0)
    ROW(1, a1)
    ROW(2, a2)
    ROW(3, a3)
    ROW(4, a4)
    ROW(5, a5)
#undef ROW
  }
  const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.f);
  for (int r = 0; r < MR; r++) {
    if (r >= mr) break;
    for (int v = 0; v < 4; v++) {
      if (v >= nv) break;
      __m512 y = acc[r][v];
      if (last && res) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(masked && v == nv - 1 ? mlast : (__mmask16)0xFFFF, res + r * ldo + 16 * v));
      if (last && act == ACT_RELU) y = _mm512_max_ps(y, zero);
      else if (last && act == ACT_RELU6) y = _mm512_min_ps(_mm512_max_ps(y, zero), six);
      if (masked && v == nv - 1) _mm512_mask_storeu_ps(out + r * ldo + 16 * v, mlast, y);
      else _mm512_storeu_ps(out + r * ldo + 16 * v, y);
    }
  }
}

/* One function per (vectors, masked last vector) so every loop bound and branch in the kernel's inner loop is a
 * constant. */
#define TILE_FN(NV, M)                                                                                                  \
  T512 static void tile_##NV##_##M(__mmask16 mlast, int mr, const float *const *p, int64_t ci0, int64_t kc,             \
                                   const float *w, int64_t ldw, float *out, int64_t ldo, const float *bias,              \
                                   const float *res, int act, int first, int last) {                                     \
    tile(NV, M, mlast, mr, p, ci0, kc, w, ldw, out, ldo, bias, res, act, first, last);                                  \
  }
TILE_FN(1, 0)
TILE_FN(2, 0)
TILE_FN(3, 0)
TILE_FN(4, 0)
TILE_FN(1, 1)
TILE_FN(2, 1)
TILE_FN(3, 1)
TILE_FN(4, 1)

typedef void (*tile_fn)(__mmask16, int, const float *const *, int64_t, int64_t, const float *, int64_t, float *, int64_t,
                        const float *, const float *, int, int, int);

/* Input channels per K block: 128 × 64 filter floats (32 KB) stay in L1 while every tile of the task uses them. */
#define KC 128

void direct_conv_region(const float *x, const float *f, const float *packed, float *out, const conv_geom_t *g, int64_t b,
                        int64_t p0, int64_t p1, int64_t c0, int64_t c1, const float *zeros, const float **ptrs, int fuse,
                        const float *bias, const float *res, int act) {
  const int64_t taps = g->FH * g->FW, C = g->C, OC = g->OC, OW = g->OW;
  const int64_t npix = p1 - p0, tiles = (npix + MR - 1) / MR;
  const float *xb = x + b * g->H * g->W * C;
  /* Pointer table, tile-major: ptrs[(tile · taps + tap) · MR + row]. */
  for (int64_t i = 0; i < tiles; i++) {
    for (int r = 0; r < MR; r++) {
      const int64_t p = p0 + i * MR + r;
      const float **dst = ptrs + i * taps * MR + r;
      if (p >= p1) {
        for (int64_t t = 0; t < taps; t++) dst[t * MR] = zeros;
        continue;
      }
      const int64_t oy = p / OW, ox = p % OW;
      for (int64_t ky = 0; ky < g->FH; ky++) {
        const int64_t iy = oy * g->SH - g->PT + ky * g->DH;
        for (int64_t kx = 0; kx < g->FW; kx++) {
          const int64_t ix = ox * g->SW - g->PL + kx * g->DW;
          const int64_t t = ky * g->FW + kx;
          dst[t * MR] = (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W) ? zeros : xb + (iy * g->W + ix) * C;
        }
      }
    }
  }
  static const tile_fn fns[2][4] = {{tile_1_0, tile_2_0, tile_3_0, tile_4_0}, {tile_1_1, tile_2_1, tile_3_1, tile_4_1}};
  const int64_t ldw = packed ? 64 : OC;
  for (int64_t cb = c0; cb < c1; cb += 64) {
    const int64_t ncols = c1 - cb < 64 ? c1 - cb : 64;
    const int nv = (int)((ncols + 15) / 16);
    const __mmask16 mlast = (ncols % 16) ? (__mmask16)((1u << (ncols % 16)) - 1) : (__mmask16)0xFFFF;
    const tile_fn fn = fns[ncols % 16 ? 1 : 0][nv - 1];
    /* Packed: block cb/64 is [taps·C][64], contiguous; in place: HWIO rows of OC floats. */
    const float *wb = packed ? packed + (cb / 64) * taps * C * 64 : f + cb;
    const float *bb = fuse && bias ? bias + cb : NULL;
    float *ob = out + (b * g->OH * OW + p0) * OC + cb;
    const float *rb = fuse && res ? res + (b * g->OH * OW + p0) * OC + cb : NULL;
    for (int64_t t = 0; t < taps; t++) {
      for (int64_t ci0 = 0; ci0 < C; ci0 += KC) {
        const int64_t kc = C - ci0 < KC ? C - ci0 : KC;
        const int first = t == 0 && ci0 == 0, last = t == taps - 1 && ci0 + kc == C;
        const float *w = wb + (t * C + ci0) * ldw;
        for (int64_t i = 0; i < tiles; i++) {
          const int mr = (int)(npix - i * MR < MR ? npix - i * MR : MR);
          fn(mlast, mr, (const float *const *)(ptrs + (i * taps + t) * MR), ci0, kc, w, ldw, ob + i * MR * OC, OC, bb,
             rb ? rb + i * MR * OC : NULL, fuse ? act : ACT_LINEAR, first, last);
        }
      }
    }
  }
}

/* --- Winograd F(2×2, 3×3) ----------------------------------------------------------------------------------------
 * For 3×3 stride-1 convolutions (Lavin & Gray): per 2×2 output tile, the 4×4 input patch d becomes V = Bᵀ d B, the
 * filter g becomes U = G g Gᵀ (once, at packing), the 16 products M[ξ] = Σ_ci V[ξ][ci]·U[ξ][ci][:] are 16 GEMMs over
 * the tiles, and the output is Aᵀ M A. 16 multiply-adds per 4 outputs instead of 36 (2.25× fewer).
 *   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 −1 −1].
 */

/* V[ξ][r][c0..c0+16) for tile r of image b (ξ = 4i + j), channels [c0, c0+16) masked by mk; out-of-image inputs are 0. */
T512 static void wino_input_tile(const float *xb, const conv_geom_t *g, int64_t iy0, int64_t ix0, int64_t c0, __mmask16 mk,
                                 float *V, int64_t T, int64_t r) {
  __m512 d[4][4];
  for (int i = 0; i < 4; i++) {
    const int64_t iy = iy0 + i;
    for (int j = 0; j < 4; j++) {
      const int64_t ix = ix0 + j;
      d[i][j] = (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W) ? _mm512_setzero_ps()
                                                               : _mm512_maskz_loadu_ps(mk, xb + (iy * g->W + ix) * g->C + c0);
    }
  }
  __m512 t[4][4];
  for (int j = 0; j < 4; j++) {
    t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
    t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
    t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
    t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
  }
  const int64_t C = g->C;
  for (int i = 0; i < 4; i++) {
    const __m512 v0 = _mm512_sub_ps(t[i][0], t[i][2]), v1 = _mm512_add_ps(t[i][1], t[i][2]);
    const __m512 v2 = _mm512_sub_ps(t[i][2], t[i][1]), v3 = _mm512_sub_ps(t[i][1], t[i][3]);
    _mm512_mask_storeu_ps(V + ((4 * i + 0) * T + r) * C + c0, mk, v0);
    _mm512_mask_storeu_ps(V + ((4 * i + 1) * T + r) * C + c0, mk, v1);
    _mm512_mask_storeu_ps(V + ((4 * i + 2) * T + r) * C + c0, mk, v2);
    _mm512_mask_storeu_ps(V + ((4 * i + 3) * T + r) * C + c0, mk, v3);
  }
}

/* Y = Aᵀ M A for tile r, 16 channels at M column v·16; + bias, + residual, act; stores the in-image outputs. */
T512 static void wino_output_tile(const float *M, int64_t T, int64_t r, int v, float *ob, const float *rb, const conv_geom_t *g,
                                  int64_t oy, int64_t ox, int64_t ch, __mmask16 mk, const float *bias, int act) {
  __m512 m[4][4];
  for (int x = 0; x < 16; x++) m[x / 4][x % 4] = _mm512_loadu_ps(M + (x * T + r) * 64 + 16 * v);
  __m512 s0[4], s1[4];
  for (int j = 0; j < 4; j++) {
    s0[j] = _mm512_add_ps(_mm512_add_ps(m[0][j], m[1][j]), m[2][j]);
    s1[j] = _mm512_sub_ps(_mm512_sub_ps(m[1][j], m[2][j]), m[3][j]);
  }
  __m512 y[2][2];
  y[0][0] = _mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]);
  y[0][1] = _mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]);
  y[1][0] = _mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]);
  y[1][1] = _mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]);
  const __m512 b = bias ? _mm512_maskz_loadu_ps(mk, bias + ch) : _mm512_setzero_ps();
  const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.f);
  for (int dy = 0; dy < 2; dy++) {
    if (oy + dy >= g->OH) break;
    for (int dx = 0; dx < 2; dx++) {
      if (ox + dx >= g->OW) break;
      const int64_t off = ((oy + dy) * g->OW + (ox + dx)) * g->OC + ch;
      __m512 o = _mm512_add_ps(y[dy][dx], b);
      if (rb) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(mk, rb + off));
      if (act == ACT_RELU) o = _mm512_max_ps(o, zero);
      else if (act == ACT_RELU6) o = _mm512_min_ps(_mm512_max_ps(o, zero), six);
      _mm512_mask_storeu_ps(ob + off, mk, o);
    }
  }
}

int64_t wino_scratch_floats(int64_t T, int64_t C) {
  const int64_t groups = (T + MR - 1) / MR;
  /* V [16][T][C], M [16][T][64], pointer table 16·groups·MR pointers. */
  return 16 * T * C + 16 * T * 64 + (int64_t)((16 * groups * MR * sizeof(const float *) + sizeof(float) - 1) / sizeof(float));
}

void wino_conv_region(const float *x, const float *packed, float *out, const conv_geom_t *g, int64_t b, int64_t t0, int64_t t1,
                      int64_t c0, int64_t c1, const float *zeros, float *scratch, const float *bias, const float *res, int act) {
  const int64_t C = g->C, OC = g->OC, T = t1 - t0, tw = (g->OW + 1) / 2;
  const int64_t groups = (T + MR - 1) / MR;
  float *V = scratch, *M = scratch + 16 * T * C;
  const float **ptrs = (const float **)(void *)(M + 16 * T * 64);
  const float *xb = x + b * g->H * g->W * C;
  float *ob = out + b * g->OH * g->OW * OC;
  const float *rb = res ? res + b * g->OH * g->OW * OC : NULL;
  /* Input transform of the task's tiles, all channels. */
  for (int64_t r = 0; r < T; r++) {
    const int64_t t = t0 + r, oy = 2 * (t / tw), ox = 2 * (t % tw);
    for (int64_t ch = 0; ch < C; ch += 16) {
      const int64_t n = C - ch < 16 ? C - ch : 16;
      wino_input_tile(xb, g, oy - g->PT, ox - g->PL, ch, n == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1), V, T, r);
    }
  }
  for (int64_t xi = 0; xi < 16; xi++)
    for (int64_t gi = 0; gi < groups; gi++)
      for (int i = 0; i < MR; i++) {
        const int64_t r = gi * MR + i;
        ptrs[(xi * groups + gi) * MR + i] = r < T ? V + (xi * T + r) * C : zeros;
      }
  const int64_t K = 16 * C; /* floats per (block, ξ) slice of the packed filter: [16][C][64] per block */
  for (int64_t cb = c0; cb < c1; cb += 64) {
    const float *wb = packed + (cb / 64) * K * 64;
    for (int64_t xi = 0; xi < 16; xi++) {
      for (int64_t ci0 = 0; ci0 < C; ci0 += KC) {
        const int64_t kc = C - ci0 < KC ? C - ci0 : KC;
        const float *w = wb + (xi * C + ci0) * 64;
        for (int64_t gi = 0; gi < groups; gi++) {
          const int mr = (int)(T - gi * MR < MR ? T - gi * MR : MR);
          tile_4_0(0xFFFF, mr, (const float *const *)(ptrs + (xi * groups + gi) * MR), ci0, kc, w, 64, M + (xi * T + gi * MR) * 64, 64,
                   NULL, NULL, ACT_LINEAR, ci0 == 0, ci0 + kc == C);
        }
      }
    }
    const int64_t ncols = c1 - cb < 64 ? c1 - cb : 64;
    for (int64_t r = 0; r < T; r++) {
      const int64_t t = t0 + r, oy = 2 * (t / tw), ox = 2 * (t % tw);
      for (int v = 0; v * 16 < ncols; v++) {
        const int64_t n = ncols - v * 16 < 16 ? ncols - v * 16 : 16;
        wino_output_tile(M, T, r, v, ob, rb, g, oy, ox, cb + v * 16, n == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1), bias, act);
      }
    }
  }
}

void pack_winograd_filter(const float *f, int64_t C, int64_t OC, float *packed) {
  const int64_t nb = (OC + 63) / 64;
  memset(packed, 0, (size_t)(nb * 16 * C * 64) * sizeof(float));
  static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  for (int64_t ci = 0; ci < C; ci++)
    for (int64_t co = 0; co < OC; co++) {
      double gk[3][3], t[4][3];
      for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) gk[ky][kx] = f[((ky * 3 + kx) * C + ci) * OC + co];
      for (int i = 0; i < 4; i++)
        for (int kx = 0; kx < 3; kx++) t[i][kx] = G[i][0] * gk[0][kx] + G[i][1] * gk[1][kx] + G[i][2] * gk[2][kx];
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
          const double u = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
          packed[(((co / 64) * 16 + (4 * i + j)) * C + ci) * 64 + co % 64] = (float)u;
        }
    }
}

#else

int direct_conv_available(void) {
  return 0;
}

int64_t wino_scratch_floats(int64_t T, int64_t C) {
  (void)T, (void)C;
  return 0;
}

void wino_conv_region(const float *x, const float *packed, float *out, const conv_geom_t *g, int64_t b, int64_t t0, int64_t t1,
                      int64_t c0, int64_t c1, const float *zeros, float *scratch, const float *bias, const float *res, int act) {
  (void)x, (void)packed, (void)out, (void)g, (void)b, (void)t0, (void)t1, (void)c0, (void)c1, (void)zeros, (void)scratch;
  (void)bias, (void)res, (void)act;
}

void pack_winograd_filter(const float *f, int64_t C, int64_t OC, float *packed) {
  (void)f, (void)C, (void)OC, (void)packed;
}

void direct_conv_region(const float *x, const float *f, const float *packed, float *out, const conv_geom_t *g, int64_t b,
                        int64_t p0, int64_t p1, int64_t c0, int64_t c1, const float *zeros, const float **ptrs, int fuse,
                        const float *bias, const float *res, int act) {
  (void)x, (void)f, (void)packed, (void)res, (void)out, (void)g, (void)b, (void)p0, (void)p1, (void)c0, (void)c1, (void)zeros, (void)ptrs;
  (void)fuse, (void)bias, (void)act;
}

#endif
