/**
 * The box threshold τ (docs/method.md §5): its default, its valid range and how a run picks it — one home for all three.
 * τ is a fraction of a map's maximum grey level: foreground = uint8(255·map) > ⌊τ·max⌋, so only the open interval
 * (0, 1) is meaningful (τ ≤ 0 keeps every non-zero pixel, τ ≥ 1 keeps none). `uol evaluate` chooses τ and stores it in
 * the predictor ({@link ThresholdInfo}); localize and explain take an explicit τ, else the stored one, else the default.
 */
import { UsageError } from '../util/errors.js';
import type { Predictor, ThresholdInfo } from './predictor.js';

/** τ when neither the caller nor the predictor gives one. */
export const DEFAULT_THRESHOLD = 0.5;

/** Whether `t` is a valid τ: a finite number in the open interval (0, 1). */
export function isValidThreshold(t: unknown): t is number {
  return typeof t === 'number' && t > 0 && t < 1;
}

/**
 * Checks a τ given by a caller.
 * @param what how to name it in the message (the library names the option; the CLI maps it to its flag).
 * @throws UsageError naming `what` and the value when it is not in (0, 1).
 */
export function checkThreshold(t: number, what = 'threshold'): number {
  if (isValidThreshold(t)) return t;
  // An option (`threshold`) or a flag the CLI passed is marked as such; a phrase ("stored threshold") is not.
  const option = /^[a-z][A-Za-z0-9]*$|^--/.test(what);
  throw new UsageError(`${option ? `\`${what}\`` : what} ${String(t)}: must be a number in the open interval (0, 1)`, { options: option ? [what] : [] });
}

/**
 * The τ of a run and where it came from: `override` (checked), else the predictor's stored τ, else
 * {@link DEFAULT_THRESHOLD}.
 */
export function resolveThreshold(predictor: Pick<Predictor, 'threshold'> | undefined, override?: number, what = 'threshold'): ThresholdInfo & { origin: 'given' | 'stored' | 'default' } {
  if (override !== undefined) return { value: checkThreshold(override, what), source: what, origin: 'given' };
  if (predictor?.threshold) return { value: checkThreshold(predictor.threshold.value, 'stored threshold'), source: predictor.threshold.source, origin: 'stored' };
  return { value: DEFAULT_THRESHOLD, source: `default ${DEFAULT_THRESHOLD}`, origin: 'default' };
}
