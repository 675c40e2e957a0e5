/*
 * Compute kernels of the uol_blas addon (compute.c, conv_avx512.c), independent of N-API. All work on caller-owned
 * float32 memory (views of TF.js's wasm heap) and run on the thread pool (pool.h); matrix products use gemm.h
 * (single-threaded inside each task).
 */
#ifndef UOL_COMPUTE_H
#define UOL_COMPUTE_H

#include <stddef.h>
#include <stdint.h>

/* Activation codes: 0..6 equal tfjs-backend-wasm's FusableActivation enum; 7 is exact (erf) GELU, used by our own
 * kernels only. */
enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_RELU6 = 2, ACT_PRELU = 3, ACT_LEAKYRELU = 4, ACT_SIGMOID = 5, ACT_ELU = 6, ACT_GELU = 7 };
#define ACT_MAX ACT_GELU

/*
 * Epilogue applied to an output viewed as [d0, d1, d2] (batch, rows, cols):
 *   y = act(acc + bias);  y *= scale[col];  y += residual[batch, row, col]
 * or, with residual_first, y = act(acc + bias + residual) (a ResNet block's relu(conv + shortcut)).
 * bias and prelu weights are broadcast through element strides (0 on a broadcast axis); scale is per column
 * (contiguous); residual has the output's layout. Any pointer may be NULL.
 */
typedef struct {
  const float *bias;
  int64_t bs[3];
  int act;
  float alpha;
  const float *prelu;
  int64_t ps[3];
  const float *scale;
  const float *residual;
  int residual_first;
} epilogue_t;

/* True when the epilogue does nothing. */
int epilogue_is_identity(const epilogue_t *e);

/* Applies `e` to out[b, r, c] for r in [r0, r1), c in [c0, c1); `out` points at the whole output, rows of length ld
 * (= d2), `rows` = d1. */
void epilogue_region(float *out, int64_t rows, int64_t ld, int64_t b, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                     const epilogue_t *e);

/* Exact GELU in place, 0.5·x·(1 + erf(x/√2)); |error| ≤ 2e-7·|x| (Numerical Recipes' erfc with our exp). */
void gelu_inplace(float *y, int64_t n);

/*
 * out[z] = epilogue(op(a[z]) @ op(b[z])), z < batch; a[z] at z*as (0 broadcasts), b[z] at z*bsz; op(a) [m,k]
 * (stored [k,m] when ta), op(b) [k,n] (stored [n,k] when tb); out [batch, m, n] contiguous. Parallel. Returns 0, or -1
 * when out of memory for the packing buffers.
 */
int par_matmul(int64_t batch, int64_t m, int64_t n, int64_t k, int ta, int tb, const float *a, int64_t as, const float *b,
                int64_t bsz, float *out, const epilogue_t *e);

/* out[m,n] = epilogue(x[m,k] @ w[k,n]) (epilogue viewed as [1, m, n]). With `packed` (w in pack_conv_filter's layout)
 * and k, n ≥ 16, runs the direct kernel (a 1×1 convolution over m pixels), else our GEMM reading the packed
 * panels in place (w is then not read; OpenBLAS on w in a UOL_BLAS=openblas build). Parallel. Returns 0,
 * or -1 when out of memory. */
int par_linear(const float *x, const float *w, const float *packed, float *out, int64_t m, int64_t n, int64_t k,
               const epilogue_t *e);

/* Inference batch norm over the last axis of x [rows, C]: (x − mean[c]) · scale[c] / sqrt(var[c] + eps) + offset[c];
 * scale and offset may be NULL (1 and 0). Parallel. */
void par_batchnorm(const float *x, const float *mean, const float *var, const float *offset, const float *scale, float *out,
                   int64_t rows, int64_t C, float eps);

/* Max-pooling geometry (NHWC input and output; PT/PL the top/left padding, which is excluded from the max). */
typedef struct {
  int64_t B, H, W, C, OH, OW, FH, FW, SH, SW, PT, PL;
} maxpool_geom_t;

/* out[b, oy, ox, c] = max of x[b, oy·SH − PT + ky, ox·SW − PL + kx, c] over the taps inside the image (−∞ where none
 * is). Parallel over output rows. */
void par_maxpool(const float *x, float *out, const maxpool_geom_t *g);

/* LayerNorm over the last axis of x [rows, C]: (x − mean)/sqrt(var + eps)·g + b, biased variance. Parallel. */
void par_layernorm(const float *x, const float *g, const float *b, float *out, int64_t rows, int64_t C, float eps);

