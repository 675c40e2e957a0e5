/**
 * Limited-memory BFGS for smooth convex objectives whose evaluation is *asynchronous* and *expensive* (one evaluation =
 * one streamed pass over the training points), in float64 on the host.
 *
 * Hand-written on purpose: the npm L-BFGS packages take a synchronous objective and stop on function-value tests, and
 * here (a) f and ∇f come from a stream (`await`), (b) they are sums of float32 batch partials, so near the optimum f is
 * only known to ~1e-7 relative, far coarser than the decrease per step — an Armijo test on f alone stalls early. The
 * line search therefore accepts a step on the *approximate Wolfe* conditions of Hager & Zhang (2005) when the value
 * is within noise: φ(a) ≤ φ(0) + ε|φ(0)| and φ'(a) ≤ (1−2δ)|φ'(0)|, together with the strong curvature condition
 * |φ'(a)| ≤ σ|φ'(0)|. It brackets the step on the sign of φ' and refines with safeguarded secant steps (exact in one
 * step for a quadratic, e.g. the linear loss). Convergence is decided by the caller's test (here: the relative
 * representer residual), checked at every accepted iterate.
 */

/** Value and gradient of the objective at a point. */
export interface Evaluation {
  f: number;
  g: Float64Array;
}

/** The objective: one (async, possibly expensive) evaluation of f and ∇f. */
export type AsyncObjective = (x: Float64Array) => Promise<Evaluation>;

/** Per-iteration report. */
export interface LbfgsIteration {
  /** Accepted iterations so far (≥ 1). */
  iteration: number;
  /** Objective evaluations so far (including line-search trials). */
  evaluations: number;
  f: number;
  /** ‖∇f‖₂. */
  gradNorm: number;
  /** Accepted step length along the search direction. */
  step: number;
  /** The accepted iterate (do not modify). */
  x: Float64Array;
}

/** Options of {@link minimizeLbfgs}. */
export interface LbfgsOptions {
  /** Maximum number of objective evaluations (the pass budget), ≥ 1. */
  maxEvaluations: number;
  /** Wall-clock budget in seconds (checked between evaluations). */
  maxSeconds?: number;
  /** Correction pairs kept (default 10). */
  memory?: number;
  /** Initial inverse-Hessian scale for the first direction d = −h₀·g (default 1/‖g‖). */
  initialScale?: number;
  /** Stop when true (checked at x₀ and after every accepted step). */
  converged: (x: Float64Array, e: Evaluation) => boolean;
  /**
   * Optional progress measure (smaller is better, e.g. a relative gradient norm). When its best value has not dropped
   * by 10% within `stallIterations` accepted steps and f has not dropped by more than its noise level over them, the
   * run stops as `stalled`: the precision floor of a noisy objective has been reached.
   */
  measure?: (x: Float64Array, e: Evaluation) => number;
  /** See `measure` (default 20). */
  stallIterations?: number;
  /** Curvature parameter σ (default 0.9) and sufficient-decrease δ (default 1e-4). */
  sigma?: number;
  delta?: number;
  /** Relative noise level of f for the approximate Wolfe test (default 1e-6). */
  valueNoise?: number;
  /** Line-search evaluations per iteration before giving up (default 20). */
  maxLineSearch?: number;
  onIteration?: (it: LbfgsIteration) => void;
}

/** Why the minimiser stopped. */
export type LbfgsStop = 'converged' | 'max-evaluations' | 'max-seconds' | 'line-search-failed' | 'stalled';

