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
 * `(map * 255).astype(np.uint8)`: for a float32 map numpy computes the product in float32 (round to float32, then
 * truncate). For every float32 v in [0, 1] that truncates to the same integer as the exact product v·255 (checked
 * exhaustively over all 1,065,353,217 such values with numpy: `(v*np.float32(255)).astype(np.uint8) ==
 * (v.astype(np.float64)*255).astype(np.uint8)`), so the double product is used. Precision only matters when a float64
 * map is rounded to float32 first (`precision: 'float32'`, the authors' release works in float32).
 * @param map `[H, W]` values in [0, 1] (validated as {@link checkScoreMap}).
 * @param precision `auto` follows the array type; `float32` rounds each value to float32 first.
 * @returns `[H, W]` uint8 gray levels.
 */
export function toGray(map: ScoreMap, height: number, width: number, precision: GrayPrecision = 'auto'): Uint8Array {
  return toGrayMax(map, height, width, precision).gray;
}

/** {@link toGray} plus max(gray), in one pass. */
export function toGrayMax(map: ScoreMap, height: number, width: number, precision: GrayPrecision = 'auto'): { gray: Uint8Array; max: number } {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new UsageError(`score map: bad size ${height}×${width} (expected positive integers)`);
  }
  if (map.length !== height * width) throw new UsageError(`score map: ${map.length} values for size ${height}×${width}`);
  const out = new Uint8Array(map.length);
  const round32 = precision === 'float32' && !(map instanceof Float32Array);
  // One pass: validate (as checkScoreMap), convert (Uint8Array stores trunc(v·255) for v·255 ∈ [0, 255]), track max.
  let bad = -1;
  let mx = 0;
  for (let i = 0; i < map.length; i++) {
    const v = round32 ? Math.fround(map[i]!) : map[i]!;
    if (!(v >= 0 && v <= 1)) {
      bad = i;
      break;
    }
    const g = (v * 255) | 0;
    out[i] = g;
    if (g > mx) mx = g;
  }
  if (bad >= 0) checkScoreMap(map, height, width);
  return { gray: out, max: mx };
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
export function parseThresholds(spec: string, option = 'thresholds'): Float64Array {
  const options = [option];
  const s = spec.trim();
  let out: Float64Array;
  if (s.includes(':')) {
    const parts = s.split(':');
    const nums = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
    if (parts.length !== 3 || nums.some((n) => !Number.isFinite(n))) {
      throw new UsageError(`\`${option}\` "${spec}": expected start:stop:step (numbers), e.g. 0.01:1:0.01`, { options });
    }
    if (!(nums[2]! > 0)) throw new UsageError(`\`${option}\` "${spec}": step must be > 0`, { options });
    out = npArange(nums[0]!, nums[1]!, nums[2]!);
  } else {
    const nums = s.split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
    if (nums.some((n) => !Number.isFinite(n))) throw new UsageError(`\`${option}\` "${spec}": expected start:stop:step or a comma list of numbers`, { options });
    out = Float64Array.from(nums);
  }
  if (out.length === 0) throw new UsageError(`\`${option}\` "${spec}": the grid is empty`, { options });
  for (const t of out) if (!(t >= 0 && t <= 1)) throw new UsageError(`\`${option}\` "${spec}": threshold ${t} is outside [0, 1]`, { options });
  return out;
}
