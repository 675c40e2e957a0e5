/**
 * Batch localization: images → backbone → maps (score, clamp, min-max, upsample to the input frame) → boxes at a
 * threshold → results in original image coordinates, plus optional map files and overlays. Streams any number of
 * images with bounded memory (the loader's prefetch window and one batch of tensors).
 */
import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { boxToOriginal } from '../data/transforms.js';
import { readImageRGB, type RGBImage } from '../data/image-io.js';
import { writeNpy } from '../io/npy.js';
import { boxesFromMap, meanInsideBox } from '../localize/boxes.js';
import type { CornerBox, EdgeBox } from '../util/box.js';
import { COLORS, renderOverlay, type DrawBox } from '../report/overlay.js';
import { checkThreshold } from '../rps/threshold.js';
import { streamMaps, type MapStreamOptions, type RecordMap } from './maps.js';
import type { SkippedImage } from '../data/loader.js';

export type { MapCache } from './maps.js';

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

/** Options of {@link localizeRecords}: those of {@link streamMaps} (the maps) plus boxes and files. */
export interface LocalizeOptions extends Omit<MapStreamOptions, 'keepImages'> {
  /** τ ∈ (0,1). */
  threshold: number;
  /** Also return every contour's box. */
  allBoxes?: boolean;
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
  /** Receives each map (in the input frame) and its result, e.g. for evaluators; the array is reused after return. */
  onMap?: (r: ImageResult, map: Float32Array, size: [number, number], record: RecordMap['record'], mask?: RecordMap['mask']) => void | Promise<void>;
  /**
   * Receives each finished result once its map and overlay files are written (e.g. to journal it, so an interrupted run
   * can resume).
   */
  onResult?: (r: ImageResult) => void | Promise<void>;
  /** Keep every result in the returned summary (default true; false keeps memory flat over millions of images). */
  collectResults?: boolean;
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

/** Maps an input-frame box back to original pixels (see data/transforms.ts `boxToOriginal`). */
export { boxToOriginal as toOriginal } from '../data/transforms.js';

/**
 * Localizes every record: the maps of {@link streamMaps}, then boxes at τ in original image coordinates, and the
 * requested map and overlay files. Library code: returns results, writes only the requested files.
 * @throws UsageError for a predictor of another backbone, a missing class w, or a bad image (unless skipBad).
 */
export async function localizeRecords(o: LocalizeOptions): Promise<LocalizeSummary> {
  if (!o.caam && !o.predictor) throw new UsageError('`predictor`: required (or `caam`)', { options: ['predictor', 'caam'] });
  checkThreshold(o.threshold);
  if ((o.saveMaps || o.overlays) && !o.outDir) throw new Error('localizeRecords: outDir is required for maps or overlays');
  const stream = streamMaps({ ...o, keepImages: !!o.overlays });
  const [H, W] = stream.size;
  const names = o.names ?? outputNames(o.records.map((r) => r.id)).names;
  if (o.saveMaps) mkdirSync(path.join(o.outDir!, 'maps'), { recursive: true });
  if (o.overlays) mkdirSync(path.join(o.outDir!, 'overlays'), { recursive: true });
  const timing = o.onTiming;
  const results: ImageResult[] = [];
  for await (const m of stream) {
    let t0 = timing ? performance.now() : 0;
    const { record: rec, map, original: orig } = m;
    const mk = (b: CornerBox): PredictedBox => ({ box: boxToOriginal(b, o.protocol, orig.width, orig.height), inputBox: b, score: meanInsideBox(map, W, H, b) });
    const largest = boxesFromMap(map, H, W, o.threshold);
    const r: ImageResult = { id: rec.id, width: orig.width, height: orig.height, threshold: o.threshold, box: largest.length ? mk(largest[0]!) : null };
    if (rec.file !== undefined) r.file = rec.file;
    if (o.allBoxes) r.allBoxes = boxesFromMap(map, H, W, o.threshold, { multi: true }).map(mk);
    if (timing) {
      timing({ stage: 'boxes', ms: performance.now() - t0, images: 1 });
      t0 = performance.now();
    }
    if (m.gtInput) r.gtInput = m.gtInput;
    if (m.classUsed !== undefined) r.classUsed = m.classUsed;
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
        img = m.image!;
        for (const b of m.gtInput ?? []) boxes.push({ box: b, color: COLORS.groundTruth });
        if (r.box) boxes.push({ box: [r.box.inputBox[0], r.box.inputBox[1], r.box.inputBox[2] - 1, r.box.inputBox[3] - 1], color: COLORS.predicted });
      }
      await writeFileAtomic(path.join(o.outDir!, r.overlayFile), await renderOverlay(img, map, H, W, boxes));
    }
    if (o.onMap) await o.onMap(r, map, [H, W], rec, m.mask);
    if (o.onResult) await o.onResult(r);
    if (o.collectResults !== false) results.push(r);
    timing?.({ stage: 'write', ms: performance.now() - t0, images: 1 });
  }
  return { results, skipped: stream.skipped, warnings: stream.warnings, size: [H, W] };
}
