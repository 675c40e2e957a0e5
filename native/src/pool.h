/*
 * A small persistent thread pool for the addon's kernels (see pool.c).
 *
 * Why our own and not OpenBLAS's threads or OpenMP: both spin-wait for a long time after every call (OpenBLAS about
 * 2^28 cycles), so on a machine shared with other busy processes — or next to PyTorch's own spinning threads in the
 * same benchmark — their workers burn the cores the next kernel needs. Our workers spin briefly (UOL_SPIN_US,
 * default 50 µs: long enough to bridge the JS dispatch between two kernels of one forward pass) and then sleep on a
 * condition variable. OpenBLAS itself is used single-threaded inside tasks.
 */
#ifndef UOL_POOL_H
#define UOL_POOL_H

#include <stddef.h>

/* A task body: `task` in [0, ntasks); `thread` identifies per-thread scratch for pool_scratch: 0..pool_threads()-1,
 * or -1 when the tasks run inline on a thread outside the pool. */
typedef void (*pool_fn)(void *ctx, int task, int thread);

/* Sets the number of threads (caller included), 1..64. Returns the number in effect. */
int pool_set_threads(int n);

/* Threads in use (caller included). */
int pool_threads(void);

/* Runs fn(ctx, t, thread) for t in [0, ntasks) on the pool (the caller takes part) and returns when all are done.
 * Re-entrant calls, or calls while another thread uses the pool, run the tasks inline on the caller. */
void pool_run(int ntasks, pool_fn fn, void *ctx);

/* Per-thread scratch memory of at least `floats` floats (64-byte aligned; grows, never shrinks; NULL when out of
 * memory). Valid until the next call with the same thread index (-1: the calling thread's own). */
float *pool_scratch(int thread, size_t floats);

/* Offset of a second scratch buffer per thread: pool_scratch(thread + POOL_SCRATCH_SECOND, n) for thread ≥ 0, and
 * pool_scratch(-2, n) for a thread outside the pool. */
#define POOL_SCRATCH_SECOND 64

/* Microseconds a worker spins before sleeping. */
void pool_set_spin_us(int us);

#endif
