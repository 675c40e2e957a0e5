/**
 * The paper's evaluation protocol on a dataset (docs/method.md §4, §6): maps for every image of the evaluation split(s)
 * under the dataset's eval transform (Resize((r,r)) → CenterCrop(c)), GT boxes transformed as the release does, the
 * streaming evaluators of src/evaluate, and the threshold protocol — CUB and ImageNet (datasets with a val split):
 * τ chosen on val, test read at that τ; Cars, Aircraft, Dogs (no val split): τ chosen on test, an oracle, labelled so.
 */
import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import sharp from 'sharp';
import { UsageError } from '../util/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import { sha256Hex, writeFileAtomic, writeFileAtomicSync } from '../util/fs.js';
import { TOOL } from '../version.js';
import type { ProgressCallback } from '../util/progress.js';
import type { FeatureExtractor, Interpolation } from '../backbones/types.js';
import type { Resizer } from '../data/image-io.js';
import type { Dataset, DatasetRecord } from '../data/datasets/types.js';
import { describeProtocol, evalProtocol, type Protocol } from '../data/transforms.js';
import type { SkippedImage } from '../data/loader.js';
import { writeNpy } from '../io/npy.js';
import { BoxEvaluator, type BoxMetrics, type BoxThresholdChoice, type ImageBoxResult } from '../evaluate/box-metrics.js';
import { MaskEvaluator, type MaskMetrics } from '../evaluate/mask-metrics.js';
import { encodePredictor, type Predictor, type ThresholdInfo } from '../rps/predictor.js';
import { streamMaps } from './maps.js';
import { openMapCacheDir, type MapCacheIdentity, type SplitMapCache } from './map-cache.js';

/** Which split picks τ. */
export type ThresholdProtocol = 'val→test' | 'oracle (test)';

/** Options of {@link evaluateDataset}. */
export interface EvaluateOptions {
  backbone: FeatureExtractor;
  predictor?: Predictor;
  predictorFile?: string;
  caam?: boolean;
  dataset: Dataset;
  /** Test split (default `test`). */
  testSplit?: string;
  /** Val split for τ (default `val` when the dataset has it; `false` forces the oracle). */
  valSplit?: string | false;
  /** Eval transform; default the dataset's (the release's) Resize((r,r)) → CenterCrop(c). */
  protocol?: Protocol;
  /** Resize filter for every backbone instead of its own (the release protocol: bilinear). */
  interpolation?: Interpolation;
  /** Resampler (`pil`: PIL-exact, the release protocol; default the codec's). */
  resizer?: Resizer;
  /** Scale GT boxes from the annotations' stated sizes (`metadata`, the release) or the decoded ones (default). */
  boxSizes?: 'decoded' | 'metadata';
  /** τ grid (default np.arange(0.01, 1, 0.01)). */
  thresholds?: ArrayLike<number>;
  batchSize?: number;
  skipBad?: boolean;
  /** Sub-sample every split to its first N images (quick looks; reported). */
  limit?: number;
  /**
   * Write the test maps and wsolevaluation metadata in the map frame to this directory (`scoremaps/<id>.npy`,
   * `metadata/{image_ids,class_labels,image_sizes,localization}.txt`), so `uol evaluate --scoremaps` can re-check.
   */
  exportDir?: string;
  /**
   * Keep every map in this directory as it is computed and reuse the maps found there (pipeline/map-cache.ts): a killed
   * evaluation rerun with the same cache resumes. The cache is tied to what the maps depend on (see
   * {@link mapCacheIdentity}).
   */
  mapCacheDir?: string;
  /**
   * Top-1 / Top-5 Loc: the 1-based rank of each record's true class (the release's tie rule), by record id, for a
   * split's records (src/classify/run.ts: a classifier run or a predictions CSV). A record without a rank is refused.
   */
  classRanks?: (split: string, records: DatasetRecord[]) => Promise<Map<string, number>>;
  onProgress?: ProgressCallback;
}

/** Result of one split. */
export interface SplitResult {
  split: string;
  images: number;
  /** Box metrics (absent when the split has masks only, e.g. OpenImages). */
  boxes?: BoxMetrics;
  masks?: MaskMetrics;
  skipped: SkippedImage[];
  /** With a map cache: maps reused from it and computed (and stored) in this run. */
  mapCache?: { reused: number; computed: number };
}

