/**
 * `uol fit`: fit the foreground predictor w*.
 * This module handles the bring-your-own-features path (`--from-features DIR`), with the closed form (default) or the
 * loss-optimisation path (`--method optimize --loss linear|logistic`, rps/optimize.ts).
 */
import { sharedDecls, withShared } from './shared-options.js';
import type { Argv, CommandModule } from 'yargs';
import * as path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { TOOL } from '../../version.js';
import type { Predictor } from '../../rps/predictor.js';
import { OPTIMIZE_DEFAULTS } from '../../rps/optimize-defaults.js';
import { LOSS_NAMES } from '../../rps/loss-names.js';
import { parseSize } from './localize.js';
import { progressFor, startEngine, type GlobalArgs } from '../context.js';
import { checkNumber, emit, emitClosedForm, emitOptimized, optimizeOptions, type FitArgs } from './fit-common.js';
import { DEFAULT_BACKBONE } from '../../backbones/defaults.js';
import { classifierOptions } from './classifier-args.js';
import { protocolOptions, selectionOptions } from './protocol-args.js';

export const fitCommand: CommandModule<GlobalArgs, FitArgs> = {
  command: 'fit',
  describe: 'fit the foreground predictor w* (closed form, or loss optimisation with α and representer points)',
  builder: (y: Argv<GlobalArgs>) =>
    selectionOptions(protocolOptions(classifierOptions(withShared(y, { 'sampling-ratio': true, backbone: `image path: backbone name or converted-model directory (default ${DEFAULT_BACKBONE}, embedded, offline)`, dataset: 'image path: dataset format (with --data-dir)', 'data-dir': "folder holding the format's top files (or the image root for wsol)", metadata: 'wsol: wsolevaluation metadata folder', split: 'split to fit on (default train)', 'batch-size': 'images per forward pass (1 is fastest on wasm)', seed: true, 'skip-bad': 'skip unreadable images (listed in the manifest) instead of stopping' })), { downscaleDefault: "the protocol's: release 16 for ImageNet, 32 for fine-grained sets and CIFAR", evalSizes: false }))
      .options(sharedDecls({ predictions: 'with --classwise: class of each image = the top class of this CSV (image_id = dataset record id; docs/classifiers.md)', 'from-features': true, labels: 'CSV of "stem,classIndex" lines (class-wise fits)', classwise: 'also fit one w per class (needs labels; closed form or --method optimize)' }))
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
      .option('max-passes', { type: 'number', default: OPTIMIZE_DEFAULTS.maxPasses, describe: 'optimize: budget of streamed passes (all included; with --classwise, per phase)' })
      .option('max-seconds', { type: 'number', describe: 'optimize: wall-clock budget of the optimisation (with --classwise, per phase)' })
      .option('tol', { type: 'number', default: OPTIMIZE_DEFAULTS.tol, describe: 'optimize: stop when ‖∇J‖/(2λ‖w‖) (= representer residual) ≤ tol' })
      .option('top-k', { type: 'number', describe: `representer points kept per side (optimize default ${OPTIMIZE_DEFAULTS.topK}; closed-form default 0, >0 adds a pass)` })
      .option('batch-points', { type: 'number', default: 16384, describe: 'training points per tf batch' })
      .option('cache-mb', { type: 'number', default: 256, describe: 'keep prepared points in memory between passes when they fit (MiB; 0 = always stream)' })
      .options(sharedDecls({ 'feature-cache': 'images: keep the training features in this directory so later passes (optimize, --top-k) and `uol explain --feature-cache` read them instead of running the backbone' }))
      .options(sharedDecls({ 'train-images': 'directory of <stem>.<jpg|png|…> or CSV "stem,file": training images, recorded with representer points for crops' }))
      .option('train-size', { type: 'string', describe: 'H,W of the input frame the training features were computed on (recorded for crops)' })
      .options(sharedDecls({ 'base-dataset': 'alias of --dataset: the base set of a zero-shot transfer (e.g. cifar10), evaluated later on another dataset' }))
      .option('images', { type: 'string', array: true, describe: 'image files, folders or globs (instead of --dataset)' })
      .option('size', { type: 'number', default: 224, describe: 'training images are resized whole to size×size (the release: 224)' })
      .option('checkpoint-every', { type: 'number', default: 256, describe: 'checkpoint the statistics every N images (resumable; rerun the same command to continue)' }) as Argv<FitArgs>,
  handler: async (a) => {
    const { listFeatureFiles, readLabelsCsv } = await import('../../io/features-dir.js');
    const { fitFromFeatures, externalIdentity, statisticsFromFeatures } = await import('../../rps/node/features-pipeline.js');
    const { savePredictor } = await import('../../rps/node/predictor-file.js');
    const { readImageMap } = await import('../../data/image-map.js');
    const { featureDirSource } = await import('../../rps/node/sources.js');
    const { addRepresenters, fitOptimized } = await import('../../rps/optimize.js');
    const { parseShard, saveStatistics, shardRange } = await import('../../rps/node/statistics-file.js');
    const { runFitImages } = await import('./fit-images.js');
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
    if (a['from-features'] && (a['cls-network'] || a.predictions)) throw new UsageError('--cls-network/--predictions label images for a class-wise fit; with --from-features give the classes with --labels CSV');
    if (a['from-features'] && a['feature-cache']) throw new UsageError('--feature-cache keeps features of images; --from-features already reads them from disk');
    if (a.method === 'optimize' && a.shard) throw new UsageError('--shard sums statistics for the closed form; --method optimize needs every point in each pass');
    const engine = await startEngine(a);
    if (!a['from-features']) {
      await runFitImages(a, engine);
      return;
    }
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
      // fitOptimized/addRepresenters take any TrainingSource: the image path (fit-images.ts) passes the backbone's
      // features of the records (pipeline/sources.ts trainingSourceFrom) instead of featureDirSource.
      if (a.method === 'optimize') {
        if (a.classwise && !labels) throw new UsageError('--classwise needs class labels: give --labels CSV (lines stem,classIndex)');
        if (a.classwise) {
          const unlabelled = listFeatureFiles(dir).find((f) => !labels!.has(f.stem));
          if (unlabelled) throw new UsageError(`${unlabelled.file}: no label for stem "${unlabelled.stem}" in ${a.labels}`);
        }
        const oo = optimizeOptions(a, (channels) => externalIdentity(channels, a['backbone-id']), `features ${path.resolve(dir)}`, prog.callback);
        const r = await fitOptimized(featureDirSource(dir, srcOpts), oo);
        if (a['stats-out']) {
          saveStatistics(a['stats-out'], {
            meta: { backbone: r.predictor.backbone, source: `features ${path.resolve(dir)}`, options: { classwise: a.classwise }, items: { total: r.statistics.global.images, start: 0, end: r.statistics.global.images } },
            statistics: r.statistics,
          });
        }
        savePredictor(r.predictor, a.out);
        emitOptimized(a, r);
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
      emitClosedForm(a, predictor, statistics, residual);
    } finally {
      prog.stop();
    }
  },
};

