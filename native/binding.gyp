# Optional OpenBLAS addon (see src/uol_blas.c). Built by tools/build-native.mjs with node-gyp; needs a C compiler and
# libopenblas-dev (Debian/Ubuntu) or any OpenBLAS with a pkg-config file. When it cannot build, uol-rps uses plain wasm.
{
  "targets": [
    {
      "target_name": "uol_blas",
      "sources": ["src/uol_blas.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra", "-fno-strict-aliasing"],
      "cflags!": ["-O2"],
      "include_dirs": ["<!@(sh ./openblas-flags.sh cflags)"],
      "libraries": ["<!@(sh ./openblas-flags.sh libs)"]
    }
  ]
}