/*
 * Multi-head self-attention core on a fused qkv projection: qkv [B·N, 3C] with columns (q | k | v), each split into
 * `heads` blocks of d = C/heads (PyTorch's reshape(B, N, 3, heads, d)); q must already carry the 1/sqrt(d) scale.
 * out [B·N, C] = concat over heads of softmax(q_h k_hᵀ) v_h. Parallel over (image, head, block of query rows).
 * Returns 0, or -1 when out of memory for the score blocks.
 */
int par_attention(const float *qkv, float *out, int64_t B, int64_t N, int64_t heads, int64_t d);

/* Convolution geometry (NHWC input, HWIO filter, NHWC output, zero padding). */
typedef struct {
  int64_t B, H, W, C, OH, OW, OC, FH, FW, SH, SW, DH, DW, PT, PL;
} conv_geom_t;

/* Convolution algorithms. */
enum { CONV_IM2COL = 0, CONV_DIRECT = 1, CONV_WINOGRAD = 2, CONV_IM2COL_DIRECT = 3, CONV_WINOGRAD4 = 4 };

/* Convolution with epilogue (viewed as [B, OH·OW, OC]). Parallel. `packed` (may be NULL) is the filter packed for
 * `packed_kind` (CONV_DIRECT: pack_conv_filter, CONV_WINOGRAD: pack_winograd_filter, CONV_WINOGRAD4:
 * pack_winograd4_filter); the algorithm is
 * conv_path(g, e) when the packing matches, else the direct kernel on the unpacked filter or im2col + sgemm. `f` may
 * be NULL when `packed` is a CONV_DIRECT packing (every path can read it). Returns 0, -1 when out of memory, or -2 when
 * `f` is NULL and the path needs it. */
int par_conv2d(const float *x, const float *f, const float *packed, int packed_kind, float *out, const conv_geom_t *g,
               const epilogue_t *e);

/* The algorithm par_conv2d uses for g when the filter is packed for it; `e` may be NULL (plain convolution). */
int conv_path(const conv_geom_t *g, const epilogue_t *e);

/* True when `e` can be applied inside the direct/Winograd kernels (per-channel bias or none, a residual before the
 * activation or none, activation linear/relu/relu6). */
int conv_epilogue_fusable(const epilogue_t *e, int64_t B);

/* Floats of a packed filter with K = FH·FW·C rows and OC columns. */
int64_t packed_filter_size(int64_t K, int64_t OC);

/* Packs an HWIO filter viewed as [K, OC] into blocks of 64 output channels, [ceil(OC/64)][K][64] (zero-padded), so
 * the direct kernel streams it contiguously. */
void pack_conv_filter(const float *f, int64_t K, int64_t OC, float *packed);

/* Rewrites a [K, OC] filter in place into pack_conv_filter's layout (pack = 1) or back (pack = 0); OC must be a
 * multiple of 64 (the two layouts then have the same size). Returns 0, -1 when out of memory, -2 for another OC. */
int repack_conv_filter_inplace(float *f, int64_t K, int64_t OC, int pack);

/* Floats of a Winograd-packed 3×3 filter: F(2×2,3×3) (pack_winograd_filter) and F(4×4,3×3) (pack_winograd4_filter). */
int64_t winograd_filter_size(int64_t C, int64_t OC);
int64_t winograd4_filter_size(int64_t C, int64_t OC);

/* Packs a 3×3 HWIO filter [3,3,C,OC] as U = G g Gᵀ in blocks of 64 output channels, [ceil(OC/64)][16][C][64]
 * (zero-padded), computed in float64. */
void pack_winograd_filter(const float *f, int64_t C, int64_t OC, float *packed);

/* Packs a 3×3 HWIO filter as F(4×4,3×3) weights U = G g Gᵀ (6×6 per channel pair), [ceil(OC/64)][36][C][64], computed
 * in float64. */
void pack_winograd4_filter(const float *f, int64_t C, int64_t OC, float *packed);

/* Which conv path par_conv2d takes for g: 1 = a direct kernel, 0 = im2col + sgemm. */
int conv_uses_direct(const conv_geom_t *g);

/* Forces the conv path: -1 auto (default), 0 im2col + sgemm, 1 direct (no Winograd), 2 Winograd F(2×2,3×3) where it
 * applies, 3 Winograd F(4×4,3×3) where it applies. */
void conv_set_mode(int mode);

/* --- convolution kernels per instruction set ---------------------------------------------------------------------
 * conv_avx512.c (the direct kernel for AVX-512), and conv_simd.inc's direct and Winograd kernels compiled for AVX2+FMA
 * (conv_avx2.c), portable C vectors (conv_portable.c) and AVX-512 (conv_avx512_wino.c, Winograd only). The unsuffixed
 * functions dispatch on gemm_isa(). */

