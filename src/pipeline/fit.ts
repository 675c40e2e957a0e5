/**
 * Fitting statistics over an image source through a backbone — resumable and shardable.
 *
 * Items are grouped into batches by their global index (batch b = items [b·B, (b+1)·B)), shards are contiguous ranges
 * of batches, and checkpoints are taken at batch boundaries, so every image is always seen in the same batch
 * composition: features are bit-identical across one pass, resumed runs and shards, and the exact statistics make the
 * final predictor byte-identical too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, rmSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { writeFileAtomicSync } from '../util/fs.js';
import type { ProgressCallback } from '../util/progress.js';
import { runExtractor, type FeatureExtractor } from '../backbones/types.js';
import { FitStatistics, type StatisticsJSON } from '../rps/statistics.js';
import { readJsonBounded } from '../util/safe-read.js';
import { statisticsFromJSON, statisticsToJSON } from '../rps/node/statistics-json.js';

/** A batch of prepared inputs. `input` is owned by the consumer (disposed after use). */
export interface InputBatch {
  /** Global index of the first item of this group (a multiple of the batch size). */
  start: number;
  /** Items of the list this batch accounts for (= batch size but for the last; includes skipped items). */
  count: number;
  /** Ids of the items present (skipped ones are absent), in order. */
  ids: string[];
  /** Image file per item, when known. */
  files?: (string | undefined)[];
  /** Class index per item (undefined when unknown). */
  labels?: (number | undefined)[];
  /** Decoded (stored) size of each item's original image, when known. */
  originalSizes?: ({ width: number; height: number } | undefined)[];
  /** [B,S,S,3] normalised per the backbone's input contract. */
  input: tf.Tensor4D;
}

/** A replayable source of input batches over a fixed, ordered item list. */
export interface BatchSource {
  /** Number of items. */
  readonly total: number;
  /** Batch size B. */
  readonly batchSize: number;
  /** Batches covering items [start, end), where start is a multiple of batchSize. */
  batches(start: number, end: number): AsyncIterable<InputBatch>;
}

/** Checkpointing of a fit. */
export interface CheckpointOptions {
  /** Checkpoint file (written atomically; removed when the fit completes unless `keep`). */
  file: string;
  /** Save every this many batches. */
  everyBatches: number;
  /** Keep the checkpoint after completion. */
  keep?: boolean;
}

/** Options of {@link fitStatistics}. */
export interface FitStatisticsOptions {
  backbone: FeatureExtractor;
  source: BatchSource;
  /** Accumulate per-class statistics (needs labels). */
  classwise?: boolean;
  /** Process only shard `index` (1-based) of `count` (contiguous batch ranges). */
  shard?: { index: number; count: number };
  checkpoint?: CheckpointOptions;
  /** Identifies inputs + options; a checkpoint with another fingerprint is refused, not silently reused. */
  fingerprint: string;
  onProgress?: ProgressCallback;
  /** Called after each batch with the batch's features (still alive; do not dispose) — e.g. for a feature cache. */
  onFeatures?: (batch: InputBatch, features: tf.Tensor4D) => Promise<void> | void;
}

/** Result of {@link fitStatistics}. */
export interface FitStatisticsResult {
  statistics: FitStatistics;
  /** Item range covered [start,end). */
  range: { start: number; end: number };
  /** True when the run resumed from a checkpoint. */
  resumed: boolean;
  /** Batches processed in this invocation. */
  batchesThisRun: number;
}

interface CheckpointDoc {
  format: 'uol-rps-fit-checkpoint';
  version: 1;
  fingerprint: string;
  range: { start: number; end: number };
  cursor: number;
  statistics: StatisticsJSON;
}

/** The item range of a shard: contiguous ranges of whole batches. */
export function shardItemRange(total: number, batchSize: number, shard?: { index: number; count: number }): { start: number; end: number } {
  if (!shard) return { start: 0, end: total };
  const nb = Math.ceil(total / batchSize);
  const b0 = Math.floor(((shard.index - 1) * nb) / shard.count);
  const b1 = Math.floor((shard.index * nb) / shard.count);
  return { start: Math.min(total, b0 * batchSize), end: Math.min(total, b1 * batchSize) };
}