/** Result of {@link evaluateDataset}. */
export interface EvaluateResult {
  protocol: ThresholdProtocol;
  transform: Protocol;
  val?: SplitResult;
  test: SplitResult;
  /** The τ to store in the predictor for `localize` (the release's shared τ of MaxBoxAccV2_release). */
  threshold: ThresholdInfo;
  /** Per-image results at the chosen τ on test, worst first. */
  ranked: ImageBoxResult[];
}

async function runSplit(o: EvaluateOptions, split: string, records: DatasetRecord[], transform: Protocol, exportDir: string | undefined, chosen?: BoxThresholdChoice, cache?: SplitMapCache): Promise<SplitResult> {
  const withBoxes = records.filter((r) => r.boxes?.length);
  const withMasks = records.filter((r) => r.mask);
  if (!withBoxes.length && !withMasks.length) throw new UsageError(`${o.dataset.format}:${split} has no GT boxes or masks to evaluate`);
  const bevalOpts: ConstructorParameters<typeof BoxEvaluator>[0] = {};
  if (o.thresholds) bevalOpts.thresholds = o.thresholds;
  const boxEval = new BoxEvaluator(bevalOpts);
  const maskEval = withMasks.length ? new MaskEvaluator() : undefined;
  const meta = { ids: [] as string[], labels: [] as string[], sizes: [] as string[], boxes: [] as string[] };
  if (exportDir) mkdirSync(path.join(exportDir, 'scoremaps'), { recursive: true });
  const ranks = o.classRanks ? await o.classRanks(split, withBoxes) : undefined;
  const stream = streamMaps({
    backbone: o.backbone,
    predictor: o.predictor,
    predictorFile: o.predictorFile,
    caam: o.caam,
    records,
    protocol: transform,
    interpolation: o.interpolation,
    resizer: o.resizer,
    boxSizes: o.boxSizes,
    batchSize: o.batchSize ?? 1,
    skipBad: !!o.skipBad,
    withMasks: !!maskEval,
    mapCache: cache,
    onProgress: o.onProgress ? (e) => o.onProgress!({ ...e, stage: `eval ${split}` }) : undefined,
  });
  const [H, W] = stream.size;
  let images = 0;
  for await (const { record: rec, map, gtInput, mask } of stream) {
    images++;
    if (gtInput?.length) {
      const rank = ranks?.get(rec.id);
      if (ranks && rank === undefined) throw new UsageError(`${rec.file ?? rec.id}: no class rank for Top-1/Top-5 Loc (unreadable under the classifier's transform, or missing from the predictions)`);
      boxEval.accumulate({ map, height: H, width: W, gtBoxes: gtInput, id: rec.id, ...(rank !== undefined ? { classRank: rank } : {}) });
    }
    if (maskEval && mask) maskEval.accumulate({ map, height: H, width: W, mask: mask.data, id: rec.id });
    if (exportDir && (gtInput?.length || mask)) {
      await writeNpy(path.join(exportDir, 'scoremaps', `${rec.id}.npy`), map.slice(), [H, W]);
      meta.ids.push(rec.id);
      meta.labels.push(`${rec.id},${rec.label ?? 0}`);
      meta.sizes.push(`${rec.id},${W},${H}`);
      if (gtInput?.length) for (const b of gtInput) meta.boxes.push(`${rec.id},${b.join(',')}`);
      else if (mask) {
        // The mask GT in the map frame as wsolevaluation mask metadata: foreground and ignore PNGs (0/255).
        const fg = Uint8Array.from(mask.data, (v) => (v === 1 ? 255 : 0));
        const ig = Uint8Array.from(mask.data, (v) => (v === 255 ? 255 : 0));
        const rel = (kind: string) => path.join(kind, `${rec.id}.png`);
        for (const [kind, px] of [['masks', fg], ['ignore', ig]] as const) {
          mkdirSync(path.dirname(path.join(exportDir, rel(kind))), { recursive: true });
          await writeFileAtomic(path.join(exportDir, rel(kind)), await sharp(px, { raw: { width: W, height: H, channels: 1 } }).png().toBuffer());
        }
        meta.boxes.push(`${rec.id},${rel('masks')},${rel('ignore')}`);
      }
    }
  }
  if (exportDir) {
    const md = path.join(exportDir, 'metadata');
    mkdirSync(md, { recursive: true });
    writeFileAtomicSync(path.join(md, 'image_ids.txt'), meta.ids.join('\n') + '\n');
    writeFileAtomicSync(path.join(md, 'class_labels.txt'), meta.labels.join('\n') + '\n');
    writeFileAtomicSync(path.join(md, 'image_sizes.txt'), meta.sizes.join('\n') + '\n');
    await writeFileAtomic(path.join(md, 'localization.txt'), meta.boxes.join('\n') + '\n');
  }
  const r: SplitResult = { split, images, skipped: stream.skipped };
  if (cache) r.mapCache = { reused: images - cache.stored, computed: cache.stored };
  if (boxEval.count > 0) r.boxes = boxEval.compute(chosen ? { chosen } : {});
  if (maskEval && maskEval.count > 0) r.masks = maskEval.compute();
  return r;
}

