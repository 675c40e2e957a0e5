/**
 * Mergeable fit statistics (docs/method.md §3): for every training point f (one spatial position of one image's feature map
 * [h,w,C]) the sums Σf, Σf̂ (f̂ = f/max(‖f‖, 1e-12)), Σ‖f‖ and Σ‖f‖², plus the number of points and images — globally and
 * per class. Per-image spatial sums are computed as tf ops in float32 (one batch at a time); across images they are
 * accumulated exactly ({@link ExactSumVector}), so the result does not depend on order, batching, resumption or
 * sharding: one pass and any merge of shards give identical bytes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
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

/** Serialised form of {@link FitStatistics} (JSON-safe; exact bins deflated and base64-encoded). */
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

  /** Exact, JSON-safe serialisation (deterministic bytes for equal contents). */
  toJSON(): StatisticsJSON {
    const enc = (blk: StatsBlock, key: string) => {
      const parts = [blk.sumF.snapshot(), blk.sumFhat.snapshot(), blk.sumNorm.snapshot()];
      const all = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) {
        all.set(p, o);
        o += p.length;
      }
      const bytes = deflateRawSync(new Uint8Array(all.buffer), { level: 6 });
      return { key, images: blk.images, points: blk.points, bins: bytes.toString('base64') };
    };
    const blocks = [enc(this.global, 'global'), ...this.classes().map((k) => enc(this.perClass.get(k)!, String(k)))];
    return { format: 'uol-rps-statistics', version: 1, channels: this.channels, imageCount: this.global.images, blocks };
  }

  /** Inverse of {@link toJSON}. @throws UsageError on malformed input (`source` names the file). */
  static fromJSON(j: unknown, source = '<statistics>'): FitStatistics {
    const o = j as Partial<StatisticsJSON>;
    if (!o || o.format !== 'uol-rps-statistics') throw new UsageError(`${source}: not a uol-rps statistics file`);
    if (o.version !== 1) throw new UsageError(`${source}: statistics version ${String(o.version)} is not supported (expected 1)`);
    const c = o.channels;
    if (typeof c !== 'number' || !Number.isInteger(c) || c <= 0) throw new UsageError(`${source}: bad channels ${String(c)}`);
    if (!Array.isArray(o.blocks)) throw new UsageError(`${source}: missing blocks`);
    const s = new FitStatistics(c);
    const NB = ExactSumVector.BINS;
    if (o.imageCount !== undefined && (typeof o.imageCount !== 'number' || !Number.isSafeInteger(o.imageCount) || o.imageCount < 0)) {
      throw new UsageError(`${source}: imageCount is ${JSON.stringify(o.imageCount)}: expected an integer ≥ 0`);
    }
    if (c > 1 << 20) throw new UsageError(`${source}: channels ${c} is implausibly large (at most ${1 << 20})`);
    const keys = new Set<string>();
    for (const [i, b] of (o.blocks as unknown[]).entries()) {
      if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new UsageError(`${source}: blocks[${i}] is not an object`);
      const r = b as Partial<StatisticsJSON['blocks'][number]>;
      if (typeof r.key !== 'string' || keys.has(r.key)) throw new UsageError(`${source}: blocks[${i}].key ${JSON.stringify(r.key)} is not a unique string`);
      keys.add(r.key);
      for (const k of ['images', 'points'] as const) {
        const v = r[k];
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new UsageError(`${source}: block ${r.key}: ${k} is ${JSON.stringify(v)}: expected an integer ≥ 0`);
      }
      if (typeof r.bins !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.bins)) throw new UsageError(`${source}: block ${r.key}: bins is not a base64 string`);
    }
    for (const b of o.blocks) {
      let all: Float64Array;
      const want = (2 * c + 2) * NB * 8;
      try {
        // The exact inflated size is known: cap the output there, so a deflate bomb stops at `want` + 1 bytes.
        const raw = inflateRawSync(Buffer.from(b.bins, 'base64'), { maxOutputLength: want + 1 });
        all = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength - (raw.byteLength % 8)));
        if (raw.byteLength !== want) throw new Error(`inflates to ${raw.byteLength > want ? `more than ${want}` : raw.byteLength} bytes, expected ${want}`);
      } catch (e) {
        const m = (e as Error).message;
        throw new UsageError(`${source}: block ${b.key}: corrupt bins (${/buffer|maxOutputLength|larger than/i.test(m) ? `inflates to more than the ${want} bytes ${c} channels need` : m})`);
      }
      if (all.some((v) => !Number.isFinite(v))) throw new UsageError(`${source}: block ${b.key}: bins hold non-finite values`);
      const blk = new StatsBlock(c);
      blk.images = b.images;
      blk.points = b.points;
      blk.sumF.merge(new ExactSumVector(c, all.slice(0, c * NB)));
      blk.sumFhat.merge(new ExactSumVector(c, all.slice(c * NB, 2 * c * NB)));
      blk.sumNorm.merge(new ExactSumVector(2, all.slice(2 * c * NB)));
      if (b.key === 'global') s.global.merge(blk);
      else {
        const k = Number(b.key);
        if (!Number.isInteger(k) || k < 0) throw new UsageError(`${source}: bad class key "${b.key}"`);
        s.perClass.set(k, blk);
      }
    }
    return s;
  }
}
