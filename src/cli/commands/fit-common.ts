/**
 * Shared pieces of `uol fit`'s two paths (features and images): arguments, checks, result printing.
 */
import type { ClassifierArgs } from './classifier-args.js';
import { UsageError } from '../../util/errors.js';
import type { Predictor } from '../../rps/predictor.js';
import type { FitStatistics } from '../../rps/statistics.js';
import type { OptimizeOptions, OptimizeResult } from '../../rps/optimize.js';
import { OPTIMIZE_DEFAULTS } from '../../rps/optimize-defaults.js';
import type { BackboneIdentity } from '../../backbones/types.js';
import type { ProgressCallback } from '../../util/progress.js';
import { TOOL } from '../../version.js';
import type { LossName } from '../../rps/losses.js';
import { emit, type GlobalArgs } from '../context.js';
import type { SharedArgs } from './shared-options.js';
import { ProtocolArgs, type SelectionArgs } from './protocol-args.js';

export { emit };

/** Arguments of `uol fit`. */
export interface FitArgs extends GlobalArgs, Omit<ClassifierArgs, 'batch-size' | 'skip-bad'>, SharedArgs<'backbone' | 'downscale' | 'dataset' | 'data-dir' | 'metadata' | 'split' | 'batch-size' | 'skip-bad' | 'seed' | 'sampling-ratio' | 'from-features' | 'labels' | 'classwise' | 'feature-cache' | 'base-dataset'>, ProtocolArgs, SelectionArgs {
  out: string;
  'backbone-id'?: string;
  shard?: string;
  'stats-out'?: string;
  method: 'closed-form' | 'optimize';
  loss: LossName;
  lambda: number;
  scale: number;
  kappa: number;
  'label-threshold'?: number;
  'max-passes': number;
  'max-seconds'?: number;
  tol: number;
  'top-k'?: number;
  'batch-points': number;
  'cache-mb': number;
  'train-images'?: string;
  'train-size'?: string;
  images?: string[];
  size: number;
  'checkpoint-every': number;
}

export const STOP_TEXT: Record<string, string> = {
  converged: 'converged',
  stalled: 'stopped at the float32 precision floor (stalled; raise --tol to call this converged)',
  'max-evaluations': 'NOT converged: --max-passes exhausted',
  'max-seconds': 'NOT converged: --max-seconds exhausted',
  'line-search-failed': 'NOT converged: the line search failed',
};

/** @throws UsageError unless `v` is undefined or a finite number > min (≥ min with `inclusive`), integral if asked. */
export function checkNumber(flag: string, v: number | undefined, min: number, o: { inclusive?: boolean; integer?: boolean } = {}): void {
  if (v === undefined) return;
  const ok = Number.isFinite(v) && (o.inclusive ? v >= min : v > min) && (!o.integer || Number.isInteger(v));
  if (!ok) throw new UsageError(`${flag} ${String(v)}: expected ${o.integer ? 'an integer' : 'a number'} ${o.inclusive ? '≥' : '>'} ${min}`);
}

/** Prints the result of a closed-form fit. */
export function emitClosedForm(a: GlobalArgs & { out: string }, predictor: Predictor, statistics: FitStatistics, residual: number | null, extra: Record<string, unknown> = {}): void {
  emit(
    a,
    { predictor: a.out, method: 'closed-form', images: statistics.global.images, points: statistics.global.points, channels: statistics.channels, classes: predictor.classes.length, c: predictor.statistics[0]!.c, representerResidual: residual, ...extra },
    `wrote ${a.out}: w* over ${statistics.global.images} images / ${statistics.global.points} points, C=${statistics.channels}${predictor.classwise ? `, ${predictor.classes.length} classes` : ''}`,
  );
}

/** Prints the result of an optimised fit. */
export function emitOptimized(a: GlobalArgs & { out: string; loss: LossName; lambda: number; scale: number; kappa: number }, r: OptimizeResult, extra: Record<string, unknown> = {}): void {
        const pr = r.predictor.method.params!;
        emit(
          a,
          {
            ...extra,
            predictor: a.out,
            method: 'optimize',
            loss: a.loss,
            images: r.statistics.global.images,
            points: r.statistics.global.points,
            channels: r.statistics.channels,
            c: pr.c,
            lambda: a.lambda,
            scale: a.scale,
            kappa: a.kappa,
            converged: r.converged,
            stop: r.stop,
            passes: r.passes,
            iterations: r.iterations,
            objective: r.objective,
            wNorm: r.wNorm,
            cosineToClosedForm: r.cosineToClosedForm,
            representerResidual: r.residual,
            representerPoints: { excitatory: r.representers.excitatory.length, inhibitory: r.representers.inhibitory.length },
            alpha: r.representers.summary,
            cached: r.cached,
            ...(r.classwise
              ? {
                  classwise: {
                    classes: r.classwise.classes.length,
                    converged: r.classwise.converged,
                    stop: r.classwise.stop,
                    passes: r.classwise.passes,
                    iterations: r.classwise.iterations,
                    maxRepresenterResidual: r.classwise.maxResidual,
                    perClass: r.classwise.classes,
                  },
                }
              : {}),
          },
          [
            `wrote ${a.out}: ${a.loss} loss, λ=${a.lambda}, t=${a.scale}${a.loss === 'logistic' ? `, κ=${a.kappa}` : ''}, c=${Number(pr.c).toPrecision(6)} over ${r.statistics.global.images} images / ${r.statistics.global.points} points`,
            `${STOP_TEXT[r.stop]} after ${r.iterations} iterations / ${r.passes} passes; representer residual ${r.residual.toExponential(2)}; cos to closed form ${r.cosineToClosedForm.toFixed(6)}`,
            `α: ${r.representers.summary.positive} excitatory, ${r.representers.summary.negative} inhibitory points; kept top ${r.representers.excitatory.length}/${r.representers.inhibitory.length}`,
            ...(r.classwise
              ? [`class-wise: ${r.classwise.classes.length} classes, ${STOP_TEXT[r.classwise.stop]} after ${r.classwise.iterations} iterations / ${r.classwise.passes} passes; largest representer residual ${r.classwise.maxResidual.toExponential(2)}`]
              : []),
          ],
        );
}

/** OptimizeOptions from the `uol fit` flags (both paths). */
export function optimizeOptions(a: FitArgs, backbone: (channels: number) => BackboneIdentity, source: string, onProgress: ProgressCallback): OptimizeOptions {
  const oo: OptimizeOptions = {
    backbone,
    loss: a.loss,
    lambda: a.lambda,
    scale: a.scale,
    kappa: a.kappa,
    maxPasses: a['max-passes'],
    tol: a.tol,
    topK: a['top-k'] ?? OPTIMIZE_DEFAULTS.topK,
    batchPoints: a['batch-points'],
    cacheBytes: Math.round(a['cache-mb'] * 1024 * 1024),
    created: { source },
    tool: TOOL,
    onProgress,
  };
  if (a['label-threshold'] !== undefined) oo.c = a['label-threshold'];
  if (a.classwise) oo.classwise = true;
  if (a['max-seconds'] !== undefined) oo.maxSeconds = a['max-seconds'];
  return oo;
}
