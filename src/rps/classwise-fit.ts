/**
 * The class-wise part of an optimised fit as stored in a predictor (`extras.classwiseFit`): per class its soft-label
 * threshold, point count and ‖w_opt,k‖ — what α of class k needs (representers.ts) — plus the run's outcome.
 * Read from untrusted files: every field is checked.
 */
import { UsageError } from '../util/errors.js';
import type { LbfgsStop } from './lbfgs.js';

/** Key of the class-wise block in `Predictor.extras`. */
export const CLASSWISE_EXTRA = 'classwiseFit';

/** One class of a class-wise optimised fit. */
export interface ClassFit {
  /** Class index. */
  index: number;
  /** Soft-label threshold c_k > 0 (from the class's statistics unless given). */
  c: number;
  /** Training points N_k and images of the class. */
  points: number;
  images: number;
  /** ‖w_opt,k‖. */
  wNorm: number;
  /** Representer residual ‖w_k − Σ_{i∈k} α_i f̂_i‖/‖w_k‖ measured by the final pass. */
  residual: number;
  /** cos(w_k, the class's closed-form w*_k). */
  cosineToClosedForm: number;
}

/** Result of the class-wise part of {@link fitOptimized}. */
export interface ClasswiseFit {
  classes: ClassFit[];
  converged: boolean;
  stop: LbfgsStop;
  /** Streamed passes of the class-wise optimisation (objective evaluations + final pass). */
  passes: number;
  iterations: number;
  /** Σ_k J_k at the optimum. */
  objective: number;
  /** Largest per-class residual. */
  maxResidual: number;
}

const STOPS: readonly LbfgsStop[] = ['converged', 'max-evaluations', 'max-seconds', 'line-search-failed', 'stalled'];

/** JSON-safe form of a {@link ClasswiseFit}. */
export function encodeClasswise(f: ClasswiseFit): Record<string, unknown> {
  return { ...f, classes: f.classes.map((c) => ({ ...c })) };
}

function num(o: Record<string, unknown>, key: string, where: string, positive = false): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || (positive && !(v > 0))) {
    throw new UsageError(`${where}.${key}: expected a finite number${positive ? ' > 0' : ''}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * The class-wise block of a predictor's extras, checked; undefined when absent.
 * @throws UsageError naming the malformed field.
 */
export function decodeClasswise(extras: Record<string, unknown> | undefined, file: string): ClasswiseFit | undefined {
  const raw = extras?.[CLASSWISE_EXTRA];
  if (raw === undefined) return undefined;
  const where = `${file}: extras.${CLASSWISE_EXTRA}`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`${where}: expected an object`);
  const r = raw as Record<string, unknown>;
  if (!Array.isArray(r.classes)) throw new UsageError(`${where}.classes: expected an array`);
  const stop = r.stop as LbfgsStop;
  if (!STOPS.includes(stop)) throw new UsageError(`${where}.stop: unknown value ${JSON.stringify(r.stop)}`);
  const classes = r.classes.map((c: unknown, i: number): ClassFit => {
    const w = `${where}.classes[${i}]`;
    if (!c || typeof c !== 'object') throw new UsageError(`${w}: expected an object`);
    const o = c as Record<string, unknown>;
    const index = num(o, 'index', w);
    if (!Number.isInteger(index) || index < 0) throw new UsageError(`${w}.index: expected an integer ≥ 0, got ${index}`);
    return {
      index,
      c: num(o, 'c', w, true),
      points: num(o, 'points', w, true),
      images: num(o, 'images', w, true),
      wNorm: num(o, 'wNorm', w, true),
      residual: num(o, 'residual', w),
      cosineToClosedForm: num(o, 'cosineToClosedForm', w),
    };
  });
  return {
    classes,
    converged: r.converged === true,
    stop,
    passes: num(r, 'passes', where),
    iterations: num(r, 'iterations', where),
    objective: num(r, 'objective', where),
    maxResidual: num(r, 'maxResidual', where),
  };
}
