/**
 * Training points as a replayable stream.
 *
 * Every spatial position of every training feature map is a *training point* (docs/method.md §1). A dataset can hold ~10⁸ of
 * them (ImageNet), so the optimisation path never holds them all: it reads them through a {@link TrainingSource}, an
 * async-iterable *factory* that can be replayed for as many passes as an optimiser needs. The sources that read files
 * (a feature directory, image files through a backbone) are in `node/sources.ts`; this module is platform-neutral.
 *
 * {@link PointStream} turns a source into batches of prepared points (f̂ = f/max(‖f‖,1e-12) and ‖f‖, as tf tensors of at
 * most `batchPoints` rows) and keeps them in memory when the whole set fits a byte budget (then later passes cost no
 * I/O); otherwise every pass streams the source again.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { NORMALIZE_EPS } from './statistics.js';

/** A feature map held on the host: row-major float32 [h,w,C]. */
export interface HostFeatureMap {
  /** [h,w,C]. */
  shape: [number, number, number];
  /** length h·w·C. */
  data: Float32Array;
}

/** One training image's feature map, as a source yields it. */
export interface TrainingItem {
  /** Image id (the file stem for `--from-features`). Unique within a source. */
  id: string;
  /**
   * Features: a tf tensor [1,h,w,C] float32 or a host map [h,w,C]. A tensor is owned by the source and stays valid
   * until the consumer advances the iterator (consumers must not dispose it).
   */
  features: tf.Tensor4D | HostFeatureMap;
  /** The image file the features were computed from, when known (for crops in explanations). */
  imageFile?: string;
  /** Size [H,W] of the network input frame the features were computed on (the image resized, no crop), when known. */
  inputSize?: [number, number];
  /** Decoded size [H,W] of the original image file, when known (crops check the file still has it). */
  imageSize?: [number, number];
  /** Class index (integer ≥ 0) when known. */
  classIndex?: number;
}

/** A replayable stream of training items: every call starts a new pass over the same items in the same order. */
export type TrainingSource = () => AsyncIterable<TrainingItem>;

/** Shape [h,w,C] of an item's features. */
export function itemShape(item: TrainingItem): [number, number, number] {
  if (item.features instanceof tf.Tensor) {
    const s = item.features.shape;
    if (s.length !== 4 || s[0] !== 1) throw new UsageError(`${item.id}: features must be [1,h,w,C], got [${s.join(',')}]`);
    return [s[1], s[2], s[3]];
  }
  return item.features.shape;
}

/** The item's features as a tensor [1,h,w,C] (a new tensor the caller disposes). */
export function itemTensor(item: TrainingItem): tf.Tensor4D {
  if (item.features instanceof tf.Tensor) return tf.clone(item.features);
  const [h, w, c] = item.features.shape;
  if (item.features.data.length !== h * w * c) throw new UsageError(`${item.id}: ${item.features.data.length} values for shape [${h},${w},${c}]`);
  return tf.tensor4d(item.features.data, [1, h, w, c]);
}

/** Where an item's points sit inside a {@link PointBatch}. */
export interface ItemSpan {
  id: string;
  imageFile?: string;
  inputSize?: [number, number];
  imageSize?: [number, number];
  classIndex?: number;
  /** Feature grid [h,w]; point k of the span is at row ⌊k/w⌋, column k mod w. */
  grid: [number, number];
  /** First row of the batch that belongs to this item. */
  start: number;
  /** h·w. */
  count: number;
}

/** A batch of prepared training points. Tensors belong to the stream: consumers must not dispose them. */
export interface PointBatch {
  /** f̂ = f/max(‖f‖,1e-12), [B,C] float32. */
  fhat: tf.Tensor2D;
  /** ‖f‖, [B,1] float32. */
  norms: tf.Tensor2D;
  /** Items in row order. */
  items: ItemSpan[];
  /** B. */
  size: number;
}

/** Options of {@link PointStream}. */
export interface PointStreamOptions {
  /** Rows per batch (an image is never split; an image larger than this is one batch). Default 16384. */
  batchPoints?: number;
  /** Keep prepared batches in memory when the whole set fits this many bytes (default 256 MiB; 0 disables). */
  cacheBytes?: number;
  /** Called for every item on the first pass (e.g. to sum statistics), with its features as [1,h,w,C]. */
  onFirstPassItem?: (item: TrainingItem, features: tf.Tensor4D) => Promise<void> | void;
  onProgress?: ProgressCallback;
}

/** Counts of a pass. */
export interface PassInfo {
  images: number;
  points: number;
  /** True when the pass was served from the in-memory cache. */
  cached: boolean;
}

/**
 * Batches a {@link TrainingSource} into prepared points, pass after pass. Call {@link dispose} at the end.
 */
export class PointStream {
  private cache: PointBatch[] | undefined = [];
  private cacheFull = false;
  private cachedBytes = 0;
  private firstPassDone = false;
  private channelCount: number | undefined;
  private total: { images: number; points: number } | undefined;
  readonly batchPoints: number;
  readonly cacheBytes: number;

  constructor(
    private readonly source: TrainingSource,
    private readonly opts: PointStreamOptions = {},
  ) {
    this.batchPoints = opts.batchPoints ?? 16384;
    this.cacheBytes = opts.cacheBytes ?? 256 * 1024 * 1024;
    if (!(this.batchPoints >= 1)) throw new UsageError(`batch size ${this.batchPoints} must be ≥ 1`);
    if (this.cacheBytes <= 0) this.cache = undefined;
  }

  /** Channels C (known after the first pass). */
  get channels(): number {
    if (this.channelCount === undefined) throw new Error('PointStream: channels unknown before the first pass');
    return this.channelCount;
  }

