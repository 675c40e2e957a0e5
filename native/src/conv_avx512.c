/*
 * Direct convolution for AVX-512 CPUs (see compute.h: direct_conv_region), as an indirect GEMM: a tile of 6 output
 * pixels × 64 output channels is accumulated in 24 zmm registers over every filter tap and input channel,
 *   acc[r][:] += x[pixel r shifted by tap][ci] · filter[tap][ci][:]
 * with one pointer per (pixel, tap) into the NHWC input (or to a row of zeros for padding), so there is no im2col
 * copy and no padded input. The filter is read in place (HWIO: the 64 output channels of one (tap, ci) are contiguous).
 * Hand-written: OpenBLAS's sgemm needs the im2col copy and is slow on narrow convolutions (64 output channels), and
 * no library on Debian offers this for NHWC float32.
 *
 * Compiled with function-level target attributes (the rest of the addon stays baseline x86-64); compute.c calls these
 * only when gemm_isa() is ISA_AVX512. Other architectures compile nothing. (The AVX2 and portable kernels, and
 * the Winograd kernels at every level, are conv_simd.inc's.)
 */
#include "compute.h"

#include <string.h>

#include "gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define MR 6
#define T512 __attribute__((target("avx512f")))
#define INLINE512 __attribute__((target("avx512f"), always_inline)) static inline

/*
 * One tile over one K block (every filter tap t < ntaps, input channels [ci0, ci0 + kc)): rows r < mr of `out` (row
 * stride ldo), nv vectors of 16 channels (the last masked by mlast when `masked`). p: the tile's input-row pointers,
 * p[t·MR + r]; w: filter at (tap 0, ci0, first channel of the block), tstride floats between taps and ldw between
 * input channels. first: start from the bias (or 0) instead of the partial sums in `out`; last: add `res` (same
 * layout as out, may be NULL) and apply `act` before storing.
 */
INLINE512 void tile(const int nv, const int masked, const __mmask16 mlast, const int mr, const float *const *p,
                    const int64_t ntaps, const int64_t ci0, const int64_t kc, const float *w, const int64_t tstride,
                    const int64_t ldw, float *out, const int64_t ldo, const float *bias, const float *res, const int act,
                    const int first, const int last) {
  __m512 acc[MR][4];
  /* The residual rows are read only after the multiply-adds, MR rows ldo floats apart that no hardware prefetcher
   * predicts: ask for them now so the misses overlap the tile's arithmetic (a prefetch never faults). */
  if (last && res)
    for (int r = 0; r < mr; r++)
      for (int v = 0; v <= nv; v++) __builtin_prefetch(res + r * ldo + (v < nv ? 16 * v : 16 * nv - 1), 0, 3);
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
  for (int64_t t = 0; t < ntaps; t++) {
    const float *const *pt = p + t * MR;
    const float *a0 = pt[0] + ci0, *a1 = pt[1] + ci0, *a2 = pt[2] + ci0, *a3 = pt[3] + ci0, *a4 = pt[4] + ci0,
                *a5 = pt[5] + ci0;
    const float *wp = w + t * tstride;
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
  T512 static void tile_##NV##_##M(__mmask16 mlast, int mr, const float *const *p, int64_t ntaps, int64_t ci0,          \
                                   int64_t kc, const float *w, int64_t tstride, int64_t ldw, float *out, int64_t ldo,    \
                                   const float *bias, const float *res, int act, int first, int last) {                  \
    tile(NV, M, mlast, mr, p, ntaps, ci0, kc, w, tstride, ldw, out, ldo, bias, res, act, first, last);                  \
  }
TILE_FN(1, 0)
TILE_FN(2, 0)
TILE_FN(3, 0)
TILE_FN(4, 0)
TILE_FN(1, 1)
TILE_FN(2, 1)
TILE_FN(3, 1)
TILE_FN(4, 1)

typedef void (*tile_fn)(__mmask16, int, const float *const *, int64_t, int64_t, int64_t, const float *, int64_t, int64_t,
                        float *, int64_t, const float *, const float *, int, int, int);

/* K blocks: all taps of DIRECT_K / taps input channels, so the partial sums stay in registers across the taps and the
 * block's weights (taps · kc · 64 floats, 256 KB) stay in L2 (as in conv_simd.inc). */
#define DIRECT_K 1024

void direct_conv_region_avx512(const float *x, const float *f, const float *packed, float *out, const conv_geom_t *g, int64_t b,
                               int64_t p0, int64_t p1, int64_t c0, int64_t c1, const float *zeros, const float **ptrs, int fuse,
                               const float *bias, const float *res, int act, const conv_pf_t *pf) {
  const int64_t taps = g->FH * g->FW, C = g->C, OC = g->OC, OW = g->OW;
  const int64_t npix = p1 - p0, tiles = (npix + MR - 1) / MR;
  if (x) conv_fill_pointers(x, g, b, p0, p1, zeros, ptrs); /* else the caller filled them (row taps) */
  static const tile_fn fns[2][4] = {{tile_1_0, tile_2_0, tile_3_0, tile_4_0}, {tile_1_1, tile_2_1, tile_3_1, tile_4_1}};
  const int64_t ldw = packed ? 64 : OC, kb = DIRECT_K / taps > 16 ? DIRECT_K / taps : 16;
  /* pf's lines, spread evenly over the task's (channel block, K block, pixel tile) steps. */
  const int64_t steps = ((c1 - c0 + 63) / 64) * ((C + kb - 1) / kb) * tiles;
  int64_t step = 0, pf_done = 0;
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
    for (int64_t ci0 = 0; ci0 < C; ci0 += kb) {
      const int64_t kc = C - ci0 < kb ? C - ci0 : kb;
      const int first = ci0 == 0, last = ci0 + kc == C;
      const float *w = wb + ci0 * ldw;
      for (int64_t i = 0; i < tiles; i++) {
        const int mr = (int)(npix - i * MR < MR ? npix - i * MR : MR);
        if (pf) conv_pf_issue(pf, &pf_done, (pf->lines * ++step + steps - 1) / steps);
        fn(mlast, mr, (const float *const *)(ptrs + i * taps * MR), taps, ci0, kc, w, C * ldw, ldw, ob + i * MR * OC, OC, bb,
           rb ? rb + i * MR * OC : NULL, fuse ? act : ACT_LINEAR, first, last);
      }
    }
  }
}

#endif
