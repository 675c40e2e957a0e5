/**
 * Batch localization: images → backbone → maps (score, clamp, min-max, upsample to the input frame) → boxes at a
 * threshold → results in original image coordinates, plus optional map files and overlays. Streams any number of
 * images with bounded memory (the loader's prefetch window and one batch of tensors).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import type { ProgressCallback } from '../util/progress.js';
import type { TimingCallback } from '../util/timing.js';
import { runExtractor, type FeatureExtractor } from '../backbones/types.js';
import type { DatasetRecord } from '../data/datasets/types.js';
import { loadBatches, type SkippedImage } from '../data/loader.js';
import { geometry, outputSize, type PreparedMask, type Protocol } from '../data/transforms.js';
import { cornerToImageEdges, type CornerBox, type EdgeBox } from '../util/box.js';
import { readImageRGB, type Resizer, type RGBImage } from '../data/image-io.js';
import type { Interpolation } from '../backbones/types.js';
import { writeNpy } from '../io/npy.js';
import { activationMaps } from '../rps/activation.js';
import { assertCompatible, classRow, type Predictor } from '../rps/predictor.js';
import { boxesFromMap } from '../localize/boxes.js';
import { COLORS, renderOverlay, type DrawBox } from '../report/overlay.js';
import { checkThreshold } from '../rps/threshold.js';

/** A predicted box. */
export interface PredictedBox {
  /** [x0,y0,x1,y1] in original image pixels, continuous edges (x1,y1 exclusive), clipped to the image. */
  box: EdgeBox;
  /** The same box in the input frame as cv2.boundingRect gives it: [x, y, x+w, y+h]. */
  inputBox: CornerBox;
  /** Mean map value (in [0,1]) inside the box in the input frame. */
  score: number;
}

/** Result for one image. */
export interface ImageResult {
  id: string;
  file?: string;
  /** Original (decoded) size. */
  width: number;
  height: number;
  /** Threshold τ used. */
  threshold: number;
  /** The box of the largest contour (null when the thresholded map is empty). */
  box: PredictedBox | null;
  /** Every contour's box (with `allBoxes`). */
  allBoxes?: PredictedBox[];
  /** GT boxes in the input frame, when the record has them. */
  gtInput?: CornerBox[];
  /** Map file written (relative to the output directory). */
  mapFile?: string;
  /** Overlay PNG written (relative to the output directory). */
  overlayFile?: string;
  /** Class index used to pick a class-wise w. */
  classUsed?: number;
}

/** Options of {@link localizeRecords}. */
export interface LocalizeOptions {
  backbone: FeatureExtractor;
  /** Predictor (omit with `caam`). */
  predictor?: Predictor;
  predictorFile?: string;
  /** CAAM baseline (channel sum) instead of w*. */
  caam?: boolean;
  records: readonly DatasetRecord[];
  protocol: Protocol;
  /** Resize filter for every image instead of the backbone's own (the release: bilinear for every backbone). */
  interpolation?: Interpolation;
  /** Resampler (`pil`: PIL-exact; default the codec's). */
  resizer?: Resizer;
  /** Scale GT boxes from the annotations' stated sizes (`metadata`, the release) or the decoded ones (default). */
  boxSizes?: 'decoded' | 'metadata';
  /** τ ∈ (0,1). */
  threshold: number;
  /** Also return every contour's box. */
  allBoxes?: boolean;
  /** Class-wise predictors: pick w by the record's label (default true when the predictor is class-wise). */
  useLabels?: boolean;
  batchSize?: number;
  skipBad?: boolean;
  /** Output directory for maps/overlays (required with saveMaps or overlays). */
  outDir?: string;
  /** Write `<outDir>/maps/<safe id>.npy` float32 [H,W] maps in [0,1] in the input frame. */
  saveMaps?: boolean;
  /** Write `<outDir>/overlays/<safe id>.png`. */
  overlays?: boolean;
  /**
   * File name (without extension, `/` for sub-folders) of each record's map and overlay, by id; default
   * {@link outputNames} of `records`. Give the names of the whole input when `records` is a part of it (a resumed run).
   */
  names?: ReadonlyMap<string, string>;
  /** Also load GT masks (records with mask files) and pass them to `onMap`. */
  withMasks?: boolean;
  /** Receives each map (in the input frame) and its result, e.g. for evaluators; the array is reused after return. */
  onMap?: (r: ImageResult, map: Float32Array, size: [number, number], record: DatasetRecord, mask?: PreparedMask) => void | Promise<void>;
  /**
   * Receives each finished result once its map and overlay files are written (e.g. to journal it, so an interrupted run
   * can resume).
   */
  onResult?: (r: ImageResult) => void | Promise<void>;
  /**
   * Map cache: maps already computed for a record are loaded instead of running the backbone (a batch runs the backbone
   * only when some of its records have no cached map), and every computed map is stored. This is how a long evaluation
   * resumes after a kill (pipeline/map-cache.ts). The cache must belong to this predictor, backbone and transform.
   */
  mapCache?: MapCache;
  /** Keep every result in the returned summary (default true; false keeps memory flat over millions of images). */
  collectResults?: boolean;
  onProgress?: ProgressCallback;
  onSkip?: (s: SkippedImage) => void;
  /**
   * Per-stage timings (decode, wait, preprocess, backbone, map, boxes, write) for benchmarks; nothing is timed
   * without it.
   */
  onTiming?: TimingCallback;
}

