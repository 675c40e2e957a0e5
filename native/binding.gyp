# Optional OpenBLAS addon (src/uol_blas.c: N-API glue; compute.c, conv_avx512.c, pool.c: kernels and thread pool).
# Built by tools/build-native.mjs with node-gyp; needs a C compiler and libopenblas-dev (Debian/Ubuntu) or any OpenBLAS
# with a pkg-config file. When it cannot build, uol-rps uses plain wasm.
{
  "targets": [
    {
      "target_name": "uol_blas",
      "sources": ["src/uol_blas.c", "src/compute.c", "src/conv_avx512.c", "src/pool.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O3", "-std=gnu11", "-ffp-contract=fast", "-pthread", "-Wall", "-Wextra", "-fno-strict-aliasing"],
      "ldflags": ["-pthread"],
      "cflags!": ["-O2"],
      "include_dirs": ["<!@(sh ./openblas-flags.sh cflags)"],
      "libraries": ["<!@(sh ./openblas-flags.sh libs)"]
    }
  ]
}
