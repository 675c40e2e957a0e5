/*
 * Persistent thread pool (see pool.h). Hand-written because the addon must control how its workers wait: a short
 * bounded spin, then a condition variable (OpenBLAS and OpenMP spin for ~0.1 s, which collapses throughput on a
 * loaded 2-core machine).
 *
 * Protocol. A job is (fn, ctx, ntasks), published under a sequence lock: `gen` is odd while the caller writes the job
 * and even once it is published. Tasks are claimed from a 64-bit counter holding (job generation << 32 | next task),
 * so a worker that read a stale job can never claim a task of a newer one. The caller takes part in its own job and
 * returns when `done` reaches ntasks; because every claimed task is counted before that, no worker touches the job
 * after pool_run returns. Workers that find no work spin for `spin_us`, then sleep; the caller signals the condition
 * variable only when someone sleeps (sleepers and gen use sequentially consistent operations, so a wake-up is never
 * lost). If a worker is descheduled (a busy machine), the caller simply claims the remaining tasks itself.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 64

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cond = PTHREAD_COND_INITIALIZER;

static _Atomic uint32_t gen = 0;
static _Atomic uint64_t ctr = 0;
static _Atomic int done = 0;
static _Atomic int sleepers = 0;
static _Atomic int quit = 0;
static _Atomic(pool_fn) job_fn = NULL;
static _Atomic(void *) job_ctx = NULL;
static _Atomic int job_ntasks = 0;

static int nthreads = 0; /* 0 = not configured yet */
static int nworkers = 0; /* workers running (nthreads - 1 once started) */
static pthread_t tids[POOL_MAX];
static _Atomic int spin_us = 50;

typedef struct {
  float *p;
  size_t n;
} scratch_t;
static scratch_t scratch[2 * POOL_MAX]; /* two per thread: index and index + POOL_SCRATCH_SECOND */
static _Thread_local scratch_t tls_scratch, tls_scratch2;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int default_threads(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n > POOL_MAX ? POOL_MAX : n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (n > POOL_MAX ? POOL_MAX : (int)n);
}

/* Claims the next task of job generation g (of n tasks); returns -1 when none is left or the job is gone. */
static inline int claim(uint32_t g, int n) {
  uint64_t v = atomic_load_explicit(&ctr, memory_order_acquire);
  for (;;) {
    if ((uint32_t)(v >> 32) != g) return -1;
    int t = (int)(uint32_t)v;
    if (t >= n) return -1;
    if (atomic_compare_exchange_weak_explicit(&ctr, &v, v + 1, memory_order_acq_rel, memory_order_acquire)) return t;
  }
}

static void run_tasks(uint32_t g, pool_fn fn, void *ctx, int n, int thread) {
  int t;
  while ((t = claim(g, n)) >= 0) {
    fn(ctx, t, thread);
    atomic_fetch_add_explicit(&done, 1, memory_order_acq_rel);
  }
}

static void *worker(void *arg) {
  const int idx = (int)(intptr_t)arg;
  uint32_t seen = atomic_load(&gen);
  for (;;) {
    /* Wait for a published job newer than `seen`: spin briefly, then sleep. */
    uint32_t g = atomic_load_explicit(&gen, memory_order_acquire);
    if (g == seen || (g & 1u)) {
      const double limit = (double)atomic_load_explicit(&spin_us, memory_order_relaxed);
      const double t0 = now_us();
      int k = 0;
      while (((g = atomic_load_explicit(&gen, memory_order_acquire)) == seen || (g & 1u)) && !atomic_load(&quit)) {
        cpu_relax();
        if ((++k & 255) == 0 && now_us() - t0 > limit) break;
      }
      if (g == seen && !atomic_load(&quit)) {
        pthread_mutex_lock(&sleep_lock);
        atomic_fetch_add(&sleepers, 1);
        while (atomic_load(&gen) == seen && !atomic_load(&quit)) pthread_cond_wait(&sleep_cond, &sleep_lock);
        atomic_fetch_sub(&sleepers, 1);
        pthread_mutex_unlock(&sleep_lock);
      }
      if (atomic_load(&quit)) return NULL;
      continue; /* re-read gen (it may be odd: being written) */
    }
    if (atomic_load(&quit)) return NULL;
    /* Sequence-lock read of the job. */
    pool_fn fn = atomic_load_explicit(&job_fn, memory_order_relaxed);
    void *ctx = atomic_load_explicit(&job_ctx, memory_order_relaxed);
    int n = atomic_load_explicit(&job_ntasks, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&gen, memory_order_relaxed) != g) continue;
    seen = g;
    run_tasks(g, fn, ctx, n, idx);
  }
}

