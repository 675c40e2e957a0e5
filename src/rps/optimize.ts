/**
 * The loss-optimisation path of representer point selection (docs/method.md §3): a binary foreground classifier fitted by
 * regularised ERM on L2-normalised point features, its global sample importance α and its representer points.
 *
 * ## The mathematics
 * Training points i = 1..N with features f_i ∈ R^C, f̂_i = f_i/max(‖f_i‖, 1e-12). Model ŷ_i = ⟨w, f̂_i⟩. Soft labels come
 * from the norm margin m_i = ‖f_i‖/c − 1, with c = ‖v‖/‖u‖ by default (v = mean f, u = mean f̂; a first streaming pass
 * gives them as exact sums). Objective, with a per-point loss L_i (losses.ts) seeing the logit t·ŷ_i:
 *
 *     J(w) = (1/N) Σ_i L_i(ŷ_i) + λ‖w‖²,        ∇J(w) = (1/N) Σ_i L'_i f̂_i + 2λw,   L'_i = ∂L_i/∂ŷ_i.
 *
 * J is strongly convex (modulus 2λ) for both losses. At its minimiser ∇J = 0, i.e.
 *
 *     w_opt = Σ_i α_i f̂_i   with   α_i = −L'_i / (2λN)                    (representer theorem, Yeh et al. 2018)
 *
 * exactly; away from it the *representer residual* ‖w − Σα_i f̂_i‖/‖w‖ equals ‖∇J(w)‖/(2λ‖w‖), which is therefore the
 * convergence test (`tol`) — and it is measured once more, independently, by the final pass.
 *
 * - Linear loss, L_i = −s_i·t·ŷ_i with s_i = m_i: L'_i = −t s_i does not depend on w, so the stationary point is
 *   w_opt = (t/2λN) Σ s_i f̂_i = (t/2λ)(v/c − u). With c = ‖v‖/‖u‖: v/c − u = (‖u‖/‖v‖)·‖v‖(v/‖v‖ − u/‖u‖) ∝ the
 *   closed form w* of the authors' release; α_i = t s_i/(2λN) ∝ ‖f_i‖ − c. The loss is unbounded below on its own; the
 *   regulariser makes J a quadratic with Hessian 2λI, and L-BFGS with the initial scale 1/(2λ) lands on w_opt in its
 *   first step (the optimiser still has to *find* it: nothing is special-cased).
 * - Logistic loss, L_i = softplus(z_i) − y_i z_i with z_i = t ŷ_i and y_i = σ(κ m_i): L'_i = t(σ(z_i) − y_i), so
 *   α_i = t(y_i − p_i)/(2λN), p_i = σ(t ŷ_i): a point pulls w towards itself when its soft label exceeds the model's
 *   probability. There is no closed form; λ and t enter only as λ/t² (substitute w' = t w), t is exposed because it
 *   reads as a temperature. As λ → ∞, p_i → 1/2 and w_opt ∝ Σ(y_i − 1/2) f̂_i (a linear loss with sigmoid labels).
 *
 * Predictors store the unit vector w = w_opt/‖w_opt‖ (maps are scale-free) plus ‖w_opt‖ and every parameter needed to
 * recompute α (representers.ts works in the unit frame: Σα f̂ = w).
 *
 * ## The computation
 * Pass 1 sums the fit statistics (exact, as the closed form). Each objective evaluation is one streamed pass: per
 * batch of ≤ `batchPoints` points, as tf ops, ŷ = F̂w (a 2-D matmul), the labels, L and L', and the partial gradient
 * L'ᵀF̂ ([1,B]@[B,C]); partials are summed in float64 on the host. L-BFGS (lbfgs.ts) runs in float64 on the host (C
 * numbers). A last pass computes α for every point, Σα_i f̂_i (the residual) and the top-K representer points. Memory
 * is one batch plus O(K·C), unless the whole prepared set fits `cacheBytes`, in which case it is kept in memory
 * between passes (point-source.ts).
 *
 * ## Class-wise
 * With `classwise`, K more classifiers follow the global one: w_k minimises J_k over the N_k points of class-k images
 * with the class's own threshold c_k = ‖v_k‖/‖u_k‖, so its α live on class-k points only (α_i = −L'_i/(2λN_k)) and the
 * linear loss reproduces the class-wise closed form. Σ_k J_k is separable, so one L-BFGS over the stacked [K,C] vector
 * minimises every J_k, and one streamed pass evaluates all of them (see fitClasswise in classwise-fit.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import type { BackboneIdentity } from '../backbones/types.js';
import { FitStatistics } from './statistics.js';
import { closedFormDirection, representerThreshold } from './closed-form.js';
import { predictorFromStatistics, type FitOptions, type Predictor } from './predictor.js';
import { checkLossParams, getLoss, type LossName, type LossParams } from './losses.js';
import { minimizeLbfgs, type LbfgsStop } from './lbfgs.js';
import { PointStream, type TrainingSource } from './point-source.js';
import { CLASSWISE_EXTRA, encodeClasswise, fitClasswise, type ClasswiseFit } from './classwise-fit.js';
import { alphaModelFromPredictor, collectRepresenters, type AlphaModel, type RepresenterSet } from './representers.js';
import { encodeRepresenters } from './representers-file.js';

export type { ClassFit, ClasswiseFit } from './classwise-fit.js';

// Defaults of the optimisation path, declared without TF.js so `uol fit --help` shows them without an engine.
export { OPTIMIZE_DEFAULTS } from './optimize-defaults.js';
import { OPTIMIZE_DEFAULTS } from './optimize-defaults.js';

/** One optimiser iteration, as reported to `onIteration` and kept in the result. */
export interface OptimizeIteration {
  iteration: number;
  /** Streamed passes so far (statistics pass included). */
  passes: number;
  /** J(w). */
  objective: number;
  /** ‖∇J‖/(2λ‖w‖) = representer residual estimate at this iterate. */
  residual: number;
  /** Accepted step length. */
  step: number;
}

