/**
 * Closed-form foreground direction (docs/method.md §3): w* = normalise(v/‖v‖ − u/‖u‖), with v the mean raw feature and u the
 * mean normalised feature; class-wise: one w*_k from class k's statistics.
 *
 * Computed on the host in float64: it is O(C) work once per fit, and v/‖v‖ and u/‖u‖ are nearly parallel, so their
 * difference loses ~2–3 decimal digits to cancellation — in float32 that would cost the 1e-5 accuracy we promise.
 */
import { UsageError } from '../util/errors.js';
import type { StatsBlock } from './statistics.js';

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

/**
 * w* from means v and u (float64, length C). Returns float64 of unit norm.
 * @throws UsageError when v or u is zero, or v ∥ u (all points of equal norm: no foreground direction).
 */
export function closedFormDirection(v: Float64Array, u: Float64Array): Float64Array {
  const nv = norm(v);
  const nu = norm(u);
  if (!(nv > 0) || !(nu > 0)) throw new UsageError('cannot fit: the mean feature is zero (all features are zero)');
  const d = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) d[i] = v[i]! / nv - u[i]! / nu;
  const nd = norm(d);
  // v/‖v‖ and u/‖u‖ are unit vectors computed from float32 sums (~1e-7 relative): a difference below 1e-6 is noise.
  if (!(nd > 1e-6)) throw new UsageError('cannot fit: v and u are parallel (every point has the same norm), w* is undefined');
  for (let i = 0; i < d.length; i++) d[i]! /= nd;
  return d;
}

/** The representer threshold c = ‖v‖/‖u‖: points with ‖f‖ > c are excitatory (α > 0), below inhibitory. */
export function representerThreshold(v: Float64Array, u: Float64Array): number {
  return norm(v) / norm(u);
}

/** w* for one statistics block. */
export function directionFromBlock(b: StatsBlock): Float64Array {
  const { v, u } = b.means();
  return closedFormDirection(v, u);
}
