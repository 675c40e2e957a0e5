/**
 * Streaming, batched loading of dataset records into network inputs.
 *
 * - Decoding runs ahead of the consumer: up to `concurrency` images decode at once (sharp works in libuv threads, so
 *   decoding overlaps the model's compute on the main thread), and at most `prefetch` batches beyond the one being
 *   consumed are held decoded — memory is bounded by (prefetch+1)·batchSize prepared images whatever the dataset size.
 * - Order is deterministic: batch k holds the k-th group of records in list order (after skips), regardless of which
 *   decode finishes first.
 * - Tensors are created only when a batch is handed out; the consumer disposes `batch.input`. Leaving the loop early
 *   (break/throw) creates no further tensors.
 * - A corrupt or missing image stops the run with a UsageError naming the file — or, with `skipBad`, is recorded in
 *   `loader.skipped` (and `onSkip`) and left out; nothing is dropped silently.
 */
import { mulberry32 } from '../util/random.js';
import type * as tf from '@tensorflow/tfjs-core';
import { cpus } from 'node:os';
import type { InputContract } from './input-contract.js';
import type { ProgressCallback } from '../util/progress.js';
import type { TimingCallback } from '../util/timing.js';
import { isUsageError, UsageError } from '../util/errors.js';
import { toInputBatch, type DecodeOptions, type RGBImage, type ResizeOptions } from './image-io.js';
import type { PreparedMask, Protocol } from './transforms.js';
import type { CornerBox } from '../util/box.js';
import { prepareItem, type PrepareTask } from './prepare-item.js';
import { DecodePool } from './decode-pool.js';
import type { DatasetRecord } from './datasets/types.js';

/** A record left out with `skipBad`. */
export interface SkippedImage {
  id: string;
  file?: string;
  error: string;
}

/** One batch. */
export interface Batch {
  /** 0-based batch number. */
  index: number;
  records: DatasetRecord[];
  /** [B,S,S,3] float32, normalised per the InputContract. The consumer disposes it. */
  input: tf.Tensor4D;
  /** Prepared 8-bit images (the un-normalised input), when `keepImages`. */
  images?: RGBImage[];
  /** Decoded (stored) size of each original image. */
  originalSizes: { width: number; height: number }[];
  /** GT boxes in the input frame (release transform), per record; undefined where the record has none. */
  boxes: (CornerBox[] | undefined)[];
  /** GT masks in the input frame (0/1/255), when `withMasks` and the record has mask files. */
  masks?: (PreparedMask | undefined)[];
}

/** Loader settings. */
export interface LoaderOptions {
  records: readonly DatasetRecord[];
  protocol: Protocol;
  /** Mean/std normalisation and the resize filter. */
  contract: InputContract;
  batchSize: number;
  /** Images decoding at once (default: max(4, 2·cores)). */
  concurrency?: number;
  /**
   * Decode worker threads (default 1; 0 decodes on the main thread). Workers keep decoding while the consumer's
   * synchronous compute (a wasm forward pass) holds the main thread.
   */
  workers?: number;
  /** Decoded batches held ahead of the consumer (default 2). */
  prefetch?: number;
  /** Record bad images in `skipped` instead of stopping (default false). */
  skipBad?: boolean;
  /** Codec, pixel limit, EXIF handling, resizer. */
  decode?: DecodeOptions & ResizeOptions;
  /**
   * Sizes GT boxes are scaled from: `decoded` (default; the image as decoded) or `metadata` (the size the annotations
   * state, when the record has one — the release's rule, e.g. image_sizes.txt).
   */
  boxSizes?: 'decoded' | 'metadata';
  /** Also load GT masks (eval; default false). */
  withMasks?: boolean;
  /** Keep the prepared uint8 images in each batch (overlays; default false). */
  keepImages?: boolean;
  /** Progress stage name (default `load`). */
  stage?: string;
  onProgress?: ProgressCallback;
  onSkip?: (s: SkippedImage) => void;
  /** Per-stage timings (`decode` per image, `wait` and `preprocess` per batch); nothing is timed without it. */
  onTiming?: TimingCallback;
}