static void stop_workers(void) {
  if (nworkers == 0) return;
  atomic_store(&quit, 1);
  pthread_mutex_lock(&sleep_lock);
  pthread_cond_broadcast(&sleep_cond);
  pthread_mutex_unlock(&sleep_lock);
  for (int i = 0; i < nworkers; i++) pthread_join(tids[i], NULL);
  nworkers = 0;
  atomic_store(&quit, 0);
}

/* Starts nthreads-1 workers (run_lock held). Falls back to fewer threads if creation fails. */
static void start_workers(void) {
  for (int i = 1; i < nthreads; i++) {
    if (pthread_create(&tids[nworkers], NULL, worker, (void *)(intptr_t)i) != 0) break;
    nworkers++;
  }
  nthreads = nworkers + 1;
}

int pool_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > POOL_MAX) n = POOL_MAX;
  pthread_mutex_lock(&run_lock);
  if (n != nthreads) {
    stop_workers();
    nthreads = n;
  }
  pthread_mutex_unlock(&run_lock);
  return n;
}

int pool_threads(void) {
  return nthreads > 0 ? nthreads : default_threads();
}

void pool_set_spin_us(int us) {
  atomic_store(&spin_us, us < 0 ? 0 : us);
}

void pool_run(int ntasks, pool_fn fn, void *ctx) {
  if (ntasks <= 0) return;
  if (pthread_mutex_trylock(&run_lock) != 0) {
    /* Re-entrant or concurrent use: run inline with this thread's own scratch (thread index -1). */
    for (int t = 0; t < ntasks; t++) fn(ctx, t, -1);
    return;
  }
  if (nthreads == 0) nthreads = default_threads();
  if (nworkers + 1 != nthreads) {
    stop_workers();
    start_workers();
  }
  if (ntasks == 1 || nworkers == 0) {
    for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
    pthread_mutex_unlock(&run_lock);
    return;
  }
  /* Publish the job (sequence lock: odd while writing). */
  const uint32_t g0 = atomic_load(&gen);
  atomic_store_explicit(&gen, g0 + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  atomic_store_explicit(&job_fn, fn, memory_order_relaxed);
  atomic_store_explicit(&job_ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&job_ntasks, ntasks, memory_order_relaxed);
  atomic_store_explicit(&done, 0, memory_order_relaxed);
  const uint32_t g = g0 + 2;
  atomic_store_explicit(&ctr, (uint64_t)g << 32, memory_order_release);
  atomic_store(&gen, g); /* seq_cst: pairs with the sleepers check below */
  if (atomic_load(&sleepers) > 0) {
    pthread_mutex_lock(&sleep_lock);
    pthread_cond_broadcast(&sleep_cond);
    pthread_mutex_unlock(&sleep_lock);
  }
  run_tasks(g, fn, ctx, ntasks, 0);
  /* Wait for tasks claimed by workers. */
  int k = 0;
  while (atomic_load_explicit(&done, memory_order_acquire) < ntasks) {
    if (++k < 20000) cpu_relax();
    else sched_yield();
  }
  pthread_mutex_unlock(&run_lock);
}

float *pool_scratch(int thread, size_t floats) {
  if (thread >= 2 * POOL_MAX || thread < -2) return NULL;
  scratch_t *s = thread == -1 ? &tls_scratch : thread == -2 ? &tls_scratch2 : &scratch[thread];
  if (floats > s->n) {
    free(s->p);
    size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
    s->p = (float *)aligned_alloc(64, bytes);
    s->n = s->p ? floats : 0;
  }
  return s->p;
}