function loadCheckpoint(file: string, fingerprint: string, range: { start: number; end: number }): { stats: FitStatistics; cursor: number } | undefined {
  if (!existsSync(file)) return undefined;
  let doc: CheckpointDoc;
  try {
    doc = readJsonBounded(file, 'fit checkpoint') as CheckpointDoc;
  } catch (e) {
    throw new UsageError(`${file}: unreadable fit checkpoint (${(e as Error).message}); delete it to start over`);
  }
  if (!doc || typeof doc !== 'object' || doc.format !== 'uol-rps-fit-checkpoint' || doc.version !== 1) throw new UsageError(`${file}: not a uol-rps fit checkpoint`);
  if (doc.fingerprint !== fingerprint || !doc.range || doc.range.start !== range.start || doc.range.end !== range.end) {
    throw new UsageError(`${file}: checkpoint belongs to a different fit (inputs, backbone or options changed); delete it or use another --out`);
  }
  if (!Number.isSafeInteger(doc.cursor) || doc.cursor < range.start || doc.cursor > range.end) {
    throw new UsageError(`${file}: cursor ${JSON.stringify(doc.cursor)} is outside the range [${range.start},${range.end}]; delete it to start over`);
  }
  return { stats: statisticsFromJSON(doc.statistics, file), cursor: doc.cursor };
}

/**
 * Streams the source through the backbone and sums the statistics, resuming from and writing checkpoints.
 * @throws UsageError for a mismatching checkpoint or missing labels in a class-wise fit.
 */
export async function fitStatistics(o: FitStatisticsOptions): Promise<FitStatisticsResult> {
  const { source, backbone } = o;
  const B = source.batchSize;
  const range = shardItemRange(source.total, B, o.shard);
  let stats = new FitStatistics(backbone.identity.channels);
  let cursor = range.start;
  let resumed = false;
  if (o.checkpoint) {
    const ck = loadCheckpoint(o.checkpoint.file, o.fingerprint, range);
    if (ck) {
      stats = ck.stats;
      cursor = ck.cursor;
      resumed = true;
    }
  }
  const save = (at: number) => {
    if (!o.checkpoint) return;
    const doc: CheckpointDoc = { format: 'uol-rps-fit-checkpoint', version: 1, fingerprint: o.fingerprint, range, cursor: at, statistics: statisticsToJSON(stats) };
    writeFileAtomicSync(o.checkpoint.file, JSON.stringify(doc));
  };
  let batches = 0;
  const totalHere = range.end - range.start;
  o.onProgress?.({ stage: 'fit', done: cursor - range.start, total: totalHere, unit: 'img' });
  if (cursor < range.end) {
    for await (const batch of source.batches(cursor, range.end)) {
      let feats: tf.Tensor4D | undefined;
      try {
        if (batch.start !== cursor) throw new Error(`batch source out of order: got item ${batch.start}, expected ${cursor}`);
        if (batch.ids.length > 0) {
          let classes: number[] | undefined;
          if (o.classwise) {
            classes = batch.ids.map((id, i) => {
              const k = batch.labels?.[i];
              if (k === undefined) throw new UsageError(`${id}: no class label (class-wise fit)`);
              return k;
            });
          }
          feats = await runExtractor(backbone, batch.input);
          if (o.onFeatures) await o.onFeatures(batch, feats);
          await stats.addBatch(feats, classes);
        }
      } finally {
        feats?.dispose();
        batch.input.dispose();
      }
      cursor += batch.count;
      batches++;
      o.onProgress?.({ stage: 'fit', done: cursor - range.start, total: totalHere, unit: 'img', detail: batch.ids[batch.ids.length - 1] });
      if (o.checkpoint && batches % o.checkpoint.everyBatches === 0 && cursor < range.end) save(cursor);
    }
  }
  if (cursor !== range.end) throw new Error(`batch source ended at item ${cursor}, expected ${range.end}`);
  if (o.checkpoint) {
    if (o.checkpoint.keep) save(cursor);
    else rmSync(o.checkpoint.file, { force: true });
  }
  return { statistics: stats, range, resumed, batchesThisRun: batches };
}