/** Options of {@link fitOptimized}. */
export interface OptimizeOptions {
  /** Backbone identity recorded in the predictor, or a function of the channel count (for external features). */
  backbone: BackboneIdentity | ((channels: number) => BackboneIdentity);
  /** Loss (default logistic). */
  loss?: LossName;
  /** λ > 0 (default 1e-3). */
  lambda?: number;
  /** Logit scale t > 0 (default 1). */
  scale?: number;
  /** Soft-label steepness κ > 0 for the logistic loss (default 5). */
  kappa?: number;
  /** Soft-label threshold c > 0 (default ‖v‖/‖u‖ from the statistics). */
  c?: number;
  /** Budget: maximum streamed passes in total, statistics and final pass included (default 100, ≥ 4); with `classwise` the class-wise phase has the same budget again. */
  maxPasses?: number;
  /** Budget: wall-clock seconds for the optimisation (with `classwise`: for each phase). */
  maxSeconds?: number;
  /**
   * Convergence: relative residual ‖∇J‖/(2λ‖w‖) ≤ tol (default 1e-5). Float32 per-point arithmetic floors it at about
   * 1e-7·mean|L'|/(2λ‖w‖) (1e-7…1e-5 in practice); a run that stops improving there ends as `stalled`.
   */
  tol?: number;
  /** Representer points kept per side (default 32; 0 = none). Global w only. */
  topK?: number;
  /**
   * Also fit one w per class (every training item needs a class index): K classifiers, each on its class's points with
   * its own soft-label threshold c_k (unless `c` is given), optimised jointly (one streamed pass evaluates all K).
   */
  classwise?: boolean;
  /** Class names by index (class-wise). */
  classNames?: Map<number, string>;
  /** L-BFGS memory (default 10). */
  memory?: number;
  /** Points per tf batch (default 16384). */
  batchPoints?: number;
  /** Keep prepared points in memory when they fit (bytes, default 256 MiB; 0 = always stream). */
  cacheBytes?: number;
  /** Creation info / tool for the predictor. */
  created?: FitOptions['created'];
  tool?: string;
  onProgress?: ProgressCallback;
  onIteration?: (it: OptimizeIteration) => void;
}