/**
 * What an evaluation's maps depend on: the predictor's content (its stored τ excluded — `evaluate` may store one
 * without changing a map), CAAM or not, the backbone, the transform, the dataset, batch size, backend and tool version.
 */
export function mapCacheIdentity(o: EvaluateOptions, transform: Protocol): MapCacheIdentity {
  const p = o.predictor;
  return {
    tool: TOOL,
    predictor: p && !o.caam ? sha256Hex(encodePredictor({ ...p, threshold: undefined } as Predictor)) : null,
    caam: !!o.caam,
    backbone: o.backbone.identity.id,
    stride: o.backbone.identity.stride,
    transform: describeProtocol(transform) + (o.interpolation ? ` ${o.interpolation}` : '') + (o.resizer ? ` ${o.resizer}` : ''),
    dataset: `${o.dataset.format} ${o.dataset.root}`,
    batchSize: o.batchSize ?? 1,
    backend: tf.getBackend(),
  };
}

/**
 * Evaluates a predictor (or CAAM) on a dataset with the paper's protocol.
 * @throws UsageError for missing splits, records without GT, or predictor/backbone mismatches.
 */
export async function evaluateDataset(o: EvaluateOptions): Promise<EvaluateResult> {
  const ds = o.dataset;
  const testSplit = o.testSplit ?? 'test';
  if (!ds.splits.includes(testSplit)) throw new UsageError(`${ds.format} at ${ds.root} has no "${testSplit}" split (splits: ${ds.splits.join(', ')})`);
  const valSplit = o.valSplit === false ? undefined : (o.valSplit ?? (ds.splits.includes('val') ? 'val' : undefined));
  if (valSplit && !ds.splits.includes(valSplit)) throw new UsageError(`${ds.format} at ${ds.root} has no "${valSplit}" split`);
  const transform = o.protocol ?? evalProtocol(ds.evalProtocol.resize, ds.evalProtocol.crop);
  const take = async (split: string) => {
    const all = await ds.records(split);
    return o.limit ? all.slice(0, o.limit) : all;
  };
  const cacheDir = o.mapCacheDir ? openMapCacheDir(o.mapCacheDir, mapCacheIdentity(o, transform)) : undefined;
  let val: SplitResult | undefined;
  let chosen: BoxThresholdChoice | undefined;
  if (valSplit) {
    val = await runSplit(o, valSplit, await take(valSplit), transform, undefined, undefined, cacheDir?.split(valSplit));
    chosen = val.boxes?.chosen;
  }
  const test = await runSplit(o, testSplit, await take(testSplit), transform, o.exportDir, chosen, cacheDir?.split(testSplit));
  let threshold: ThresholdInfo;
  if (test.boxes) {
    threshold = {
      value: test.boxes.chosen.release,
      source: chosen
        ? `${ds.format}:${valSplit}, MaxBoxAccV2 (release: shared τ, largest contour)`
        : `${ds.format}:${testSplit} — oracle τ picked on the test split${valSplit ? '' : ' as the release does for this dataset'}`,
    };
  } else if (test.masks) {
    const m = (valSplit && val?.masks) || test.masks;
    threshold = { value: Math.min(0.99, Math.max(0.01, m.PIoUThreshold)), source: `${ds.format}:${valSplit && val?.masks ? valSplit : testSplit}, best pixel IoU (masks)` };
  } else throw new UsageError(`${ds.format}:${testSplit}: nothing was evaluated`);
  const protocol: ThresholdProtocol = chosen || (valSplit && val?.masks && !test.boxes) ? 'val→test' : 'oracle (test)';
  const ranked = [...(test.boxes?.perImage ?? [])].sort((a, b) => a.iou - b.iou);
  const r: EvaluateResult = { protocol, transform, test, threshold, ranked };
  if (val) r.val = val;
  return r;
}

