/**
 * `uol fit` on images: `--backbone B (--dataset D --data-dir DIR | --images …)` with the release's protocol (every
 * training image resized whole to 224×224). Resumable (statistics checkpointed atomically every N images; rerun the
 * same command to continue), shardable (`--shard i/N` writes partial statistics for `uol merge`).
 */
import * as path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { TOOL } from '../../version.js';
import type { EngineInfo } from '../../engine/backend.js';
import { DEFAULT_BACKBONE, loadBackbone } from '../../backbones/node/registry.js';
import { checkInputSize } from '../../backbones/extract.js';
import { releaseQuota, selectFitRecords } from '../../data/fit-selection.js';
import { parseProtocolName, protocolRecord, RELEASE_DATASETS, resolveProtocol } from '../../data/protocol.js';
import { sha256FileSync } from '../../util/fs.js';
import { trainProtocol } from '../../data/transforms.js';
import { type Predictor } from '../../rps/predictor.js';
import { savePredictor } from '../../rps/node/predictor-file.js';
import { parseShard, saveStatistics } from '../../rps/node/statistics-file.js';
import { addRepresenters, fitOptimized } from '../../rps/optimize.js';
import { fitStatistics } from '../../pipeline/fit.js';
import { fitFingerprint, fitOnRecords } from '../../pipeline/fit-run.js';
import { recordSource, trainingSourceFrom } from '../../pipeline/sources.js';
import { resolveInput } from '../../pipeline/input.js';
import { RunRecorder } from '../../report/manifest.js';
import { notice, progressFor } from '../context.js';
import { checkNumber, emit, emitClosedForm, emitOptimized, optimizeOptions, type FitArgs } from './fit-common.js';
import { imageTrainingSource } from '../../pipeline/feature-cache.js';
import type { TrainingSource } from '../../rps/point-source.js';
import { classwiseRelabel } from './classifier-args.js';