/** Result of {@link fitOptimized}. */
export interface OptimizeResult {
  predictor: Predictor;
  statistics: FitStatistics;
  converged: boolean;
  stop: LbfgsStop;
  /** Streamed passes in total (statistics + objective evaluations + final). */
  passes: number;
  iterations: number;
  /** Representer residual ‖w − Σα_i f̂_i‖/‖w‖ measured by the final pass. */
  residual: number;
  objective: number;
  /** ‖w_opt‖. */
  wNorm: number;
  /** cos(w_opt, closed-form w*). */
  cosineToClosedForm: number;
  history: OptimizeIteration[];
  representers: RepresenterSet;
  /** True when passes after the first were served from memory. */
  cached: boolean;
  /** The class-wise fit, when asked for. */
  classwise?: ClasswiseFit;
}

function positive(name: string, v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new UsageError(`${name} = ${v} must be a finite number > 0`);
  return v;
}

/**
 * Fits the global foreground classifier by regularised ERM with L-BFGS over streamed passes, then computes α, the
 * representer residual and the top-K representer points.
 * @throws UsageError for bad options, bad training items, or degenerate data (all features zero).
 */
export async function fitOptimized(source: TrainingSource, o: OptimizeOptions): Promise<OptimizeResult> {
  const loss = getLoss(o.loss ?? OPTIMIZE_DEFAULTS.loss);
  const lambda = positive('lambda', o.lambda ?? OPTIMIZE_DEFAULTS.lambda);
  const scale = positive('scale', o.scale ?? OPTIMIZE_DEFAULTS.scale);
  const kappa = positive('kappa', o.kappa ?? OPTIMIZE_DEFAULTS.kappa);
  const tol = positive('tol', o.tol ?? OPTIMIZE_DEFAULTS.tol);
  const maxPasses = o.maxPasses ?? OPTIMIZE_DEFAULTS.maxPasses;
  if (!Number.isInteger(maxPasses) || maxPasses < 4) throw new UsageError(`max passes ${maxPasses} must be an integer ≥ 4 (statistics, two evaluations, final)`);
  const topK = o.topK ?? OPTIMIZE_DEFAULTS.topK;
  if (!Number.isInteger(topK) || topK < 0) throw new UsageError(`top-k ${topK} must be an integer ≥ 0`);
  if (o.c !== undefined) positive('c', o.c);
  if (o.maxSeconds !== undefined) positive('max seconds', o.maxSeconds);

  let statistics: FitStatistics | undefined;
  const streamOpts: ConstructorParameters<typeof PointStream>[1] = {
    onFirstPassItem: async (item, t) => {
      statistics ??= new FitStatistics(t.shape[3]);
      await statistics.addBatch(t, item.classIndex === undefined ? undefined : [item.classIndex]);
    },
  };
  if (o.batchPoints !== undefined) streamOpts.batchPoints = o.batchPoints;
  if (o.cacheBytes !== undefined) streamOpts.cacheBytes = o.cacheBytes;
  if (o.onProgress) streamOpts.onProgress = o.onProgress;
  const stream = new PointStream(source, streamOpts);
  try {
    // Pass 1: statistics (and the in-memory cache when the data fit).
    await stream.pass(() => undefined, 'statistics');
    let passes = 1;
    const stats = statistics!;
    if (o.classwise && stats.classes().length === 0) throw new UsageError('class-wise fit needs class labels, but no training item had one');
    const C = stream.channels;
    const N = stream.counts.points;
    const backbone = typeof o.backbone === 'function' ? o.backbone(C) : o.backbone;
    if (stats.channels !== backbone.channels) {
      throw new UsageError(`features have ${stats.channels} channels but backbone ${backbone.id} has ${backbone.channels}`);
    }
    const g = stats.global.means();
    const cfW = closedFormDirection(g.v, g.u);
    const c = o.c ?? representerThreshold(g.v, g.u);
    const params: LossParams = { c, kappa, scale };
    checkLossParams(params);

    // Objective evaluations: one streamed pass each.
    const objective = async (w: Float64Array): Promise<{ f: number; g: Float64Array }> => {
      const wT = tf.tensor2d(Float32Array.from(w), [C, 1]);
      const grad = new Float64Array(C);
      let lsum = 0;
      try {
        await stream.pass(async (b) => {
          const [lT, gT] = tf.tidy(() => {
            const yhat = tf.matMul(b.fhat, wT) as tf.Tensor2D;
            const labels = loss.labels(b.norms, params);
            const l = tf.sum(loss.value(yhat, labels, params));
            const d = loss.derivative(yhat, labels, params);
            return [l, tf.matMul(tf.reshape(d, [1, b.size]), b.fhat)];
          });
          try {
            const [l, gb] = await Promise.all([lT.data(), gT.data()]);
            lsum += l[0]!;
            for (let j = 0; j < C; j++) grad[j]! += gb[j]!;
          } finally {
            tf.dispose([lT, gT]);
          }
        }, 'pass');
      } finally {
        wT.dispose();
      }
      passes++;
      let ww = 0;
      for (let j = 0; j < C; j++) {
        grad[j] = grad[j]! / N + 2 * lambda * w[j]!;
        ww += w[j]! * w[j]!;
      }
      const f = lsum / N + lambda * ww;
      if (!Number.isFinite(f)) throw new Error(`objective is not finite (${f}) at pass ${passes}`);
      return { f, g: grad };
    };
    const residualOf = (w: Float64Array, grad: Float64Array): number => {
      let gg = 0;
      let ww = 0;
      for (let j = 0; j < C; j++) {
        gg += grad[j]! * grad[j]!;
        ww += w[j]! * w[j]!;
      }
      return ww > 0 ? Math.sqrt(gg) / (2 * lambda * Math.sqrt(ww)) : Infinity;
    };
    const history: OptimizeIteration[] = [];
    const t0 = Date.now();
    const lbfgsOpts: Parameters<typeof minimizeLbfgs>[2] = {
      maxEvaluations: maxPasses - 2,
      memory: o.memory ?? OPTIMIZE_DEFAULTS.memory,
      // First step −g/(2λ + κ_L): exact for the linear loss (κ_L = 0); for a loss with curvature ≤ κ_L (logistic: t²/4,
      // and ‖f̂‖ ≤ 1) it never overshoots the minimiser along −g by more than it can come back.
      initialScale: 1 / (2 * lambda + loss.curvature(params)),
      converged: (w, e) => residualOf(w, e.g) <= tol,
      measure: (w, e) => residualOf(w, e.g),
      onIteration: (it) => {
        const rec: OptimizeIteration = { iteration: it.iteration, passes: 1 + it.evaluations, objective: it.f, residual: it.gradNorm / (2 * lambda * Math.sqrt(sq(it.x))), step: it.step };
        history.push(rec);
        o.onIteration?.(rec);
        o.onProgress?.({ stage: 'optimize', done: rec.passes, total: maxPasses, unit: 'pass', detail: `J=${rec.objective.toPrecision(8)} residual=${rec.residual.toExponential(2)}` });
      },
    };
    if (o.maxSeconds !== undefined) lbfgsOpts.maxSeconds = Math.max(0, o.maxSeconds - (Date.now() - t0) / 1000);
    const res = await minimizeLbfgs(objective, new Float64Array(C), lbfgsOpts);
    const wOpt = res.x;
    const wNorm = Math.sqrt(sq(wOpt));
    if (!(wNorm > 0)) {
      throw new UsageError(
        res.stop === 'converged'
          ? 'cannot fit: the optimum is w = 0 (every point matches its soft label at w = 0; are all features zero?)'
          : `cannot fit: the optimiser stopped (${res.stop}) before its first step; raise \`maxPasses\` / \`maxSeconds\``,
        { options: ['maxPasses', 'maxSeconds'] },
      );
    }

    // Final pass: α, Σα f̂ (residual) and representer points.
    const model: AlphaModel = { loss: loss.name, params, lambda, points: N, wRaw: wOpt };
    const unit = Float64Array.from(wOpt, (x) => x / wNorm);
    const representers = await collectRepresenters(stream, model, topK, unit);
    passes++;

    const fitOpts: FitOptions = { backbone };
    if (o.created) fitOpts.created = o.created;
    if (o.tool) fitOpts.tool = o.tool;
    const predictor = predictorFromStatistics(stats, fitOpts);
    predictor.weights = Float32Array.from(unit);
    let cos = 0;
    for (let j = 0; j < C; j++) cos += unit[j]! * cfW[j]!;
    predictor.method = {
      name: 'optimize',
      params: {
        loss: loss.name,
        lambda,
        scale,
        kappa,
        c,
        cFromStatistics: o.c === undefined,
        points: N,
        wNorm,
        optimizer: 'lbfgs',
        tol,
        converged: res.stop === 'converged',
        stop: res.stop,
        passes,
        iterations: res.iterations,
        objective: res.f,
        cosineToClosedForm: cos,
      },
      representerResidual: representers.residual,
    };
    if (topK > 0) predictor.extras = { ...(predictor.extras ?? {}), representers: encodeRepresenters(representers, topK) };
    let classwise: ClasswiseFit | undefined;
    if (o.classwise) {
      const cw = await fitClasswise(stream, stats, { loss: loss.name, lambda, kappa, scale, tol, maxPasses, memory: o.memory ?? OPTIMIZE_DEFAULTS.memory, ...(o.c !== undefined ? { c: o.c } : {}), ...(o.maxSeconds !== undefined ? { maxSeconds: o.maxSeconds } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
      classwise = cw.fit;
      const cf = predictorFromStatistics(stats, { ...fitOpts, classwise: true, ...(o.classNames ? { classNames: o.classNames } : {}) });
      predictor.classwise = true;
      predictor.classes = cf.classes;
      predictor.statistics = cf.statistics;
      predictor.perClassWeights = cw.rows;
      predictor.extras = { ...(predictor.extras ?? {}), [CLASSWISE_EXTRA]: encodeClasswise(cw.fit) };
      passes += cw.fit.passes;
    }
    return {
      predictor,
      statistics: stats,
      converged: res.stop === 'converged',
      stop: res.stop,
      passes,
      iterations: res.iterations,
      residual: representers.residual,
      objective: res.f,
      wNorm,
      cosineToClosedForm: cos,
      history,
      representers,
      cached: stream.isCached,
      ...(classwise ? { classwise } : {}),
    };
  } finally {
    stream.dispose();
  }
}

function sq(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return s;
}

/** Options of {@link addRepresenters}. */
export interface AddRepresentersOptions {
  /** Points kept per side (≥ 1). */
  topK: number;
  batchPoints?: number;
  cacheBytes?: number;
  onProgress?: ProgressCallback;
}

/**
 * Adds representer points (one streaming pass) and the representer residual to a predictor fitted on `source` — a
 * closed-form predictor (α from its statistics) or an optimised one. Returns a new predictor.
 */
export async function addRepresenters(p: Predictor, source: TrainingSource, o: AddRepresentersOptions): Promise<{ predictor: Predictor; representers: RepresenterSet }> {
  if (!Number.isInteger(o.topK) || o.topK < 1) throw new UsageError(`top-k ${o.topK} must be an integer ≥ 1`);
  const model = alphaModelFromPredictor(p);
  const streamOpts: ConstructorParameters<typeof PointStream>[1] = { cacheBytes: o.cacheBytes ?? 0 };
  if (o.batchPoints !== undefined) streamOpts.batchPoints = o.batchPoints;
  if (o.onProgress) streamOpts.onProgress = o.onProgress;
  const stream = new PointStream(source, streamOpts);
  try {
    const representers = await collectRepresenters(stream, model, o.topK, p.weights);
    if (stream.counts.points !== model.points) {
      throw new UsageError(`the training source has ${stream.counts.points} points but the predictor was fitted on ${model.points}`);
    }
    const predictor: Predictor = {
      ...p,
      method: { ...p.method, representerResidual: representers.residual },
      extras: { ...(p.extras ?? {}), representers: encodeRepresenters(representers, o.topK) },
    };
    return { predictor, representers };
  } finally {
    stream.dispose();
  }
}
