/**
 * Training images as a replayable {@link TrainingSource} through a backbone, the fit's protocol (every image resized
 * whole to S×S), with an optional on-disk feature cache — for passes that come back to the same images with the same
 * network, e.g. exact-mode `uol explain` runs.
 *
 * Cache layout (`dir`): `index.json` (format `uol-rps-feature-cache`, the backbone identity and input frame it belongs
 * to, and per record id: the .npy name, the image file with its byte size and mtime, the decoded image size and the
 * feature grid) plus one float32 `[h,w,C]` .npy per image. A record is read from the cache when its entry exists, the
 * .npy is there and the image file still has the recorded size and mtime; every other record is extracted (through the
 * same streaming loader as `uol fit`) and written. A cache of another backbone or input frame is refused, not mixed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import { writeFileAtomicSync } from '../util/fs.js';
import type { ProgressCallback } from '../util/progress.js';
import type { BackboneIdentity, FeatureExtractor, Interpolation } from '../backbones/types.js';
import type { Resizer } from '../data/image-io.js';
import type { DatasetRecord } from '../data/datasets/types.js';
import { trainProtocol } from '../data/transforms.js';
import { readFeatureMap } from '../io/features-dir.js';
import { writeNpy } from '../io/npy.js';
import type { TrainingItem, TrainingSource } from '../rps/point-source.js';
import { recordSource, trainingSourceFrom } from './sources.js';
import { readJsonBounded } from '../util/safe-read.js';

/** Format tag of a cache's index.json. */
export const FEATURE_CACHE_FORMAT = 'uol-rps-feature-cache';

interface CacheEntry {
  /** .npy file name inside the cache directory. */
  npy: string;
  /** Absolute image file (absent for in-memory records). */
  imageFile?: string;
  /** Byte size and mtime of the image file when its features were written. */
  bytes?: number;
  mtimeMs?: number;
  /** Decoded image size [H,W]. */
  imageSize?: [number, number];
  /** Feature grid [h,w]. */
  grid: [number, number];
}

interface CacheIndex {
  format: typeof FEATURE_CACHE_FORMAT;
  version: 1;
  backbone: BackboneIdentity;
  inputSize: [number, number];
  items: Record<string, CacheEntry>;
}

/** Options of {@link imageTrainingSource}. */
export interface ImageTrainingSourceOptions {
  backbone: FeatureExtractor;
  records: readonly DatasetRecord[];
  /** Square input side S (the fit's). */
  size: number;
  /** Images per backbone batch (default 1, as `uol fit`). */
  batchSize?: number;
  /** Feature cache directory (created when missing). */
  cacheDir?: string;
  /** Resize as the fit did when not as the backbone's contract says (a predictor's `created.input`). */
  input?: { interpolation?: Interpolation; resizer?: Resizer };
  onProgress?: ProgressCallback;
}

/** Counts of the last pass of an {@link imageTrainingSource}. */
export interface CacheStats {
  /** Images read from the cache. */
  hits: number;
  /** Images extracted (and written to the cache when there is one). */
  extracted: number;
}

/** A file name for a record id: readable part plus a hash of the id (ids may differ only in `/` vs `_`). */
function npyName(id: string): string {
  const safe = id.replace(/\.[A-Za-z0-9]+$/, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[_.]+/, '').slice(-80) || 'image';
  return `${safe}-${createHash('sha256').update(id).digest('hex').slice(0, 10)}.npy`;
}

function sameIdentity(a: BackboneIdentity, b: BackboneIdentity): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function loadIndex(dir: string, identity: BackboneIdentity, inputSize: [number, number]): CacheIndex {
  const file = path.join(dir, 'index.json');
  const fresh: CacheIndex = { format: FEATURE_CACHE_FORMAT, version: 1, backbone: identity, inputSize, items: {} };
  if (!existsSync(file)) {
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`${dir}: feature cache path exists and is not a directory`);
    return fresh;
  }
  let doc: CacheIndex;
  try {
    doc = readJsonBounded(file, 'feature cache index') as CacheIndex;
  } catch (e) {
    throw new UsageError(`${file}: unreadable feature cache index (${(e as Error).message}); delete the directory to rebuild it`);
  }
  if (!doc || doc.format !== FEATURE_CACHE_FORMAT || doc.version !== 1 || typeof doc.items !== 'object' || !doc.items) {
    throw new UsageError(`${file}: not a version-1 ${FEATURE_CACHE_FORMAT} index`);
  }
  if (!sameIdentity(doc.backbone, identity) || doc.inputSize?.[0] !== inputSize[0] || doc.inputSize?.[1] !== inputSize[1]) {
    throw new UsageError(
      `${file}: cache of backbone ${doc.backbone?.id} at ${doc.inputSize?.join('×')}, not ${identity.id} at ${inputSize.join('×')}; use another cache directory`,
    );
  }
  return doc;
}

