/**
 * Class-wise optimised fits (`fitOptimized` with `classwise`, rps/optimize.ts): {@link fitClasswise}, the K per-class
 * classifiers in one streamed L-BFGS run, and their record in a predictor (`extras.classwiseFit`): per class its
 * soft-label threshold, point count and ‖w_opt,k‖ — what α of class k needs (representers.ts) — plus the run's outcome.
 * Read from untrusted files: every field is checked.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import type { FitStatistics } from './statistics.js';
import { closedFormDirection, representerThreshold } from './closed-form.js';
import { checkLossParams, getLoss, type LossName, type LossParams } from './losses.js';
import { minimizeLbfgs, type LbfgsStop } from './lbfgs.js';
import type { PointBatch, PointStream } from './point-source.js';

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

/** Settings of {@link fitClasswise} (those of `fitOptimized`, resolved). */
export interface ClasswiseContext {
  loss: LossName;
  lambda: number;
  kappa: number;
  scale: number;
  tol: number;
  maxPasses: number;
  memory: number;
  /** A fixed threshold for every class (else c_k from each class's statistics). */
  c?: number;
  maxSeconds?: number;
  onProgress?: ProgressCallback;
}

/**
 * The K class-wise classifiers: J_k(w_k) = (1/N_k) Σ_{i∈k} L_i(⟨w_k, f̂_i⟩) + λ‖w_k‖² with labels from c_k. The sum
 * Σ_k J_k is separable, so minimising it over the stacked [K,C] vector minimises every J_k; one streamed pass evaluates
 * all K (per batch: each point's w_k gathered, ŷ, L, L'/N_k, and the K gradients by a scatter-add of L'f̂/N_k into
 * [K,C] rows). Converged when every class's residual ‖∇J_k‖/(2λ‖w_k‖) ≤ tol. A final pass measures each class's
 * representer residual from α_i = −L'_i/(2λN_k‖w_k‖) (unit frame) and Σ_{i∈k} α_i f̂_i, again by scatter-add.
 * @returns unit rows [K,C] in class order (ascending index) and the per-class outcome.
 */
