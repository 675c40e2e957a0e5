/**
 * Map production for dataset records: decode (the streaming loader) → backbone → activation maps (score, clamp,
 * min-max, upsample to the input frame), one map per record, as an async iterable. Consumers add what they need on
 * top: `localizeRecords` (pipeline/localize.ts) boxes, files and overlays; `evaluateDataset` (pipeline/evaluate.ts)
 * the metrics' evaluators. Bounded memory: the loader's prefetch window and one batch of tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import type { TimingCallback } from '../util/timing.js';
import { runExtractor, type FeatureExtractor, type Interpolation } from '../backbones/types.js';
import type { DatasetRecord } from '../data/datasets/types.js';
import { loadBatches, type SkippedImage } from '../data/loader.js';
import { outputSize, type PreparedMask, type Protocol } from '../data/transforms.js';
import type { CornerBox } from '../util/box.js';
import type { Resizer, RGBImage } from '../data/image-io.js';
import { activationMaps } from '../rps/activation.js';
import { assertCompatible, classRow, type Predictor } from '../rps/predictor.js';

/** A store of maps by record: maps found there are loaded instead of computed, computed ones are stored. */
export interface MapCache {
  /** The record's map, [H,W] float32 in [0,1], or undefined when it is not cached (or unreadable). */
  load(record: DatasetRecord, size: [number, number]): Promise<Float32Array | undefined>;
  /** Stores a computed map (atomically). */
  store(record: DatasetRecord, map: Float32Array, size: [number, number]): Promise<void>;
}

/** Options of {@link streamMaps}. */
export interface MapStreamOptions {
  backbone: FeatureExtractor;
  /** Predictor (omit with `caam`). */
  predictor?: Predictor | undefined;
  /** The predictor's file, named in errors. */
  predictorFile?: string | undefined;
  /** CAAM baseline (channel sum) instead of w*. */
  caam?: boolean | undefined;
  records: readonly DatasetRecord[];
  protocol: Protocol;
  /** Resize filter for every image instead of the backbone's own (the release: bilinear for every backbone). */
  interpolation?: Interpolation | undefined;
  /** Resampler (`pil`: PIL-exact; default the codec's). */
  resizer?: Resizer | undefined;
  /** Scale GT boxes from the annotations' stated sizes (`metadata`, the release) or the decoded ones (default). */
  boxSizes?: 'decoded' | 'metadata' | undefined;
  /** Class-wise predictors: pick w by the record's label (default true when the predictor is class-wise). */
  useLabels?: boolean | undefined;
  /** Images per backbone pass (default 1). */
  batchSize?: number | undefined;
  skipBad?: boolean | undefined;
  /** Keep each prepared 8-bit input image ({@link RecordMap.image}), e.g. for overlays. */
  keepImages?: boolean | undefined;
  /** Also load GT masks (records with mask files). */
  withMasks?: boolean | undefined;
  /**
   * Map cache: maps already computed for a record are loaded instead of running the backbone (a batch runs the backbone
   * only when some of its records have no cached map), and every computed map is stored. This is how a long evaluation
   * resumes after a kill (pipeline/map-cache.ts). The cache must belong to this predictor, backbone and transform.
   */
  mapCache?: MapCache | undefined;
  onProgress?: ProgressCallback | undefined;
  onSkip?: ((s: SkippedImage) => void) | undefined;
  /** Timings of the `backbone` and `map` stages (and the loader's), for benchmarks; nothing is timed without it. */
  onTiming?: TimingCallback | undefined;
}

/** One record's map. */
export interface RecordMap {
  record: DatasetRecord;
  /** [H,W] float32 in [0,1] in the input frame (a view of the batch's buffer: copy it to keep it past the next item). */
  map: Float32Array;
  /** Original (decoded) size. */
  original: { width: number; height: number };
  /** GT boxes in the input frame, when the record has them. */
  gtInput?: CornerBox[];
  /** GT mask in the input frame (0/1/255), with `withMasks` when the record has one. */
  mask?: PreparedMask;
  /** The prepared 8-bit input image, with `keepImages`. */
  image?: RGBImage;
  /** The class whose w made the map (class-wise predictors with labels). */
  classUsed?: number;
}

/** The maps of a record list, in record order (skipped images left out); iterate once. */
export interface MapStream extends AsyncIterable<RecordMap> {
  /** Input (map) frame [H,W]. */
  readonly size: [number, number];
  /** Records left out with `skipBad`, in order (complete once iteration ends). */
  readonly skipped: SkippedImage[];
  /** Notes about records whose stated size differs from the decoded one. */
  readonly warnings: string[];
}

/**
 * The maps of `o.records`. Checks at once that the predictor fits the backbone; decoding starts with the iteration.
 * Every tensor is released when an iteration ends, also early (a consumer's `break` or error) or by an error.
 * @throws UsageError for no predictor without `caam`, a predictor of another backbone; during iteration, for a record
 * without the class label a class-wise predictor needs, a class without w, or a bad image (unless `skipBad`).
 */