/** Result of {@link minimizeLbfgs}. */
export interface LbfgsResult {
  x: Float64Array;
  f: number;
  g: Float64Array;
  iterations: number;
  evaluations: number;
  stop: LbfgsStop;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function axpy(x: Float64Array, a: number, d: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + a * d[i]!;
  return out;
}

/**
 * Minimises a smooth (convex) function. Never throws for lack of convergence: the result says why it stopped.
 * @param x0 starting point (not modified).
 */
export async function minimizeLbfgs(fg: AsyncObjective, x0: Float64Array, o: LbfgsOptions): Promise<LbfgsResult> {
  const m = o.memory ?? 10;
  const sigma = o.sigma ?? 0.9;
  const delta = o.delta ?? 1e-4;
  const noise = o.valueNoise ?? 1e-6;
  const maxLS = o.maxLineSearch ?? 20;
  const t0 = Date.now();
  let evaluations = 0;
  const outOfBudget = (): LbfgsStop | undefined => {
    if (evaluations >= o.maxEvaluations) return 'max-evaluations';
    if (o.maxSeconds !== undefined && (Date.now() - t0) / 1000 >= o.maxSeconds) return 'max-seconds';
    return undefined;
  };
  const evaluate = async (x: Float64Array): Promise<Evaluation> => {
    evaluations++;
    return fg(x);
  };

  let x: Float64Array = Float64Array.from(x0);
  let cur = await evaluate(x);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const R: number[] = [];
  let iterations = 0;
  const done = (stop: LbfgsStop): LbfgsResult => ({ x, f: cur.f, g: cur.g, iterations, evaluations, stop });
  if (o.converged(x, cur)) return done('converged');
  const stallAfter = o.stallIterations ?? 20;
  let bestMeasure = o.measure ? o.measure(x, cur) : Infinity;
  let bestAt = 0;
  const fHistory: number[] = [cur.f];
  // Stalled: the measure has not improved by 10% in `stallAfter` steps *and* f has not dropped by more than its noise
  // over them (an ill-conditioned but healthy run keeps lowering f while ‖g‖ wanders).
  const stalled = (): boolean => {
    fHistory.push(cur.f);
    if (!o.measure) return false;
    const v = o.measure(x, cur);
    if (v < 0.9 * bestMeasure) {
      bestMeasure = v;
      bestAt = iterations;
    }
    if (iterations - bestAt < stallAfter) return false;
    const before = fHistory[fHistory.length - 1 - stallAfter]!;
    return before - cur.f <= noise * Math.abs(cur.f);
  };

  for (;;) {
    const budget = outOfBudget();
    if (budget) return done(budget);
    // Two-loop recursion: d = −H·g.
    const q = Float64Array.from(cur.g);
    const a = new Array<number>(S.length);
    for (let i = S.length - 1; i >= 0; i--) {
      a[i] = R[i]! * dot(S[i]!, q);
      for (let j = 0; j < q.length; j++) q[j]! -= a[i]! * Y[i]![j]!;
    }
    const k = S.length - 1;
    const gamma = k >= 0 ? dot(S[k]!, Y[k]!) / dot(Y[k]!, Y[k]!) : (o.initialScale ?? 1 / Math.sqrt(dot(cur.g, cur.g)));
    for (let j = 0; j < q.length; j++) q[j]! *= gamma;
    for (let i = 0; i < S.length; i++) {
      const b = R[i]! * dot(Y[i]!, q);
      for (let j = 0; j < q.length; j++) q[j]! += S[i]![j]! * (a[i]! - b);
    }
    const d = q.map((v) => -v);
    let dphi0 = dot(cur.g, d);
    if (!(dphi0 < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = 0;
      Y.length = 0;
      R.length = 0;
      const s = 1 / Math.sqrt(dot(cur.g, cur.g));
      for (let j = 0; j < d.length; j++) d[j] = -s * cur.g[j]!;
      dphi0 = dot(cur.g, d);
      if (!(dphi0 < 0)) return done('line-search-failed');
    }
    // Line search on φ(a) = f(x + a·d).
    const phi0 = cur.f;
    let lo = 0;
    let dlo = dphi0;
    let hi = Infinity;
    let dhi = NaN;
    let step = 1;
    let accepted: { x: Float64Array; e: Evaluation; step: number } | undefined;
    // Lowest trial below φ(0): taken when the budget ends inside the line search, so a budget stop keeps any progress.
    let best: { x: Float64Array; e: Evaluation; step: number } | undefined;
    for (let ls = 0; ls < maxLS; ls++) {
      if (outOfBudget()) break;
      const xt = axpy(x, step, d);
      const et = await evaluate(xt);
      if (Number.isFinite(et.f) && et.f < (best?.e.f ?? phi0)) best = { x: xt, e: et, step };
      const dphi = dot(et.g, d);
      const armijo = et.f <= phi0 + delta * step * dphi0;
      const approx = et.f <= phi0 + noise * Math.abs(phi0) && dphi <= (1 - 2 * delta) * Math.abs(dphi0);
      if (!Number.isFinite(et.f) || !(armijo || approx)) {
        hi = step;
        dhi = Number.isFinite(dphi) ? dphi : NaN;
      } else if (Math.abs(dphi) <= sigma * Math.abs(dphi0)) {
        accepted = { x: xt, e: et, step };
        break;
      } else if (dphi > 0) {
        hi = step;
        dhi = dphi;
      } else {
        lo = step;
        dlo = dphi;
      }
      if (hi === Infinity) {
        step *= 4;
      } else {
        const width = hi - lo;
        let next = lo + width / 2;
        if (Number.isFinite(dhi) && dhi > 0 && dlo < 0) next = lo - (dlo * width) / (dhi - dlo); // secant on φ'
        step = Math.min(Math.max(next, lo + 0.05 * width), hi - 0.05 * width);
      }
    }
    if (!accepted) {
      const stop = outOfBudget() ?? 'line-search-failed';
      if (best) {
        x = best.x;
        cur = best.e;
        iterations++;
        o.onIteration?.({ iteration: iterations, evaluations, f: cur.f, gradNorm: Math.sqrt(dot(cur.g, cur.g)), step: best.step, x });
        if (o.converged(x, cur)) return done('converged');
      }
      return done(stop);
    }
    const s = new Float64Array(x.length);
    const y = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      s[j] = accepted.x[j]! - x[j]!;
      y[j] = accepted.e.g[j]! - cur.g[j]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      S.push(s);
      Y.push(y);
      R.push(1 / sy);
      if (S.length > m) {
        S.shift();
        Y.shift();
        R.shift();
      }
    }
    x = accepted.x;
    cur = accepted.e;
    iterations++;
    o.onIteration?.({ iteration: iterations, evaluations, f: cur.f, gradNorm: Math.sqrt(dot(cur.g, cur.g)), step: accepted.step, x });
    if (o.converged(x, cur)) return done('converged');
    if (stalled()) return done('stalled');
  }
}
