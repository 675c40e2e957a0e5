/**
 * Running a classifier over dataset records: the class rank of each image's true class (Top-1 / Top-5 Loc) and its
 * predicted class (the class a class-wise fit uses, as the release's `load_param` does with a classifier).
 */
import { loadBatches, type SkippedImage } from '../data/loader.js';
import type { Dataset, DatasetRecord } from '../data/datasets/types.js';
import type { Protocol } from '../data/transforms.js';
import { UsageError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import type { Classifier, ClassifierDataset } from './types.js';
import { argmaxClass, classRank, predictedClass, predictedRank, type Predictions } from './ranks.js';

/**
 * Which of the release's classifier transforms a dataset gets: `cub` for the fine-grained datasets evaluated at 448
 * (CUB, and Cars/Aircraft/Dogs by the same rule — the release defines `cls_transform` for CUB and ILSVRC only), else
 * `imagenet`.
 */
export function classifierDatasetOf(ds: Pick<Dataset, 'evalProtocol'>): ClassifierDataset {
  return ds.evalProtocol.crop === 448 ? 'cub' : 'imagenet';
}

/** One classified image. */
export interface ClassifiedImage {
  /** Predicted class (argmax of the logits; the first on ties). */
  predicted: number;
  /** 1-based rank of the record's label by the release's rule (absent for records without a label). */
  rank?: number;
}

/** Options of {@link classifyRecords}. */
export interface ClassifyRecordsOptions {
  classifier: Classifier;
  records: readonly DatasetRecord[];
  /** Input transform (default the classifier's for `dataset`). */
  protocol?: Protocol;
  /** Dataset kind picking the release's transform (default `imagenet`). */
  dataset?: ClassifierDataset;
  batchSize?: number;
  skipBad?: boolean;
  onProgress?: ProgressCallback;
}

/**
 * Classifies every record (images under the classifier's transform, streamed in batches).
 * @returns per record id its predicted class and the rank of its label; the records skipped with `skipBad`.
 * @throws UsageError for unreadable images (without skipBad) or a label outside the classifier's classes.
 */
export async function classifyRecords(o: ClassifyRecordsOptions): Promise<{ results: Map<string, ClassifiedImage>; skipped: SkippedImage[] }> {
  const c = o.classifier;
  const K = c.identity.numClasses;
  const loader = loadBatches({
    records: o.records,
    protocol: o.protocol ?? c.inputTransform(o.dataset ?? 'imagenet'),
    contract: c.identity.input,
    batchSize: o.batchSize ?? 1,
    skipBad: !!o.skipBad,
    stage: 'classify',
  });
  const results = new Map<string, ClassifiedImage>();
  let done = 0;
  for await (const batch of loader) {
    let logits: Float32Array;
    try {
      const y = c.classify(batch.input);
      logits = (await y.data()) as Float32Array;
      y.dispose();
    } finally {
      batch.input.dispose();
    }
    batch.records.forEach((rec, b) => {
      const row = logits.subarray(b * K, (b + 1) * K);
      const r: ClassifiedImage = { predicted: argmaxClass(row) };
      if (rec.label !== undefined) {
        if (rec.label >= K) throw new UsageError(`${rec.file ?? rec.id}: label ${rec.label} is outside the ${K} classes of classifier ${c.identity.id} (${c.identity.classSpace} classes)`);
        r.rank = classRank(row, rec.label, rec.id);
      }
      results.set(rec.id, r);
    });
    done += batch.records.length;
    o.onProgress?.({ stage: 'classify', done, total: o.records.length, unit: 'img' });
  }
  return { results, skipped: loader.skipped };
}

/** Ranks by record id, for `evaluateDataset({ classRanks })`. */
export type ClassRankSource = (split: string, records: DatasetRecord[]) => Promise<Map<string, number>>;

/**
 * A rank source running `classifier` over each split's records (the release's `cls_transform` for `dataset`).
 * Records without a label are refused: Top-k Loc needs the true class.
 */
export function classifierRankSource(classifier: Classifier, dataset: ClassifierDataset, opts: { batchSize?: number; skipBad?: boolean; onProgress?: ProgressCallback } = {}): ClassRankSource {
  return async (split, records) => {
    const co: ClassifyRecordsOptions = { classifier, records, dataset, batchSize: opts.batchSize ?? 1, skipBad: !!opts.skipBad };
    if (opts.onProgress) co.onProgress = (e) => opts.onProgress!({ ...e, stage: `classify ${split}` });
    const { results } = await classifyRecords(co);
    const out = new Map<string, number>();
    for (const rec of records) {
      const r = results.get(rec.id);
      if (!r) continue; // skipped as unreadable: the evaluation skips it too
      if (r.rank === undefined) throw new UsageError(`${rec.file ?? rec.id}: no class label — Top-1/Top-5 Loc need the true class`);
      out.set(rec.id, r.rank);
    }
    return out;
  };
}

/** A rank source reading a predictions CSV (`image_id` = the record id). */
export function predictionsRankSource(p: Predictions): ClassRankSource {
  return async (_split, records) => {
    const out = new Map<string, number>();
    for (const rec of records) {
      if (rec.label === undefined) throw new UsageError(`${rec.file ?? rec.id}: no class label — Top-1/Top-5 Loc need the true class`);
      out.set(rec.id, predictedRank(p, rec.id, rec.label));
    }
    return out;
  };
}

/**
 * Predicted classes by record id, for a class-wise fit that uses a classifier's argmax as the class (the release's
 * `load_param` with `--cls_network`): from a classifier run or a predictions CSV.
 * @throws UsageError for a record without a prediction.
 */
export async function predictedClasses(source: { classifier: Classifier; dataset: ClassifierDataset; batchSize?: number; onProgress?: ProgressCallback } | { predictions: Predictions }, records: readonly DatasetRecord[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if ('predictions' in source) {
    for (const rec of records) {
      const k = predictedClass(source.predictions, rec.id);
      if (k === undefined) throw new UsageError(`${source.predictions.file}: no prediction for image "${rec.id}"`);
      out.set(rec.id, k);
    }
    return out;
  }
  const co: ClassifyRecordsOptions = { classifier: source.classifier, records, dataset: source.dataset, batchSize: source.batchSize ?? 1 };
  if (source.onProgress) co.onProgress = source.onProgress;
  const { results } = await classifyRecords(co);
  for (const [id, r] of results) out.set(id, r.predicted);
  return out;
}
