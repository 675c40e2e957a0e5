/*
 * The convolution kernels of conv_simd.inc in portable C: GCC/Clang vector extensions of 4 floats (SSE2 on x86-64,
 * NEON on AArch64, scalar code elsewhere), register tiles of 6 pixels × 8 channels. Used when gemm_isa() is
 * ISA_PORTABLE (forced with UOL_ISA=portable, or a CPU without AVX2+FMA).
 */
#include "compute.h"

#include <stdint.h>
#include <string.h>

#define VW 4
#define NVB 2
typedef float vec __attribute__((vector_size(16)));
#define SFX(name) name##_portable
#define SIMD_FN
#define SIMD_INLINE __attribute__((always_inline)) static inline

static inline vec vzero(void) {
  return (vec){0.f, 0.f, 0.f, 0.f};
}
static inline vec vset1(float x) {
  return (vec){x, x, x, x};
}
static inline vec vload(const float *p) {
  vec v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void vstore(float *p, vec v) {
  memcpy(p, &v, sizeof v);
}
#define vadd(a, b) ((a) + (b))
#define vsub(a, b) ((a) - (b))
#define vmul(a, b) ((a) * (b))
#define vfma(a, b, c) ((a) * (b) + (c))
typedef int32_t vmask __attribute__((vector_size(16)));
/* Lane-wise select through the comparison mask (all ones or zeros per lane): compiles to compare + and/andnot/or, or a
 * single max/min instruction, on every target with 16-byte vectors. */
static inline vec vmax(vec a, vec b) {
  const vmask m = a > b;
  return (vec)(((vmask)a & m) | ((vmask)b & ~m));
}
static inline vec vmin(vec a, vec b) {
  const vmask m = a < b;
  return (vec)(((vmask)a & m) | ((vmask)b & ~m));
}

#include "conv_simd.inc"