function fileStamp(f: string | undefined): { bytes: number; mtimeMs: number } | undefined {
  if (f === undefined) return undefined;
  try {
    const st = statSync(f);
    return { bytes: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

/**
 * Training images through `backbone`, resized whole to size×size, as a replayable source; with `cacheDir`, features
 * are read from / written to the cache (see the module doc). Items carry the absolute image file, the decoded image
 * size, the input frame and the class label (when the record has one). `stats` holds the counts of the last pass.
 * @throws UsageError (when iterated) for unreadable images, or a cache of another backbone / input frame.
 */
export function imageTrainingSource(o: ImageTrainingSourceOptions): TrainingSource & { stats: CacheStats } {
  const identity = o.backbone.identity;
  const S = o.size;
  const inputSize: [number, number] = [S, S];
  const stats: CacheStats = { hits: 0, extracted: 0 };
  const extract = (records: readonly DatasetRecord[]): TrainingSource =>
    trainingSourceFrom(
      o.backbone,
      recordSource({
        records,
        protocol: trainProtocol(S),
        contract: identity.input,
        batchSize: o.batchSize ?? 1,
        ...(o.input?.interpolation ? { interpolation: o.input.interpolation } : {}),
        ...(o.input?.resizer ? { decode: { resizer: o.input.resizer } } : {}),
      }),
      inputSize,
    );
  const source = async function* (): AsyncGenerator<TrainingItem> {
    stats.hits = 0;
    stats.extracted = 0;
    if (!o.cacheDir) {
      for await (const item of extract(o.records)()) {
        stats.extracted++;
        yield item;
      }
      return;
    }
    const dir = o.cacheDir;
    const index = loadIndex(dir, identity, inputSize);
    mkdirSync(dir, { recursive: true });
    const byId = new Map(o.records.map((r) => [r.id, r]));
    const fresh = (r: DatasetRecord): CacheEntry | undefined => {
      const e = index.items[r.id];
      if (!e || !existsSync(path.join(dir, e.npy))) return undefined;
      if (r.file === undefined) return e;
      const st = fileStamp(r.file);
      return st && e.imageFile === path.resolve(r.file) && st.bytes === e.bytes && st.mtimeMs === e.mtimeMs ? e : undefined;
    };
    const missing = o.records.filter((r) => !fresh(r));
    let channels: number | undefined;
    for (const r of o.records) {
      const e = fresh(r);
      if (!e) continue;
      const m = await readFeatureMap({ stem: r.id, file: path.join(dir, e.npy) }, channels);
      channels = m.shape[2];
      if (m.shape[0] !== e.grid[0] || m.shape[1] !== e.grid[1] || m.shape[2] !== identity.channels) {
        throw new UsageError(`${m.file}: feature map [${m.shape.join(',')}] does not match the cache index (grid ${e.grid.join('×')}, C=${identity.channels})`);
      }
      const item: TrainingItem = { id: r.id, features: { shape: m.shape, data: m.data }, inputSize };
      if (e.imageFile !== undefined) item.imageFile = e.imageFile;
      if (e.imageSize) item.imageSize = e.imageSize;
      if (r.label !== undefined) item.classIndex = r.label;
      stats.hits++;
      o.onProgress?.({ stage: 'features (cached)', done: stats.hits, total: o.records.length - missing.length, unit: 'img', detail: r.id });
      yield item;
    }
    if (missing.length === 0) return;
    let dirty = 0;
    try {
      for await (const item of extract(missing)()) {
        const t = item.features as tf.Tensor4D;
        const [, h, w, c] = t.shape;
        const npy = npyName(item.id);
        await writeNpy(path.join(dir, npy), (await t.data()) as Float32Array, [h, w, c]);
        const rec = byId.get(item.id)!;
        const e: CacheEntry = { npy, grid: [h, w] };
        if (item.imageFile !== undefined) e.imageFile = item.imageFile;
        const st = fileStamp(rec.file);
        if (st) Object.assign(e, st);
        if (item.imageSize) e.imageSize = item.imageSize;
        index.items[item.id] = e;
        dirty++;
        stats.extracted++;
        if (dirty % 64 === 0) writeFileAtomicSync(path.join(dir, 'index.json'), JSON.stringify(index));
        yield item;
      }
    } finally {
      if (dirty) writeFileAtomicSync(path.join(dir, 'index.json'), JSON.stringify(index));
    }
  };
  return Object.assign(source, { stats });
}