/** A store of maps by record (see `LocalizeOptions.mapCache`). */
export interface MapCache {
  /** The record's map, [H,W] float32 in [0,1], or undefined when it is not cached (or unreadable). */
  load(record: DatasetRecord, size: [number, number]): Promise<Float32Array | undefined>;
  /** Stores a computed map (atomically). */
  store(record: DatasetRecord, map: Float32Array, size: [number, number]): Promise<void>;
}

/** Summary of a localize run. */
export interface LocalizeSummary {
  /** Every result in record order (empty with `collectResults: false`). */
  results: ImageResult[];
  skipped: SkippedImage[];
  warnings: string[];
  /** Input frame [H,W]. */
  size: [number, number];
}

/** A file-system-safe name for an id (path separators and odd characters replaced). */
export function safeName(id: string): string {
  return id.replace(/\.[A-Za-z0-9]+$/, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+/, '') || 'image';
}

/** Output names of records, see {@link outputNames}. */
export interface OutputNames {
  /** id → file name without extension (sub-folders as `/`). */
  names: Map<string, string>;
  /** `id → name` for ids whose name had to keep its extension or get a `~N` suffix to stay unique. */
  renamed: string[];
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what no file name may hold
const UNSAFE = /[\x00-\x1f<>:"\\|?*]/g;

/**
 * File names for outputs keyed by record id (maps/<name>.npy, overlays/<name>.png): the id without its extension,
 * sub-folders kept as folders, only characters no file system takes replaced by `_` (and a leading `.` so that no name
 * is hidden or climbs out with `..`). Ids that would share a name (`photo.jpg`/`photo.png`; names equal but for case)
 * keep their extension, then get `~2`, `~3`; those are listed in `renamed` so that the caller can say so.
 */
export function outputNames(ids: readonly string[]): OutputNames {
  const clean = (id: string, keepExt: boolean) =>
    id
      .split(/[/\\]/)
      .map((seg, i, all) => {
        let t = i === all.length - 1 && !keepExt ? seg.replace(/\.[A-Za-z0-9]+$/, '') : seg;
        t = t.replace(UNSAFE, '_').replace(/^\./, '_');
        return t || '_';
      })
      .join('/');
  const names = new Map<string, string>();
  const renamed: string[] = [];
  const count = new Map<string, number>();
  for (const id of ids) count.set(clean(id, false).toLowerCase(), (count.get(clean(id, false).toLowerCase()) ?? 0) + 1);
  const taken = new Set<string>();
  for (const id of ids) {
    if (names.has(id)) continue;
    let name = clean(id, false);
    const clash = count.get(name.toLowerCase())! > 1;
    if (clash) name = clean(id, true);
    let n = 1;
    const base = name;
    while (taken.has(name.toLowerCase())) name = `${base}~${++n}`;
    taken.add(name.toLowerCase());
    names.set(id, name);
    if (clash || n > 1) renamed.push(`${id} → ${name}`);
  }
  return { names, renamed };
}

/** Maps an input-frame box [x,y,x+w,y+h] back to original pixels (continuous edges), clipped to the image. */
export function toOriginal(b: CornerBox, p: Protocol, width: number, height: number): EdgeBox {
  const g = geometry(p, width, height);
  return cornerToImageEdges(b, { left: g.crop.left, top: g.crop.top, scaleX: width / g.resize.width, scaleY: height / g.resize.height, width, height });
}

function meanInside(map: Float32Array, W: number, H: number, b: CornerBox): number {
  let s = 0;
  let n = 0;
  for (let y = Math.max(0, b[1]); y < Math.min(H, b[3]); y++) {
    for (let x = Math.max(0, b[0]); x < Math.min(W, b[2]); x++) {
      s += map[y * W + x]!;
      n++;
    }
  }
  return n ? s / n : 0;
}

/**
 * Localizes every record. Library code: returns results, writes only the requested map/overlay files.
 * @throws UsageError for a predictor of another backbone, a missing class w, or a bad image (unless skipBad).
 */
export async function localizeRecords(o: LocalizeOptions): Promise<LocalizeSummary> {
  if (!o.caam && !o.predictor) throw new UsageError('a predictor is required (or --caam)');
  checkThreshold(o.threshold);
  if ((o.saveMaps || o.overlays) && !o.outDir) throw new Error('localizeRecords: outDir is required for maps or overlays');
  const p = o.predictor;
  if (p) assertCompatible(p, o.backbone.identity, o.predictorFile);
  const useLabels = o.useLabels ?? !!p?.classwise;
  const [H, W] = outputSize(o.protocol);
  const names = o.names ?? outputNames(o.records.map((r) => r.id)).names;
  if (o.saveMaps) mkdirSync(path.join(o.outDir!, 'maps'), { recursive: true });
  if (o.overlays) mkdirSync(path.join(o.outDir!, 'overlays'), { recursive: true });
  const C = o.backbone.identity.channels;
  const wGlobal = p ? tf.tensor1d(p.weights) : undefined;
  const loader = loadBatches({
    records: o.records,
    protocol: o.protocol,
    contract: o.interpolation ? { ...o.backbone.identity.input, interpolation: o.interpolation } : o.backbone.identity.input,
    batchSize: o.batchSize ?? 1,
    ...(o.resizer ? { decode: { resizer: o.resizer } } : {}),
    ...(o.boxSizes ? { boxSizes: o.boxSizes } : {}),
    skipBad: !!o.skipBad,
    keepImages: !!o.overlays,
    withMasks: !!o.withMasks,
    stage: 'localize',
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.onSkip ? { onSkip: o.onSkip } : {}),
    ...(o.onTiming ? { onTiming: o.onTiming } : {}),
  });
  const timing = o.onTiming;
  const now = (): number => (timing ? performance.now() : 0);
  const results: ImageResult[] = [];
  try {
    for await (const batch of loader) {
      const rows = batch.records.map((rec) => {
        if (!useLabels || !p?.perClassWeights) return -1;
        if (rec.label === undefined) throw new UsageError(`${rec.file ?? rec.id}: no class label for the class-wise predictor`);
        const row = classRow(p, rec.label);
        if (row < 0) throw new UsageError(`${rec.file ?? rec.id}: class ${rec.label} has no w in the predictor`);
        return row;
      });
      const nb = batch.records.length;
      let t0 = now();
      const cached = o.mapCache ? await Promise.all(batch.records.map((rec) => o.mapCache!.load(rec, [H, W]))) : undefined;
      let data: Float32Array;
      if (cached?.every((m) => m !== undefined)) {
        batch.input.dispose();
        data = new Float32Array(nb * H * W);
        cached.forEach((m, i) => data.set(m!, i * H * W));
      } else {
        // Backbone → maps for the whole batch.
        let maps: tf.Tensor3D;
        const feats = await runExtractor(o.backbone, batch.input);
        if (timing) {
          // wasm kernels run synchronously, but other backends may queue work: wait for the features to exist.
          if (tf.getBackend() !== 'wasm' && tf.getBackend() !== 'cpu') await feats.data();
          timing({ stage: 'backbone', ms: performance.now() - t0, images: nb });
          t0 = performance.now();
        }
        try {
          maps = tf.tidy(() => {
            let w: tf.Tensor1D | tf.Tensor2D | undefined = wGlobal;
            if (rows.some((r) => r >= 0)) {
              const ws = new Float32Array(rows.length * C);
              rows.forEach((r, i) => ws.set(r >= 0 ? p!.perClassWeights!.subarray(r * C, (r + 1) * C) : p!.weights, i * C));
              w = tf.tensor2d(ws, [rows.length, C]);
            }
            return activationMaps(feats, w, { size: [H, W], caam: !!o.caam });
          });
        } finally {
          feats.dispose();
          batch.input.dispose();
        }
        data = (await maps.data()) as Float32Array;
        maps.dispose();
        if (o.mapCache) for (let i = 0; i < nb; i++) await o.mapCache.store(batch.records[i]!, data.subarray(i * H * W, (i + 1) * H * W), [H, W]);
        timing?.({ stage: 'map', ms: performance.now() - t0, images: nb });
      }
      for (let i = 0; i < batch.records.length; i++) {
        t0 = now();
        const rec = batch.records[i]!;
        const map = data.subarray(i * H * W, (i + 1) * H * W);
        const orig = batch.originalSizes[i]!;
        const mk = (b: CornerBox): PredictedBox => ({ box: toOriginal(b, o.protocol, orig.width, orig.height), inputBox: b, score: meanInside(map, W, H, b) });
        const largest = boxesFromMap(map, H, W, o.threshold);
        const r: ImageResult = { id: rec.id, width: orig.width, height: orig.height, threshold: o.threshold, box: largest.length ? mk(largest[0]!) : null };
        if (rec.file !== undefined) r.file = rec.file;
        if (o.allBoxes) r.allBoxes = boxesFromMap(map, H, W, o.threshold, { multi: true }).map(mk);
        if (timing) {
          timing({ stage: 'boxes', ms: performance.now() - t0, images: 1 });
          t0 = performance.now();
        }
        const gt = batch.boxes[i];
        if (gt) r.gtInput = gt;
        if (rows[i]! >= 0) r.classUsed = rec.label!;
        const name = names.get(rec.id) ?? safeName(rec.id);
        if (o.saveMaps) {
          r.mapFile = path.join('maps', `${name}.npy`);
          await writeNpy(path.join(o.outDir!, r.mapFile), map.slice(), [H, W]);
        }
        if (o.overlays) {
          r.overlayFile = path.join('overlays', `${name}.png`);
          let img: RGBImage;
          const boxes: DrawBox[] = [];
          if (o.protocol.kind === 'resize' && rec.file !== undefined) {
            // Whole-image protocol: draw on the original photo (map stretched over it), boxes in original pixels.
            img = await readImageRGB(rec.file);
            for (const b of rec.boxes ?? []) boxes.push({ box: b, color: COLORS.groundTruth });
            if (r.box) boxes.push({ box: [r.box.box[0], r.box.box[1], r.box.box[2] - 1, r.box.box[3] - 1], color: COLORS.predicted });
          } else {
            img = batch.images![i]!;
            for (const b of gt ?? []) boxes.push({ box: b, color: COLORS.groundTruth });
            if (r.box) boxes.push({ box: [r.box.inputBox[0], r.box.inputBox[1], r.box.inputBox[2] - 1, r.box.inputBox[3] - 1], color: COLORS.predicted });
          }
          await writeFileAtomic(path.join(o.outDir!, r.overlayFile), await renderOverlay(img, map, H, W, boxes));
        }
        if (o.onMap) await o.onMap(r, map, [H, W], rec, batch.masks?.[i]);
        if (o.onResult) await o.onResult(r);
        if (o.collectResults !== false) results.push(r);
        timing?.({ stage: 'write', ms: performance.now() - t0, images: 1 });
      }
    }
  } finally {
    wGlobal?.dispose();
  }
  return { results, skipped: loader.skipped, warnings: loader.warnings, size: [H, W] };
}
