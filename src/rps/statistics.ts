/**
 * Mergeable fit statistics (docs/method.md §3): for every training point f (one spatial position of one image's feature map
 * [h,w,C]) the sums Σf, Σf̂ (f̂ = f/max(‖f‖, 1e-12)), Σ‖f‖ and Σ‖f‖², plus the number of points and images — globally and
 * per class. Per-image spatial sums are computed as tf ops in float32 (one batch at a time); across images they are
 * accumulated exactly ({@link ExactSumVector}), so the result does not depend on order, batching, resumption or
 * sharding: one pass and any merge of shards give identical bytes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import { ExactSumVector } from './exact-sum.js';

/** Guard used when normalising a zero feature vector (as torch.nn.functional.normalize: eps = 1e-12). */
export const NORMALIZE_EPS = 1e-12;

/** Statistics of one group of points (all points, or one class). */
export class StatsBlock {
  /** Number of images contributing. */
  images = 0;
  /** Number of points (spatial positions) contributing. */
  points = 0;
  /** Σ f over points, per channel. */
  readonly sumF: ExactSumVector;
  /** Σ f/‖f‖ over points, per channel. */
  readonly sumFhat: ExactSumVector;
  /** [Σ‖f‖, Σ‖f‖²] over points. */
  readonly sumNorm: ExactSumVector;

  constructor(readonly channels: number) {
    this.sumF = new ExactSumVector(channels);
    this.sumFhat = new ExactSumVector(channels);
    this.sumNorm = new ExactSumVector(2);
  }

  /** Adds another block (exact). */
  merge(o: StatsBlock): void {
    if (o.channels !== this.channels) throw new UsageError(`cannot merge statistics of ${o.channels} channels into ${this.channels}`);
    this.images += o.images;
    this.points += o.points;
    this.sumF.merge(o.sumF);
    this.sumFhat.merge(o.sumFhat);
    this.sumNorm.merge(o.sumNorm);
  }

  /** Means v = Σf/N and u = Σf̂/N (float64), and mean norm. */
  means(): { v: Float64Array; u: Float64Array; meanNorm: number; meanNormSq: number } {
    const n = this.points;
    if (n === 0) throw new UsageError('no training points: statistics are empty');
    const v = this.sumF.toFloat64().map((x) => x / n);
    const u = this.sumFhat.toFloat64().map((x) => x / n);
    const s = this.sumNorm.toFloat64();
    return { v, u, meanNorm: s[0]! / n, meanNormSq: s[1]! / n };
  }
}

/** Per-image sums for a batch, on the host: what one forward pass contributes. */
export interface BatchSums {
  /** [B·C] Σ f per image. */
  sumF: Float32Array;
  /** [B·C] Σ f̂ per image. */
  sumFhat: Float32Array;
  /** [B·2] (Σ‖f‖, Σ‖f‖²) per image. */
  sumNorm: Float32Array;
  /** Points per image (h·w). */
  pointsPerImage: number;
  /** Batch size. */
  batch: number;
  /** Channels. */
  channels: number;
}

/**
 * Per-image spatial sums of a feature batch as tf ops (float32), downloaded once per batch.
 * @param features [B,h,w,C] float32 (not disposed).
 */
export async function batchSums(features: tf.Tensor4D): Promise<BatchSums> {
  const [b, h, w, c] = features.shape;
  const [sf, sh, sn] = tf.tidy(() => {
    const f = tf.reshape(features, [b, h * w, c]);
    const sq = tf.sum(tf.square(f), -1, true); // [B,hw,1]
    const norm = tf.sqrt(sq);
    const fhat = tf.div(f, tf.maximum(norm, NORMALIZE_EPS));
    const sumNorm = tf.concat([tf.reshape(tf.sum(norm, [1, 2]), [b, 1]), tf.reshape(tf.sum(sq, [1, 2]), [b, 1])], 1);
    return [tf.sum(f, 1), tf.sum(fhat, 1), sumNorm];
  });
  try {
    const [a, bb, cc] = await Promise.all([sf.data(), sh.data(), sn.data()]);
    return {
      sumF: a as Float32Array,
      sumFhat: bb as Float32Array,
      sumNorm: cc as Float32Array,
      pointsPerImage: h * w,
      batch: b,
      channels: c,
    };
  } finally {
    tf.dispose([sf, sh, sn]);
  }
}

/** Serialised form of {@link FitStatistics} (JSON-safe; exact bins deflated and base64-encoded; written and read by `node/statistics-json.ts`). */
export interface StatisticsJSON {
  format: 'uol-rps-statistics';
  version: 1;
  channels: number;
  /** Number of images summed (global). */
  imageCount: number;
  blocks: { key: string; images: number; points: number; bins: string }[];
}

/** Fit statistics: a global block and one block per class label seen. */
export class FitStatistics {
  readonly global: StatsBlock;
  readonly perClass = new Map<number, StatsBlock>();

  constructor(readonly channels: number) {
    if (!Number.isInteger(channels) || channels <= 0) throw new UsageError(`invalid channel count ${channels}`);
    this.global = new StatsBlock(channels);
  }

  /**
   * Adds per-image sums. `classes[i]` (optional) is image i's class index (integer ≥ 0) for class-wise statistics.
   */
  addSums(s: BatchSums, classes?: readonly number[]): void {
    if (s.channels !== this.channels) {
      throw new UsageError(`feature channels ${s.channels} do not match the statistics' ${this.channels}`);
    }
    if (classes && classes.length !== s.batch) throw new Error(`classes length ${classes.length} != batch ${s.batch}`);
    const c = this.channels;
    for (let i = 0; i < s.batch; i++) {
      const blocks = [this.global];
      if (classes) {
        const k = classes[i]!;
        if (!Number.isInteger(k) || k < 0) throw new UsageError(`invalid class index ${k}`);
        let blk = this.perClass.get(k);
        if (!blk) {
          blk = new StatsBlock(c);
          this.perClass.set(k, blk);
        }
        blocks.push(blk);
      }
      for (const blk of blocks) {
        blk.images += 1;
        blk.points += s.pointsPerImage;
        blk.sumF.add(s.sumF, i * c);
        blk.sumFhat.add(s.sumFhat, i * c);
        blk.sumNorm.add(s.sumNorm, i * 2);
      }
    }
  }

  /** Convenience: {@link batchSums} then {@link addSums}. `features` is not disposed. */
  async addBatch(features: tf.Tensor4D, classes?: readonly number[]): Promise<void> {
    this.addSums(await batchSums(features), classes);
  }

  /** Adds another statistics object (exact, order-independent). */
  merge(o: FitStatistics): void {
    if (o.channels !== this.channels) throw new UsageError(`cannot merge statistics of ${o.channels} channels into ${this.channels}`);
    this.global.merge(o.global);
    for (const [k, blk] of o.perClass) {
      let mine = this.perClass.get(k);
      if (!mine) {
        mine = new StatsBlock(this.channels);
        this.perClass.set(k, mine);
      }
      mine.merge(blk);
    }
  }

  /** Sorted class indices with statistics. */
  classes(): number[] {
    return [...this.perClass.keys()].sort((a, b) => a - b);
  }
}
