# The optional native addon (src/uol_blas.c: N-API glue; gemm.c: our packed SGEMM; compute.c, conv_*.c (conv_simd.inc
# compiled per ISA), pool.c: kernels and thread pool). Built by tools/build-native.mjs with node-gyp; needs only a C compiler. ISA-specific code
# (AVX-512, AVX2+FMA) is compiled with function target attributes and chosen at run time, so one build runs on every
# x86-64 CPU. UOL_BLAS=openblas at build time links OpenBLAS for the matrix products instead (kept to compare against;
# needs libopenblas-dev or an OpenBLAS with a pkg-config file).
{
  "variables": {
    "uol_blas%": "<!(node -p \"process.env.UOL_BLAS === 'openblas' ? 'openblas' : 'uol'\")"
  },
  "targets": [
    {
      "target_name": "uol_blas",
      "sources": ["src/uol_blas.c", "src/gemm.c", "src/compute.c", "src/conv_avx512.c", "src/conv_avx512_wino.c", "src/conv_avx2.c", "src/conv_portable.c", "src/pool.c"],
      "defines": ["NAPI_VERSION=8"],
      # -fno-trapping-math: we never enable FP exceptions, and without it GCC will not if-convert the clamps and selects
      # of the element-wise loops (GELU, exp) for AVX2, leaving them scalar; values are unchanged (no reassociation).
      "cflags": ["-O3", "-std=gnu11", "-ffp-contract=fast", "-pthread", "-Wall", "-Wextra", "-fno-strict-aliasing", "-fno-trapping-math"],
      "ldflags": ["-pthread"],
      "cflags!": ["-O2"],
      "conditions": [
        ["uol_blas=='openblas'", {
          "defines": ["UOL_OPENBLAS"],
          "include_dirs": ["<!@(sh ./openblas-flags.sh cflags)"],
          "libraries": ["<!@(sh ./openblas-flags.sh libs)"]
        }]
      ]
    }
  ]
}