/** Runs the image path of `uol fit`. */
export async function runFitImages(a: FitArgs, engine: EngineInfo): Promise<void> {
  const dataset = a.dataset ?? a['base-dataset'];
  if (a.dataset && a['base-dataset']) throw new UsageError('give --dataset or --base-dataset, not both');
  if (a.labels) throw new UsageError('--labels applies to --from-features; datasets carry their own labels');
  if (!dataset && !a.images?.length) throw new UsageError('uol fit: give --images FILES|DIR|GLOB, --dataset D --data-dir DIR, or --from-features DIR');
  if (dataset && !a['data-dir']) throw new UsageError(`--dataset ${dataset} needs --data-dir DIR`);
  checkNumber('--batch-size', a['batch-size'], 1, { inclusive: true, integer: true });
  checkNumber('--checkpoint-every', a['checkpoint-every'], 1, { inclusive: true, integer: true });
  if (!(a['sampling-ratio'] > 0 && a['sampling-ratio'] <= 1)) throw new UsageError(`--sampling-ratio ${a['sampling-ratio']}: must be in (0, 1]`);
  const spec: Parameters<typeof resolveInput>[0] = {};
  if (dataset) spec.dataset = dataset;
  if (a['data-dir']) spec.dataDir = a['data-dir'];
  if (a.metadata) spec.metadata = a.metadata;
  if (a.split) spec.split = a.split;
  if (a.images?.length) spec.images = a.images;
  const input = await resolveInput(spec, ['train', 'all']);
  for (const n of input.notes ?? []) notice(n);
  const run = resolveProtocol(a.protocol !== undefined ? parseProtocolName(a.protocol) : undefined, input.dataset, a.downscale ? { downscale: a.downscale } : {});
  const sel: Parameters<typeof selectFitRecords>[1] = { samplingRatio: a['sampling-ratio'], seed: a.seed, classwise: a.classwise, release: releaseQuota(run, a.protocol, a['sampling-ratio']) };
  if (a['train-list']) sel.trainList = a['train-list'];
  if (a['release-batch-size'] !== undefined) sel.releaseBatchSize = a['release-batch-size'];
  const nclass = run.dataset ? RELEASE_DATASETS[run.dataset].nclass || input.classNames?.length : input.classNames?.length;
  if (nclass) sel.nclass = nclass;
  // With --cls-network / --predictions a class-wise fit takes each image's class from the classifier (release
  // load_param), before the per-class quota picks images by those classes.
  const relabel = await classwiseRelabel(a, input.records, input.dataset);
  const records = selectFitRecords(relabel ? relabel.records : input.records, sel);
  if (!records.length) throw new UsageError(`--sampling-ratio ${a['sampling-ratio']} leaves no image of ${input.records.length}`);
  const clsTag: Record<string, string> = relabel ? { classLabels: relabel.tag } : {};
  if (a.classwise) {
    const bad = records.find((r) => r.label === undefined);
    if (bad) throw new UsageError(`${bad.file ?? bad.id}: no class label (--classwise needs a dataset with labels)`);
  }
  if (a['feature-cache'] && a.method !== 'optimize' && !((a['top-k'] ?? 0) > 0)) {
    throw new UsageError('--feature-cache serves the passes of --method optimize and --top-k; the closed-form fit reads every image once');
  }
  if (a['feature-cache'] && a['skip-bad']) throw new UsageError('--feature-cache cannot skip unreadable images: drop --skip-bad or the cache');
  if (a['feature-cache'] && a.shard) throw new UsageError('--feature-cache serves --method optimize / --top-k, which do not shard');
  const prog = progressFor(a);
  const loadOpts: Parameters<typeof loadBackbone>[1] = { onProgress: prog.callback };
  if (run.downscale) loadOpts.downscale = run.downscale;
  const backbone = await loadBackbone(a.backbone ?? DEFAULT_BACKBONE, loadOpts);
  try {
    const identity = backbone.identity;
    checkInputSize(a.size, identity.input);
    const protocol = trainProtocol(a.size);
    const srcOpts = (): Parameters<typeof recordSource>[0] => ({
      records,
      protocol,
      contract: identity.input,
      batchSize: a['batch-size'],
      skipBad: a['skip-bad'],
      ...(run.interpolation ? { interpolation: run.interpolation } : {}),
      decode: { resizer: run.resizer },
    });
    const source = recordSource(srcOpts());
    // How the training images were resized when not as the contract says: recorded in the predictor for later passes.
    const fitInput = { ...(run.interpolation ? { interpolation: run.interpolation } : {}), ...(run.resizer === 'pil' ? { resizer: 'pil' as const } : {}) };
    // Passes that come back to the images (optimisation, representer points) read features from --feature-cache when
    // given (the same cache `uol explain --feature-cache` uses), else run the backbone again.
    const cachedOr = (plain: TrainingSource): TrainingSource =>
      a['feature-cache'] ? imageTrainingSource({ backbone, records, size: a.size, batchSize: a['batch-size'], cacheDir: a['feature-cache'], ...(Object.keys(fitInput).length ? { input: fitInput } : {}), onProgress: prog.callback }) : plain;
    const selection = { protocol: run.name, ...(a['train-list'] ? { trainList: sha256FileSync(a['train-list']) } : {}) };
    const options = { classwise: a.classwise, size: a.size, samplingRatio: a['sampling-ratio'], seed: a.seed, batchSize: a['batch-size'], split: input.split, ...selection, ...clsTag };
    const fingerprint = fitFingerprint(identity, input.listing.sha256, records.length, { ...options, samplingRatio: a['sampling-ratio'], seed: a.seed, split: input.split });
    const recorder = new RunRecorder(engine);
    recorder.inputs.push(input.listing);
    const picked = records.length !== input.records.length ? `, ${records.length} used (${[a['train-list'] ? `list ${a['train-list']}` : '', a['sampling-ratio'] < 1 ? `ratio ${a['sampling-ratio']}` : '', a['train-list'] ? '' : `seed ${a.seed}`, run.name === 'release' && a.classwise ? "the release's per-class quota" : ''].filter(Boolean).join(', ')})` : '';
    const srcDesc = `${input.description}${picked}, Resize((${a.size},${a.size}))${run.interpolation ? ` ${run.interpolation}` : ''}${run.resizer === 'pil' ? ' PIL' : ''}; protocol ${run.name}${relabel ? `, ${relabel.describe}` : ''}`;
    const outDir = path.dirname(path.resolve(a.out));
    const manifestName = `${path.basename(a.out)}.manifest.json`;
    const summary = () => ({ images: records.length - source.skipped.length, skipped: source.skipped });

    if (a.shard) {
      const shard = parseShard(a.shard);
      const r = await fitStatistics({ backbone, source, classwise: a.classwise, shard, fingerprint, onProgress: prog.callback });
      const meta: Parameters<typeof saveStatistics>[1]['meta'] = { backbone: identity, shard, items: { total: records.length, ...r.range }, source: srcDesc, options };
      if (input.classNames) meta.classNames = Object.fromEntries(input.classNames.map((n, i) => [String(i), n]));
      saveStatistics(a.out, { meta, statistics: r.statistics });
      recorder.outputs.push(path.resolve(a.out));
      recorder.write(outDir, { ...summary(), protocol: protocolRecord(run) }, manifestName);
      emit(a, { statistics: a.out, shard, range: r.range, images: r.statistics.global.images, skipped: source.skipped.length }, `wrote partial statistics ${a.out} (shard ${shard.index}/${shard.count}: images ${r.range.start}–${r.range.end - 1}, ${source.skipped.length} skipped)`);
      return;
    }

    if (a.method === 'optimize') {
      const oo = optimizeOptions(a, () => identity, srcDesc, prog.callback);
      if (Object.keys(fitInput).length) oo.created = { ...oo.created, input: fitInput };
      if (input.classNames) oo.classNames = new Map(input.classNames.map((n, i) => [i, n]));
      const r = await fitOptimized(cachedOr(trainingSourceFrom(backbone, source, [a.size, a.size])), oo);
      savePredictor(r.predictor, a.out);
      recorder.outputs.push(path.resolve(a.out));
      recorder.write(outDir, { ...summary(), representerResidual: r.residual, converged: r.converged, protocol: protocolRecord(run) }, manifestName);
      emitOptimized(a, r, { backbone: identity.id, skipped: source.skipped.length });
      return;
    }

    const fo2: Parameters<typeof fitOnRecords>[0] = {
      backbone,
      records,
      size: a.size,
      batchSize: a['batch-size'],
      skipBad: a['skip-bad'],
      classwise: a.classwise,
      sourceDescription: srcDesc,
      listingHash: input.listing.sha256,
      checkpointFile: `${a.out}.ckpt.json`,
      checkpointEvery: a['checkpoint-every'],
      fingerprintExtra: { samplingRatio: a['sampling-ratio'], seed: a.seed, split: input.split, ...selection, ...clsTag },
      resizer: run.resizer,
      tool: TOOL,
      onProgress: prog.callback,
    };
    if (input.classNames) fo2.classNames = input.classNames;
    if (run.interpolation) fo2.interpolation = run.interpolation;
    const fr = await fitOnRecords(fo2);
    let predictor: Predictor = fr.predictor;
    let residual: number | null = null;
    if ((a['top-k'] ?? 0) > 0) {
      const again = recordSource(srcOpts());
      const r = await addRepresenters(predictor, cachedOr(trainingSourceFrom(backbone, again, [a.size, a.size])), { topK: a['top-k']!, batchPoints: a['batch-points'], onProgress: prog.callback });
      predictor = r.predictor;
      residual = r.representers.residual;
    }
    if (a['stats-out']) {
      const meta: Parameters<typeof saveStatistics>[1]['meta'] = { backbone: identity, items: { total: records.length, start: 0, end: records.length }, source: srcDesc, options };
      saveStatistics(a['stats-out'], { meta, statistics: fr.statistics });
      recorder.outputs.push(path.resolve(a['stats-out']));
    }
    savePredictor(predictor, a.out);
    recorder.outputs.push(path.resolve(a.out));
    recorder.write(outDir, { images: records.length - fr.skipped.length, skipped: fr.skipped, resumed: fr.resumed, protocol: protocolRecord(run) }, manifestName);
    emitClosedForm(a, predictor, fr.statistics, residual, { backbone: identity.id, resumed: fr.resumed, skipped: fr.skipped.length, manifest: path.join(outDir, manifestName) });
  } finally {
    backbone.dispose();
    prog.stop();
  }
}
