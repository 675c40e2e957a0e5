/**
 * Seeded pseudo-random generators, one home for all of them (data sub-sampling, default weights for tensors a
 * checkpoint lacks, benchmark and test data). Integer arithmetic only, so every platform draws the same sequence.
 * Hand-written: a few lines each; a dependency would only add the risk of a changed sequence across versions.
 */

/** mulberry32: 32-bit state, uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Marsaglia's xorshift32 (shifts 13, 17, 5): raw 32-bit states in [1, 2^32). A zero seed (a fixed point) is replaced
 * by `zeroSeed`. tools/ref_boxes.py draws the same sequence for the box fixtures.
 */
export function xorshift32(seed: number, zeroSeed = 0x9e3779b9): () => number {
  let x = seed >>> 0 || zeroSeed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * A 32-bit linear congruential generator (multiplier 1103515245, increment 12345, the ANSI C example constants):
 * uniform floats in [0, 1). Statistically weak; kept because the permuted-weights control of the acceptance specs
 * (spec/helpers/control.ts) shuffles with this sequence and its stated margins were measured on that shuffle.
 */
export function lcg32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
}
