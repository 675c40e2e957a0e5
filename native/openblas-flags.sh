#!/bin/sh
# Prints OpenBLAS include directories (`cflags`) or linker flags (`libs`) for binding.gyp: pkg-config when it knows
# openblas, else the Debian/Ubuntu multiarch layout, else the plain names (the build then fails cleanly without it).
case "$1" in
  cflags)
    if pkg-config --exists openblas 2>/dev/null; then
      pkg-config --cflags-only-I openblas | sed 's/-I//g'
    else
      for d in /usr/include/openblas /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/aarch64-linux-gnu/openblas-pthread; do
        [ -f "$d/cblas.h" ] && echo "$d" && exit 0
      done
      echo /usr/include
    fi ;;
  libs)
    if pkg-config --exists openblas 2>/dev/null; then pkg-config --libs openblas; else echo -lopenblas; fi ;;
esac