export function streamMaps(o: MapStreamOptions): MapStream {
  if (!o.caam && !o.predictor) throw new UsageError('`predictor`: required (or `caam`)', { options: ['predictor', 'caam'] });
  const p = o.predictor;
  if (p) assertCompatible(p, o.backbone.identity, o.predictorFile);
  const useLabels = o.useLabels ?? !!p?.classwise;
  const size = outputSize(o.protocol);
  const loader = loadBatches({
    records: o.records,
    protocol: o.protocol,
    contract: o.interpolation ? { ...o.backbone.identity.input, interpolation: o.interpolation } : o.backbone.identity.input,
    batchSize: o.batchSize ?? 1,
    ...(o.resizer ? { decode: { resizer: o.resizer } } : {}),
    ...(o.boxSizes ? { boxSizes: o.boxSizes } : {}),
    skipBad: !!o.skipBad,
    keepImages: !!o.keepImages,
    withMasks: !!o.withMasks,
    stage: 'localize',
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.onSkip ? { onSkip: o.onSkip } : {}),
    ...(o.onTiming ? { onTiming: o.onTiming } : {}),
  });
  async function* maps(): AsyncGenerator<RecordMap> {
    const [H, W] = size;
    const C = o.backbone.identity.channels;
    const timing = o.onTiming;
    const wGlobal = p ? tf.tensor1d(p.weights) : undefined;
    try {
      for await (const batch of loader) {
        const nb = batch.records.length;
        let rows: number[];
        let data: Float32Array;
        // Whatever fails below (a record without its class, an unreadable cache, the backbone), the batch's input goes.
        try {
          rows = batch.records.map((rec) => {
            if (!useLabels || !p?.perClassWeights) return -1;
            if (rec.label === undefined) throw new UsageError(`${rec.file ?? rec.id}: no class label for the class-wise predictor`);
            const row = classRow(p, rec.label);
            if (row < 0) throw new UsageError(`${rec.file ?? rec.id}: class ${rec.label} has no w in the predictor`);
            return row;
          });
          let t0 = timing ? performance.now() : 0;
          const cached = o.mapCache ? await Promise.all(batch.records.map((rec) => o.mapCache!.load(rec, size))) : undefined;
          if (cached?.every((m) => m !== undefined)) {
            batch.input.dispose();
            data = new Float32Array(nb * H * W);
            cached.forEach((m, i) => data.set(m!, i * H * W));
          } else {
            // Backbone → maps for the whole batch.
            let maps: tf.Tensor3D;
            const feats = await runExtractor(o.backbone, batch.input);
            try {
              if (timing) {
                // wasm kernels run synchronously, but other backends may queue work: wait for the features to exist.
                if (tf.getBackend() !== 'wasm' && tf.getBackend() !== 'cpu') await feats.data();
                timing({ stage: 'backbone', ms: performance.now() - t0, images: nb });
                t0 = performance.now();
              }
              const rowsNow = rows;
              maps = tf.tidy(() => {
                let w: tf.Tensor1D | tf.Tensor2D | undefined = wGlobal;
                if (rowsNow.some((r) => r >= 0)) {
                  const ws = new Float32Array(rowsNow.length * C);
                  rowsNow.forEach((r, i) => ws.set(r >= 0 ? p!.perClassWeights!.subarray(r * C, (r + 1) * C) : p!.weights, i * C));
                  w = tf.tensor2d(ws, [rowsNow.length, C]);
                }
                return activationMaps(feats, w, { size: [H, W], caam: !!o.caam });
              });
            } finally {
              feats.dispose();
              batch.input.dispose();
            }
            try {
              data = (await maps.data()) as Float32Array;
            } finally {
              maps.dispose();
            }
            if (o.mapCache) for (let i = 0; i < nb; i++) await o.mapCache.store(batch.records[i]!, data.subarray(i * H * W, (i + 1) * H * W), size);
            timing?.({ stage: 'map', ms: performance.now() - t0, images: nb });
          }
        } finally {
          batch.input.dispose();
        }
        for (let i = 0; i < nb; i++) {
          const rec = batch.records[i]!;
          const m: RecordMap = { record: rec, map: data.subarray(i * H * W, (i + 1) * H * W), original: batch.originalSizes[i]! };
          const gt = batch.boxes[i];
          if (gt) m.gtInput = gt;
          const mask = batch.masks?.[i];
          if (mask) m.mask = mask;
          const image = batch.images?.[i];
          if (image) m.image = image;
          if (rows[i]! >= 0) m.classUsed = rec.label!;
          yield m;
        }
      }
    } finally {
      wGlobal?.dispose();
    }
  }
  return { size, skipped: loader.skipped, warnings: loader.warnings, [Symbol.asyncIterator]: maps };
}
