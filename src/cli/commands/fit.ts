/**
 * `uol fit`: fit the foreground predictor w*.
 * This module handles the bring-your-own-features path (`--from-features DIR`), with the closed form (default) or the
 * loss-optimisation path (`--method optimize --loss linear|logistic`, rps/optimize.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import * as path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { TOOL } from '../../version.js';
import { listFeatureFiles, readLabelsCsv } from '../../io/features-dir.js';
import { fitFromFeatures, externalIdentity, statisticsFromFeatures } from '../../rps/features-pipeline.js';
import { savePredictor, type Predictor } from '../../rps/predictor.js';
import { readImageMap } from '../../io/image-map.js';
import { featureDirSource } from '../../rps/point-source.js';
import { addRepresenters, fitOptimized, OPTIMIZE_DEFAULTS, type OptimizeOptions } from '../../rps/optimize.js';
import { LOSS_NAMES, type LossName } from '../../rps/losses.js';
import { parseSize } from './localize.js';
import { parseShard, saveStatistics, shardRange } from '../../rps/statistics-file.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';

interface FitArgs extends GlobalArgs {
  'from-features'?: string;
  labels?: string;
  classwise: boolean;
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
}

const STOP_TEXT: Record<string, string> = {
  converged: 'converged',
  stalled: 'stopped at the float32 precision floor (stalled; raise --tol to call this converged)',
  'max-evaluations': 'NOT converged: --max-passes exhausted',
  'max-seconds': 'NOT converged: --max-seconds exhausted',
  'line-search-failed': 'NOT converged: the line search failed',
};

/** @throws UsageError unless `v` is undefined or a finite number > min (≥ min with `inclusive`), integral if asked. */
function checkNumber(flag: string, v: number | undefined, min: number, o: { inclusive?: boolean; integer?: boolean } = {}): void {
  if (v === undefined) return;
  const ok = Number.isFinite(v) && (o.inclusive ? v >= min : v > min) && (!o.integer || Number.isInteger(v));
  if (!ok) throw new UsageError(`${flag} ${String(v)}: expected ${o.integer ? 'an integer' : 'a number'} ${o.inclusive ? '≥' : '>'} ${min}`);
}