interface Item {
  record: DatasetRecord;
  image: RGBImage;
  original: { width: number; height: number };
  boxes?: CornerBox[];
  mask?: PreparedMask;
}

type Settled = { ok: true; item: Item } | { ok: false; error: Error; record: DatasetRecord };

/** Counters for measuring overlap (all milliseconds). */
export interface LoaderStats {
  /** Sum over images of decode+preprocess wall time (can exceed elapsed time when decodes overlap). */
  decodeMs: number;
  /** Time the consumer spent waiting for images (not hidden behind its compute). */
  waitMs: number;
  /** Images delivered. */
  images: number;
  /** Peak number of prepared images held (bounded memory check). */
  peakHeld: number;
}

/** A streaming batch loader (async iterable; iterate once). */
export class Loader implements AsyncIterable<Batch> {
  /** Records left out with `skipBad`, in order. */
  readonly skipped: SkippedImage[] = [];
  /** Notes about records whose stated size differs from the decoded one (boxes use the decoded size). */
  readonly warnings: string[] = [];
  readonly stats: LoaderStats = { decodeMs: 0, waitMs: 0, images: 0, peakHeld: 0 };
  private readonly pending = new Map<number, Promise<Settled>>();
  private scheduled = 0;
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  private started = false;
  private closed = false;
  private readonly concurrency: number;
  private readonly window: number;

  constructor(private readonly o: LoaderOptions) {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new UsageError(`\`batchSize\` ${o.batchSize}: must be a positive integer`, { options: ['batchSize'] });
    this.concurrency = Math.max(1, o.concurrency ?? Math.max(4, 2 * cpus().length));
    this.window = ((o.prefetch ?? 2) + 1) * o.batchSize;
  }

  /** Number of records to load (before skips). */
  get total(): number {
    return this.o.records.length;
  }

