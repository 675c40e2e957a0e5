/**
 * The first steps of the wsolevaluation / OpenCV box protocol, bit for bit:
 * - score map → 8-bit gray exactly as numpy's `(map * 255).astype(np.uint8)` (product in the map's own dtype, then
 *   truncation toward zero),
 * - the τ grid exactly as `np.arange(start, stop, step)` builds it,
 * - the integer cut `int(τ · max(gray))` that cv2.threshold(THRESH_BINARY) compares against with a strict `>`.
 */
import { UsageError } from '../util/errors.js';

/** A score map: row-major `[H, W]` values in [0, 1]. Float32Array maps use float32 arithmetic, Float64Array float64. */
export type ScoreMap = Float32Array | Float64Array;

/** Which float precision the `map · 255` product is computed in (numpy computes it in the array's own dtype). */
export type GrayPrecision = 'auto' | 'float32' | 'float64';

/**
 * Checks what wsolevaluation's `check_scoremap_validity` checks: length h·w, no NaN, every value in [0, 1].
 * @throws UsageError naming the first offending pixel `(y, x)` and value.
 */
export function checkScoreMap(map: ScoreMap, height: number, width: number): void {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new UsageError(`score map: bad size ${height}×${width} (expected positive integers)`);
  }
  if (map.length !== height * width) throw new UsageError(`score map: ${map.length} values for size ${height}×${width}`);
  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    // `!(v >= 0 && v <= 1)` also catches NaN.
    if (!(v >= 0 && v <= 1)) {
      throw new UsageError(`score map: value ${v} at (y=${Math.floor(i / width)}, x=${i % width}) is outside [0, 1]`);
    }
  }
}

/**
 * `(map * 255).astype(np.uint8)`: for a float32 map the product is rounded to float32 (the exact double product of a
 * float32 and 255 needs ≤ 32 significant bits, so `Math.fround` of it is numpy's float32 product), then truncated.
 * @param map `[H, W]` values in [0, 1] (validated).
 * @param precision `auto` follows the array type; `float64` reproduces wsolevaluation, which casts maps to float64.
 * @returns `[H, W]` uint8 gray levels.
 */
export function toGray(map: ScoreMap, height: number, width: number, precision: GrayPrecision = 'auto'): Uint8Array {
  checkScoreMap(map, height, width);
  const out = new Uint8Array(map.length);
  const f32 = precision === 'float32' || (precision === 'auto' && map instanceof Float32Array);
  if (f32) {
    for (let i = 0; i < map.length; i++) out[i] = Math.fround(Math.fround(map[i]!) * 255);
  } else {
    for (let i = 0; i < map.length; i++) out[i] = map[i]! * 255;
  }
  // Uint8Array stores ToUint8(trunc(v)); v ∈ [0, 255] so that is plain truncation.
  return out;
}

/** max over a gray image (0 for an empty one). */
export function maxGray(gray: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < gray.length; i++) if (gray[i]! > m) m = gray[i]!;
  return m;
}

/**
 * The integer cut cv2.threshold receives: `int(τ · max(gray))` with τ a float64 and max a uint8 (numpy promotes the
 * product to float64; `int()` truncates). A pixel is foreground when `gray > cut`.
 */
export function grayCut(tau: number, max: number): number {
  return Math.trunc(tau * max);
}

/**
 * `np.arange(start, stop, step)` for float64 arguments, value for value: length `ceil((stop − start)/step)`,
 * element 0 = start, element 1 = start + step, element i ≥ 2 = start + i·((start + step) − start) (numpy's fill).
 * @throws UsageError for a zero/non-finite step or a non-finite bound.
 */
export function npArange(start: number, stop: number, step: number): Float64Array {
  if (![start, stop, step].every(Number.isFinite)) throw new UsageError(`arange(${start}, ${stop}, ${step}): bounds and step must be finite`);
  if (step === 0) throw new UsageError(`arange(${start}, ${stop}, ${step}): step must not be 0`);
  const len = Math.ceil((stop - start) / step);
  if (!(len > 0)) return new Float64Array(0);
  if (len > 1e7) throw new UsageError(`arange(${start}, ${stop}, ${step}): ${len} values is too many`);
  const out = new Float64Array(len);
  out[0] = start;
  if (len > 1) {
    const next = start + step;
    out[1] = next;
    const delta = next - start;
    for (let i = 2; i < len; i++) out[i] = start + i * delta;
  }
  return out;
}

/** The authors' release grid, `np.arange(0.01, 1, 0.01)`: 99 thresholds 0.01 … 0.99. */
export function releaseThresholds(): Float64Array {
  return npArange(0.01, 1, 0.01);
}

/** wsolevaluation's grid for a curve interval, `np.arange(0, 1, interval)` (0.01 → 100 thresholds 0 … 0.99). */
export function wsolThresholds(interval = 0.01): Float64Array {
  return npArange(0, 1, interval);
}

/**
 * Parses a grid spec `a:b:step` (= `np.arange(a, b, step)`) or a comma list `t1,t2,…`.
 * Every threshold must lie in [0, 1].
 * @throws UsageError naming the spec.
 */
export function parseThresholds(spec: string, flag = '--thresholds'): Float64Array {
  const s = spec.trim();
  let out: Float64Array;
  if (s.includes(':')) {
    const parts = s.split(':');
    const nums = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
    if (parts.length !== 3 || nums.some((n) => !Number.isFinite(n))) {
      throw new UsageError(`${flag} "${spec}": expected start:stop:step (numbers), e.g. 0.01:1:0.01`);
    }
    if (!(nums[2]! > 0)) throw new UsageError(`${flag} "${spec}": step must be > 0`);
    out = npArange(nums[0]!, nums[1]!, nums[2]!);
  } else {
    const nums = s.split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
    if (nums.some((n) => !Number.isFinite(n))) throw new UsageError(`${flag} "${spec}": expected start:stop:step or a comma list of numbers`);
    out = Float64Array.from(nums);
  }
  if (out.length === 0) throw new UsageError(`${flag} "${spec}": the grid is empty`);
  for (const t of out) if (!(t >= 0 && t <= 1)) throw new UsageError(`${flag} "${spec}": threshold ${t} is outside [0, 1]`);
  return out;
}