export async function fitClasswise(stream: PointStream, stats: FitStatistics, x: ClasswiseContext): Promise<{ rows: Float32Array; fit: ClasswiseFit }> {
  const loss = getLoss(x.loss);
  const ks = stats.classes();
  const K = ks.length;
  const C = stats.channels;
  const rowOf = new Map(ks.map((k, r) => [k, r]));
  const blocks = ks.map((k) => stats.perClass.get(k)!);
  const cs = blocks.map((b) => {
    if (x.c !== undefined) return x.c;
    const m = b.means();
    return representerThreshold(m.v, m.u);
  });
  const Ns = blocks.map((b) => b.points);
  for (const c of cs) checkLossParams({ c, kappa: x.kappa, scale: x.scale });
  // Per-point class rows of a batch (items never split across batches, each item one class).
  const rowsOf = (b: PointBatch): Int32Array => {
    const rows = new Int32Array(b.size);
    for (const sp of b.items) {
      const r = sp.classIndex === undefined ? undefined : rowOf.get(sp.classIndex);
      if (r === undefined) throw new UsageError(`${sp.id}: training item without a class label; \`classwise\` needs a label for every training item`, { options: ['classwise'] });
      rows.fill(r, sp.start, sp.start + sp.count);
    }
    return rows;
  };
  const unitParams: LossParams = { c: 1, kappa: x.kappa, scale: x.scale };
  const cT = tf.tensor2d(Float32Array.from(cs), [K, 1]);
  const invNT = tf.tensor2d(Float32Array.from(Ns, (n) => 1 / n), [K, 1]);
  let passes = 0;
  /** One pass: Σ_k (1/N_k)Σ L_i and the [K,C] gradient of the data term; or, with `alphaScale` [K], Σ α f̂ per class. */
  const sweep = async (W: Float64Array, alphaScale?: Float64Array): Promise<{ f: number; g: Float64Array }> => {
    const WT = tf.tensor2d(Float32Array.from(W), [K, C]);
    const aT = alphaScale ? tf.tensor2d(Float32Array.from(alphaScale), [K, 1]) : undefined;
    const g = new Float64Array(K * C);
    let f = 0;
    try {
      await stream.pass(async (b) => {
        const rows = rowsOf(b);
        const [lT, gT] = tf.tidy(() => {
          const r1 = tf.tensor1d(rows, 'int32');
          const yhat = tf.sum(tf.mul(b.fhat, tf.gather(WT, r1)), 1, true) as tf.Tensor2D;
          const labels = loss.labels(tf.div(b.norms, tf.gather(cT, r1)) as tf.Tensor2D, unitParams);
          const d = loss.derivative(yhat, labels, unitParams);
          // Data term: weights 1/N_k; final pass: α = d·(−1/(2λN_k‖w_k‖)).
          const wPt = tf.gather(aT ?? invNT, r1);
          const l = aT ? tf.scalar(0) : tf.sum(tf.mul(loss.value(yhat, labels, unitParams), wPt));
          const gk = tf.scatterND(tf.reshape(r1, [b.size, 1]), tf.mul(tf.mul(d, wPt), b.fhat), [K, C]);
          return [l, gk];
        });
        try {
          const [l, gb] = await Promise.all([lT.data(), gT.data()]);
          f += l[0]!;
          for (let j = 0; j < K * C; j++) g[j]! += gb[j]!;
        } finally {
          tf.dispose([lT, gT]);
        }
      }, 'pass');
    } finally {
      tf.dispose([WT, ...(aT ? [aT] : [])]);
    }
    passes++;
    return { f, g };
  };
  const classNorms = (v: Float64Array): Float64Array => {
    const out = new Float64Array(K);
    for (let r = 0; r < K; r++) {
      let s = 0;
      for (let j = r * C; j < (r + 1) * C; j++) s += v[j]! * v[j]!;
      out[r] = Math.sqrt(s);
    }
    return out;
  };
  const residuals = (W: Float64Array, grad: Float64Array): Float64Array => {
    const gn = classNorms(grad);
    const wn = classNorms(W);
    return gn.map((gv, r) => (wn[r]! > 0 ? gv / (2 * x.lambda * wn[r]!) : Infinity));
  };
  const maxOf = (a: Float64Array) => a.reduce((m, v) => Math.max(m, v), 0);
  try {
    const objective = async (W: Float64Array) => {
      const { f, g } = await sweep(W);
      let ww = 0;
      for (let j = 0; j < K * C; j++) {
        g[j] = g[j]! + 2 * x.lambda * W[j]!;
        ww += W[j]! * W[j]!;
      }
      const fv = f + x.lambda * ww;
      if (!Number.isFinite(fv)) throw new Error(`class-wise objective is not finite (${fv}) at pass ${passes}`);
      return { f: fv, g };
    };
    const t0 = Date.now();
    const lo: Parameters<typeof minimizeLbfgs>[2] = {
      maxEvaluations: x.maxPasses - 1,
      memory: x.memory,
      initialScale: 1 / (2 * x.lambda + loss.curvature(unitParams)),
      converged: (W, e) => maxOf(residuals(W, e.g)) <= x.tol,
      measure: (W, e) => maxOf(residuals(W, e.g)),
      onIteration: (it) => {
        x.onProgress?.({ stage: 'optimize classes', done: it.evaluations, total: x.maxPasses, unit: 'pass', detail: `${K} classes, J=${it.f.toPrecision(8)} ‖∇J‖=${it.gradNorm.toExponential(2)}` });
      },
    };
    if (x.maxSeconds !== undefined) lo.maxSeconds = Math.max(0, x.maxSeconds - (Date.now() - t0) / 1000);
    const res = await minimizeLbfgs(objective, new Float64Array(K * C), lo);
    const wn = classNorms(res.x);
    const dead = ks.filter((_, r) => !(wn[r]! > 0));
    if (dead.length) throw new UsageError(`cannot fit class${dead.length > 1 ? 'es' : ''} ${dead.join(', ')}: the optimum is w = 0 (${res.stop})`);
    // Final pass: Σ_{i∈k} α_i f̂_i in the unit frame.
    const agg = (await sweep(res.x, Float64Array.from(ks, (_, r) => -1 / (2 * x.lambda * Ns[r]! * wn[r]!)))).g;
    const rows = new Float32Array(K * C);
    const classes: ClassFit[] = ks.map((k, r) => {
      const m = blocks[r]!.means();
      const cf = closedFormDirection(m.v, m.u);
      let diff = 0;
      let cos = 0;
      for (let j = 0; j < C; j++) {
        const u = res.x[r * C + j]! / wn[r]!;
        rows[r * C + j] = u;
        diff += (u - agg[r * C + j]!) ** 2;
        cos += u * cf[j]!;
      }
      return { index: k, c: cs[r]!, points: Ns[r]!, images: blocks[r]!.images, wNorm: wn[r]!, residual: Math.sqrt(diff), cosineToClosedForm: cos };
    });
    return {
      rows,
      fit: { classes, converged: res.stop === 'converged', stop: res.stop, passes, iterations: res.iterations, objective: res.f, maxResidual: classes.reduce((mx, c) => Math.max(mx, c.residual), 0) },
    };
  } finally {
    tf.dispose([cT, invNT]);
  }
}