/* True when the direct kernels run at the level in effect (every level: AVX-512, AVX2+FMA and portable C). */
int direct_conv_available(void);

/* The direct kernel's pointer table for output pixels [p0, p1) of image b, tile-major: ptrs[(tile · taps + tap) · 6 +
 * row] points at the input pixel row (C floats) that output pixel `row` of the tile reads at filter tap `tap`, or at
 * `zeros` for padding and for the rows past p1 of the last tile. */
void conv_fill_pointers(const float *x, const conv_geom_t *g, int64_t b, int64_t p0, int64_t p1, const float *zeros,
                        const float **ptrs);

/* Weights a direct-convolution task prefetches while it computes (the panel the thread will likely read next). */
typedef struct {
  const char *p; /* NULL: none */
  int64_t lines; /* 64-byte lines from p */
} conv_pf_t;
/* Issues prefetches for lines [*done, target) of pf (advancing *done). */
static inline void conv_pf_issue(const conv_pf_t *pf, int64_t *done, int64_t target) {
  if (!pf || !pf->p) return;
  if (target > pf->lines) target = pf->lines;
  for (; *done < target; ++*done) __builtin_prefetch(pf->p + *done * 64, 0, 2);
}

/*
 * Direct (indirect-GEMM) convolution of output pixels [p0, p1) of image b, output channels [c0, c1) (c0 a multiple of
 * 64), reading the filter from `packed` when given (pack_conv_filter's layout) else in place. `zeros` is a zeroed buffer
 * of at least C floats (the padding row); `ptrs` scratch for taps·ceil((p1−p0)/6)·6 pointers, or, when x is NULL, the
 * table conv_fill_pointers would make, filled by the caller (the im2col-free stem's row taps).
 * When `fuse` is set, bias (per channel, may be NULL), then `res` (the output's layout, may be NULL), then act
 * (linear/relu/relu6) are applied in registers; otherwise the raw sums are stored. `pf` (may be NULL): weights to
 * prefetch, spread over the region's tiles (conv_simd.inc's kernels issue them inside the multiply-add loops, the
 * AVX-512 one at each tile's start; hints only: a prefetch never faults).
 */
#define UOL_DIRECT_CONV_ARGS                                                                                          \
  const float *x, const float *f, const float *packed, float *out, const conv_geom_t *g, int64_t b, int64_t p0,       \
      int64_t p1, int64_t c0, int64_t c1, const float *zeros, const float **ptrs, int fuse, const float *bias,        \
      const float *res, int act, const conv_pf_t *pf
void direct_conv_region(UOL_DIRECT_CONV_ARGS);
void direct_conv_region_avx512(UOL_DIRECT_CONV_ARGS);
void direct_conv_region_avx2(UOL_DIRECT_CONV_ARGS);
void direct_conv_region_portable(UOL_DIRECT_CONV_ARGS);

/* Scratch floats wino_conv_region needs for F(m×m,3×3) over T tiles of C channels (V [(m+2)²][T][C], M [(m+2)²][T][64],
 * pointers). */
int64_t wino_scratch_floats(int m, int64_t T, int64_t C);

/*
 * Winograd F(m×m,3×3) convolution, m = 2 or 4 (3×3, stride 1, dilation 1), of output tiles [t0, t1) of image b (tile t
 * covers output rows m·(t / ceil(OW/m)) + [0, m), columns m·(t % ceil(OW/m)) + [0, m)), output channels [c0, c1) (c0 a
 * multiple of 64), with per-channel bias, residual (before act) and act (linear/relu/relu6) applied in the output
 * transform. `packed`: pack_winograd_filter's (m = 2) or pack_winograd4_filter's (m = 4) layout; `zeros` at least C
 * zero floats; `scratch`: wino_scratch_floats(m, t1 − t0, C) floats.
 */
#define UOL_WINO_ARGS                                                                                                 \
  int m, const float *x, const float *packed, float *out, const conv_geom_t *g, int64_t b, int64_t t0, int64_t t1,    \
      int64_t c0, int64_t c1, const float *zeros, float *scratch, const float *bias, const float *res, int act
void wino_conv_region(UOL_WINO_ARGS);
void wino_conv_region_avx512(UOL_WINO_ARGS);
void wino_conv_region_avx2(UOL_WINO_ARGS);
void wino_conv_region_portable(UOL_WINO_ARGS);

#endif