  /** Images and points of the source (known after the first pass). */
  get counts(): { images: number; points: number } {
    if (!this.total) throw new Error('PointStream: counts unknown before the first pass');
    return this.total;
  }

  /** True when later passes are served from memory. */
  get isCached(): boolean {
    return this.firstPassDone && !!this.cache && !this.cacheFull;
  }

  /**
   * One pass over every point: `fn` is awaited for each batch in order. The batch's tensors are valid only during `fn`.
   * @throws UsageError for bad items (wrong shape, mixed C, empty source).
   */
  async pass(fn: (b: PointBatch) => Promise<void> | void, stage = 'pass'): Promise<PassInfo> {
    if (this.isCached) {
      let points = 0;
      for (const b of this.cache!) {
        await fn(b);
        points += b.size;
      }
      return { images: this.total!.images, points, cached: true };
    }
    // Pending rows: host maps are copied into one buffer at flush (one upload); tensors are concatenated on device.
    let pending: { t: tf.Tensor2D | Float32Array; span: ItemSpan }[] = [];
    let pendingRows = 0;
    let images = 0;
    let points = 0;
    if (!this.firstPassDone && this.cache && this.cache.length > 0) {
      // An earlier first pass failed midway: start the cache afresh.
      this.dropCache();
      this.cache = [];
      this.cacheFull = false;
    }
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const parts = pending;
      pending = [];
      pendingRows = 0;
      const c = this.channelCount!;
      const rows = parts.reduce((a, p) => a + p.span.count, 0);
      const batch = tf.tidy(() => {
        let x: tf.Tensor2D;
        if (parts.every((p) => p.t instanceof Float32Array)) {
          const buf = new Float32Array(rows * c);
          for (const p of parts) buf.set(p.t as Float32Array, p.span.start * c);
          x = tf.tensor2d(buf, [rows, c]);
        } else {
          const ts = parts.map((p) => (p.t instanceof Float32Array ? tf.tensor2d(p.t, [p.span.count, c]) : p.t));
          x = ts.length === 1 ? ts[0]! : (tf.concat(ts, 0) as tf.Tensor2D);
        }
        // sqrt(Σx²) and a multiply by the reciprocal: on wasm tf.norm and a broadcast div are several times slower.
        const norms = tf.sqrt(tf.sum(tf.square(x), 1, true)) as tf.Tensor2D;
        const fhat = tf.mul(x, tf.reciprocal(tf.maximum(norms, NORMALIZE_EPS))) as tf.Tensor2D;
        return { fhat, norms };
      });
      tf.dispose(parts.flatMap((p) => (p.t instanceof Float32Array ? [] : [p.t])));
      const b: PointBatch = { fhat: batch.fhat, norms: batch.norms, items: parts.map((p) => p.span), size: batch.fhat.shape[0] };
      let keep = false;
      if (!this.firstPassDone && this.cache && !this.cacheFull) {
        const bytes = b.size * (this.channelCount! + 1) * 4;
        if (this.cachedBytes + bytes <= this.cacheBytes) {
          this.cache.push(b);
          this.cachedBytes += bytes;
          keep = true;
        } else {
          this.cacheFull = true;
          this.dropCache();
        }
      }
      try {
        await fn(b);
      } finally {
        if (!keep) tf.dispose([b.fhat, b.norms]);
      }
    };
    for await (const item of this.source()) {
      const [h, w, c] = itemShape(item);
      if (h <= 0 || w <= 0 || c <= 0) throw new UsageError(`${item.id}: empty feature map [${h},${w},${c}]`);
      if (this.channelCount === undefined) this.channelCount = c;
      else if (c !== this.channelCount) {
        throw new UsageError(`${item.id}: has ${c} channels but earlier items have ${this.channelCount} (mixed C)`);
      }
      const needTensor = !this.firstPassDone && !!this.opts.onFirstPassItem;
      const host = item.features instanceof tf.Tensor ? undefined : item.features.data;
      if (host && host.length !== h * w * c) throw new UsageError(`${item.id}: ${host.length} values for shape [${h},${w},${c}]`);
      const t4 = needTensor || !host ? itemTensor(item) : undefined;
      try {
        if (needTensor) await this.opts.onFirstPassItem!(item, t4!);
        const t = host ?? (tf.reshape(t4!, [h * w, c]) as tf.Tensor2D);
        const span: ItemSpan = { id: item.id, grid: [h, w], start: pendingRows, count: h * w };
        if (item.imageFile !== undefined) span.imageFile = item.imageFile;
        if (item.inputSize) span.inputSize = item.inputSize;
        if (item.imageSize) span.imageSize = item.imageSize;
        if (item.classIndex !== undefined) span.classIndex = item.classIndex;
        if (pendingRows > 0 && pendingRows + h * w > this.batchPoints) {
          await flush();
          span.start = 0;
        }
        pending.push({ t, span });
        pendingRows += h * w;
      } finally {
        t4?.dispose();
      }
      images++;
      points += h * w;
      if (pendingRows >= this.batchPoints) await flush();
      this.opts.onProgress?.({ stage, done: images, total: this.total?.images, unit: 'img', detail: item.id });
    }
    await flush();
    if (images === 0) throw new UsageError('no training images: the source is empty');
    if (this.total && (this.total.images !== images || this.total.points !== points)) {
      throw new Error(`training source changed between passes (${this.total.images} images/${this.total.points} points, now ${images}/${points})`);
    }
    this.total = { images, points };
    this.firstPassDone = true;
    return { images, points, cached: false };
  }

  private dropCache(): void {
    if (!this.cache) return;
    for (const b of this.cache) tf.dispose([b.fhat, b.norms]);
    this.cache = undefined;
    this.cachedBytes = 0;
  }

  /** Releases cached batches. */
  dispose(): void {
    this.dropCache();
  }
}
