#!/usr/bin/env node
// Measures this CPU's peak single-precision FMA throughput with AVX2 (8 lanes) and AVX-512 (16 lanes), one thread and
// all threads: 12 independent multiply-add chains per thread, no memory traffic. It is the ceiling any convolution or
// matrix product can reach at that ISA level, the figure behind README's note on ResNet-50 at forced AVX2 (a CPU whose
// AVX-512 units are as wide as two AVX2 ones gives PyTorch's AVX-512 path twice our forced-AVX2 ceiling). A developer
// tool: it needs a C compiler (cc) and an x86-64 CPU; it prints one line per ISA level and thread count.
//
//   node tools/fma-peak.mjs            threads: 1 and the cores this process may use
//   THREADS=4 node tools/fma-peak.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';

const SOURCE = String.raw`
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define ITERS 100000000L
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static float sink[64];
#define CHAINS(T, SET1, FMA, ADD, STORE)                                                    \
  T a[12];                                                                                  \
  for (int i = 0; i < 12; i++) a[i] = SET1(1e-3f * (float)i);                               \
  const T b = SET1(0.999f), c = SET1(1e-4f);                                                \
  for (long it = 0; it < ITERS; it++) {                                                     \
    _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) a[i] = FMA(a[i], b, c);           \
  }                                                                                         \
  T s = a[0];                                                                               \
  for (int i = 1; i < 12; i++) s = ADD(s, a[i]);                                            \
  STORE(sink + 16 * (int)(long)arg, s);
__attribute__((target("avx2,fma"))) static void *run8(void *arg) {
  CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps)
  return NULL;
}
__attribute__((target("avx512f"))) static void *run16(void *arg) {
  CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps)
  return NULL;
}
int main(int argc, char **argv) {
  const int lanes = atoi(argv[1]), threads = atoi(argv[2]);
  if (lanes == 16 && !__builtin_cpu_supports("avx512f")) return 3;
  if (lanes == 8 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 3;
  pthread_t th[256];
  const double t0 = now();
  for (long t = 0; t < threads; t++) pthread_create(th + t, NULL, lanes == 16 ? run16 : run8, (void *)(t % 4));
  for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
  const double dt = now() - t0;
  printf("%.1f\n", threads * (double)ITERS * 12 * lanes * 2 / dt / 1e9);
  return 0;
}
`;

if (process.arch !== 'x64') {
  console.log(`fma-peak: x86-64 only (this is ${process.arch})`);
  process.exit(0);
}
const dir = mkdtempSync(path.join(tmpdir(), 'uol-fma-'));
try {
  const src = path.join(dir, 'fma.c');
  const bin = path.join(dir, 'fma');
  writeFileSync(src, SOURCE);
  execFileSync('cc', ['-O2', '-pthread', src, '-o', bin], { stdio: 'inherit' });
  const all = Number(process.env.THREADS ?? availableParallelism());
  for (const [name, lanes] of [['AVX2+FMA', 8], ['AVX-512', 16]]) {
    for (const threads of [...new Set([1, all])]) {
      try {
        const gflops = execFileSync(bin, [String(lanes), String(threads)], { encoding: 'utf8' }).trim();
        console.log(`${name.padEnd(9)} ${String(threads).padStart(3)} thread(s): ${gflops} GFLOP/s (fp32 FMA peak)`);
      } catch {
        console.log(`${name.padEnd(9)} not supported by this CPU`);
        break;
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