  private async slot(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++;
      return;
    }
    await new Promise<void>((res) => this.waiters.push(res));
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiters.shift()?.();
  }

  private pool: DecodePool | undefined;

  private async prepare(record: DatasetRecord): Promise<Item> {
    const o = this.o;
    const task: PrepareTask = { protocol: o.protocol, interpolation: o.contract.interpolation };
    if (record.file !== undefined) task.file = record.file;
    else if (record.pixels) task.pixels = await record.pixels();
    else throw new UsageError(`${record.id}: record has neither a file nor pixels`);
    if (o.decode) task.decode = o.decode;
    if (record.boxes) task.boxes = record.boxes;
    if (record.boxes && record.size && o.boxSizes === 'metadata') task.boxSize = record.size;
    if (o.withMasks && record.mask) task.mask = record.mask;
    const workers = o.workers ?? 1;
    if (workers > 0) this.pool ??= new DecodePool(workers, Math.max(1, Math.ceil(this.concurrency / workers)));
    const p = this.pool ? await this.pool.run(task) : await prepareItem(task);
    if (o.onTiming && p.ms !== undefined) o.onTiming({ stage: 'decode', ms: p.ms, images: 1 });
    const item: Item = { record, image: p.image, original: p.original };
    if (p.boxes) item.boxes = p.boxes;
    if (p.mask) item.mask = p.mask;
    if (record.size && (record.size.width !== p.original.width || record.size.height !== p.original.height)) {
      this.warnings.push(`${record.file ?? record.id}: annotations say ${record.size.width}×${record.size.height}, image is ${p.original.width}×${p.original.height} (boxes scaled from the ${o.boxSizes === 'metadata' ? 'annotations' : 'image'})`);
    }
    return item;
  }

  private schedule(i: number): void {
    const record = this.o.records[i]!;
    const useSlot = (this.o.workers ?? 1) === 0; // workers limit their own concurrency
    const task = (async (): Promise<Settled> => {
      if (useSlot) await this.slot();
      const t0 = performance.now();
      try {
        if (this.closed) throw new Error('loader closed');
        return { ok: true, item: await this.prepare(record) };
      } catch (e) {
        return { ok: false, error: e instanceof Error ? e : new Error(String(e)), record };
      } finally {
        this.stats.decodeMs += performance.now() - t0;
        if (useSlot) this.release();
      }
    })();
    this.pending.set(i, task);
  }

  private fill(consumed: number): void {
    const n = this.o.records.length;
    while (this.scheduled < n && this.scheduled < consumed + this.window) this.schedule(this.scheduled++);
    if (this.pending.size > this.stats.peakHeld) this.stats.peakHeld = this.pending.size;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    if (this.started) throw new Error('Loader: iterate once');
    this.started = true;
    const o = this.o;
    const n = o.records.length;
    const stage = o.stage ?? 'load';
    let consumed = 0;
    let batchIndex = 0;
    try {
      while (consumed < n) {
        const items: Item[] = [];
        let waited = 0;
        while (items.length < o.batchSize && consumed < n) {
          this.fill(consumed);
          const i = consumed++;
          const t0 = performance.now();
          const r = await this.pending.get(i)!;
          const w = performance.now() - t0;
          this.stats.waitMs += w;
          waited += w;
          this.pending.delete(i);
          this.fill(consumed);
          if (r.ok) items.push(r.item);
          else {
            const msg = r.error.message;
            if (!o.skipBad) throw isUsageError(r.error) ? r.error : new UsageError(`${r.record.file ?? r.record.id}: ${msg}`, { cause: r.error });
            const s: SkippedImage = { id: r.record.id, error: msg };
            if (r.record.file !== undefined) s.file = r.record.file;
            this.skipped.push(s);
            o.onSkip?.(s);
          }
          o.onProgress?.({ stage, done: consumed, total: n, unit: 'img' });
        }
        if (items.length === 0) break;
        this.stats.images += items.length;
        o.onTiming?.({ stage: 'wait', ms: waited, images: items.length });
        const t1 = o.onTiming ? performance.now() : 0;
        const input = toInputBatch(items.map((it) => it.image), o.contract);
        if (o.onTiming) o.onTiming({ stage: 'preprocess', ms: performance.now() - t1, images: items.length });
        const batch: Batch = {
          index: batchIndex++,
          records: items.map((it) => it.record),
          input,
          originalSizes: items.map((it) => it.original),
          boxes: items.map((it) => it.boxes),
        };
        if (o.keepImages) batch.images = items.map((it) => it.image);
        if (o.withMasks) batch.masks = items.map((it) => it.mask);
        yield batch;
      }
    } finally {
      this.closed = true;
      // Abandoned decodes finish on their own; their results are dropped (no tensors were made for them).
      for (const p of this.pending.values()) void p.catch(() => undefined);
      this.pending.clear();
      await this.pool?.close();
    }
  }
}

/** Creates a {@link Loader}. */
export function loadBatches(o: LoaderOptions): Loader {
  return new Loader(o);
}

/** The seeded PRNG of sub-sampling: mulberry32 (src/util/random.ts), floats in [0,1). */
export const seededRandom: (seed: number) => () => number = mulberry32;

/**
 * Deterministic subset for `--sampling-ratio r` (the release fits on floor(N·r) images): a seeded partial Fisher–Yates
 * draw of floor(N·r) indices, returned in the original order.
 * @param ratio in (0, 1].
 */
export function sampleRecords<T>(records: readonly T[], ratio: number, seed = 0): T[] {
  if (!(ratio > 0 && ratio <= 1)) throw new UsageError(`\`samplingRatio\` ${ratio}: must be in (0, 1]`, { options: ['samplingRatio'] });
  const n = records.length;
  const k = Math.floor(n * ratio);
  if (k === n) return [...records];
  const idx = Array.from({ length: n }, (_, i) => i);
  const rnd = seededRandom(seed);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rnd() * (n - i));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx
    .slice(0, k)
    .sort((a, b) => a - b)
    .map((i) => records[i]!);
}