export const fitCommand: CommandModule<GlobalArgs, FitArgs> = {
  command: 'fit',
  describe: 'fit the foreground predictor w* (closed form, or loss optimisation with α and representer points)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('from-features', { type: 'string', describe: 'directory of <stem>.npy float32 [h,w,C] feature maps' })
      .option('labels', { type: 'string', describe: 'CSV of "stem,classIndex" lines (class-wise fits)' })
      .option('classwise', { type: 'boolean', default: false, describe: 'also fit one w* per class (needs labels)' })
      .option('out', { type: 'string', demandOption: true, describe: 'predictor file to write (or statistics file with --shard)' })
      .option('backbone-id', { type: 'string', describe: 'backbone id recorded for external features' })
      .option('shard', { type: 'string', describe: 'i/N: sum only shard i of N and write partial statistics to --out; combine with `uol merge`' })
      .option('stats-out', { type: 'string', describe: 'also write the exact statistics (mergeable) here' })
      .option('method', { choices: ['closed-form', 'optimize'] as const, default: 'closed-form' as const, describe: 'closed form (the release) or regularised ERM by L-BFGS over streamed passes' })
      .option('loss', { choices: LOSS_NAMES, default: OPTIMIZE_DEFAULTS.loss, describe: 'optimize: linear (= closed form) or logistic against soft labels σ(κ(‖f‖/c − 1))' })
      .option('lambda', { type: 'number', default: OPTIMIZE_DEFAULTS.lambda, describe: 'optimize: regularisation λ of λ‖w‖²' })
      .option('scale', { type: 'number', default: OPTIMIZE_DEFAULTS.scale, describe: 'optimize: logit scale t (the loss sees t·⟨w,f̂⟩; only λ/t² matters)' })
      .option('kappa', { type: 'number', default: OPTIMIZE_DEFAULTS.kappa, describe: 'optimize: soft-label steepness κ (logistic)' })
      .option('label-threshold', { type: 'number', describe: 'optimize: soft-label threshold c on ‖f‖ (default ‖v‖/‖u‖ from the statistics)' })
      .option('max-passes', { type: 'number', default: OPTIMIZE_DEFAULTS.maxPasses, describe: 'optimize: budget of streamed passes (all included)' })
      .option('max-seconds', { type: 'number', describe: 'optimize: wall-clock budget of the optimisation' })
      .option('tol', { type: 'number', default: OPTIMIZE_DEFAULTS.tol, describe: 'optimize: stop when ‖∇J‖/(2λ‖w‖) (= representer residual) ≤ tol' })
      .option('top-k', { type: 'number', describe: `representer points kept per side (optimize default ${OPTIMIZE_DEFAULTS.topK}; closed-form default 0, >0 adds a pass)` })
      .option('batch-points', { type: 'number', default: 16384, describe: 'training points per tf batch' })
      .option('cache-mb', { type: 'number', default: 256, describe: 'keep prepared points in memory between passes when they fit (MiB; 0 = always stream)' })
      .option('train-images', { type: 'string', describe: 'directory of <stem>.<jpg|png|…> or CSV "stem,file": training images, recorded with representer points for crops' })
      .option('train-size', { type: 'string', describe: 'H,W of the input frame the training features were computed on (recorded for crops)' }) as Argv<FitArgs>,
  handler: async (a) => {
    if (!a['from-features']) throw new UsageError('uol fit: give --from-features DIR (image input arrives with the backbones)');
    checkNumber('--lambda', a.lambda, 0);
    checkNumber('--scale', a.scale, 0);
    checkNumber('--kappa', a.kappa, 0);
    checkNumber('--label-threshold', a['label-threshold'], 0);
    checkNumber('--max-passes', a['max-passes'], 4, { inclusive: true, integer: true });
    checkNumber('--max-seconds', a['max-seconds'], 0);
    checkNumber('--tol', a.tol, 0);
    checkNumber('--top-k', a['top-k'], 0, { inclusive: true, integer: true });
    checkNumber('--batch-points', a['batch-points'], 1, { inclusive: true, integer: true });
    checkNumber('--cache-mb', a['cache-mb'], 0, { inclusive: true });
    if (a.method === 'optimize' && a.classwise) throw new UsageError('--method optimize fits the global w only; --classwise is available with the closed form');
    if (a.method === 'optimize' && a.shard) throw new UsageError('--shard sums statistics for the closed form; --method optimize needs every point in each pass');
    await startEngine(a);
    const dir = a['from-features'];
    const labels = a.labels ? readLabelsCsv(a.labels) : undefined;
    const prog = progressFor(a);
    try {
      if (a.shard) {
        const shard = parseShard(a.shard);
        const all = listFeatureFiles(dir);
        const r = shardRange(all.length, shard);
        const files = all.slice(r.start, r.end);
        if (files.length === 0) throw new UsageError(`--shard ${a.shard}: shard is empty (${all.length} files)`);
        const opts: Parameters<typeof statisticsFromFeatures>[0] = { dir, files, requireLabels: a.classwise, onProgress: prog.callback };
        if (labels) opts.labels = labels;
        const statistics = await statisticsFromFeatures(opts);
        saveStatistics(a.out, {
          meta: {
            backbone: externalIdentity(statistics.channels, a['backbone-id']),
            shard,
            items: { total: all.length, start: r.start, end: r.end },
            source: `features ${path.resolve(dir)}`,
            options: { classwise: a.classwise },
          },
          statistics,
        });
        emit(a, { statistics: a.out, shard, images: statistics.global.images, points: statistics.global.points }, `wrote partial statistics ${a.out} (shard ${shard.index}/${shard.count}: ${statistics.global.images} images)`);
        return;
      }
      const images = a['train-images'] ? readImageMap(a['train-images']) : undefined;
      const trainSize = a['train-size'] ? parseSize(a['train-size'], '--train-size') : undefined;
      const srcOpts: Parameters<typeof featureDirSource>[1] = {};
      if (images) srcOpts.images = images;
      if (trainSize) srcOpts.inputSize = trainSize;
      if (labels) srcOpts.labels = labels;
      // INTEGRATION POINT (--backbone/--images): fitOptimized/addRepresenters take any TrainingSource; the image path
      // passes `extractorSource(extractor, imageFiles)` (rps/point-source.ts) instead of featureDirSource.
      if (a.method === 'optimize') {
        const oo: OptimizeOptions = {
          backbone: (channels) => externalIdentity(channels, a['backbone-id']),
          loss: a.loss,
          lambda: a.lambda,
          scale: a.scale,
          kappa: a.kappa,
          maxPasses: a['max-passes'],
          tol: a.tol,
          topK: a['top-k'] ?? OPTIMIZE_DEFAULTS.topK,
          batchPoints: a['batch-points'],
          cacheBytes: Math.round(a['cache-mb'] * 1024 * 1024),
          created: { source: `features ${path.resolve(dir)}` },
          tool: TOOL,
          onProgress: prog.callback,
        };
        if (a['label-threshold'] !== undefined) oo.c = a['label-threshold'];
        if (a['max-seconds'] !== undefined) oo.maxSeconds = a['max-seconds'];
        const r = await fitOptimized(featureDirSource(dir, srcOpts), oo);
        if (a['stats-out']) {
          saveStatistics(a['stats-out'], {
            meta: { backbone: r.predictor.backbone, source: `features ${path.resolve(dir)}`, options: { classwise: false }, items: { total: r.statistics.global.images, start: 0, end: r.statistics.global.images } },
            statistics: r.statistics,
          });
        }
        savePredictor(r.predictor, a.out);
        const pr = r.predictor.method.params!;
        emit(
          a,
          {
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
          },
          [
            `wrote ${a.out}: ${a.loss} loss, λ=${a.lambda}, t=${a.scale}${a.loss === 'logistic' ? `, κ=${a.kappa}` : ''}, c=${Number(pr.c).toPrecision(6)} over ${r.statistics.global.images} images / ${r.statistics.global.points} points`,
            `${STOP_TEXT[r.stop]} after ${r.iterations} iterations / ${r.passes} passes; representer residual ${r.residual.toExponential(2)}; cos to closed form ${r.cosineToClosedForm.toFixed(6)}`,
            `α: ${r.representers.summary.positive} excitatory, ${r.representers.summary.negative} inhibitory points; kept top ${r.representers.excitatory.length}/${r.representers.inhibitory.length}`,
          ],
        );
        return;
      }
      const opts: Parameters<typeof fitFromFeatures>[0] = {
        dir,
        classwise: a.classwise,
        tool: TOOL,
        onProgress: prog.callback,
      };
      if (labels) opts.labels = labels;
      if (a['backbone-id']) opts.backboneId = a['backbone-id'];
      const fitted = await fitFromFeatures(opts);
      const statistics = fitted.statistics;
      let predictor: Predictor = fitted.predictor;
      let residual: number | null = null;
      if ((a['top-k'] ?? 0) > 0) {
        const r = await addRepresenters(predictor, featureDirSource(dir, srcOpts), { topK: a['top-k']!, batchPoints: a['batch-points'], onProgress: prog.callback });
        predictor = r.predictor;
        residual = r.representers.residual;
      }
      if (a['stats-out']) {
        saveStatistics(a['stats-out'], {
          meta: { backbone: predictor.backbone, source: `features ${path.resolve(dir)}`, options: { classwise: a.classwise }, items: { total: statistics.global.images, start: 0, end: statistics.global.images } },
          statistics,
        });
      }
      savePredictor(predictor, a.out);
      emit(
        a,
        { predictor: a.out, method: 'closed-form', images: statistics.global.images, points: statistics.global.points, channels: statistics.channels, classes: predictor.classes.length, c: predictor.statistics[0]!.c, representerResidual: residual },
        `wrote ${a.out}: w* over ${statistics.global.images} images / ${statistics.global.points} points, C=${statistics.channels}${predictor.classwise ? `, ${predictor.classes.length} classes` : ''}`,
      );
    } finally {
      prog.stop();
    }
  },
};
