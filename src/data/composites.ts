/**
 * Composite localization test images from annotated photos: each annotated object (its first box cropped from the
 * photo) is pasted into a corner of a background photo. The objects end up small and off-centre, where a centre-biased
 * map no longer scores well, so box accuracy separates real localizers from flat or centred maps (the sample photos'
 * objects are large and centred). Used by the real-data specs and tools/compare-fit-methods.ts.
 *
 * Layout, fixed so every run builds the same files: a `size`×`size` canvas (background resized with `fill`), the object
 * scaled so its longer side is `fraction`·size, placed `margin` px from the corner; image k (0-based, `copies` per object)
 * takes background k mod #backgrounds, left corner for even k, top corner for k mod 4 < 2. The GT box is the pasted
 * rectangle, inclusive pixel coordinates.
 */
import sharp from 'sharp';
import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import type { CornerBox } from '../util/box.js';
import type { DatasetRecord } from './datasets/types.js';
import { readJsonBounded } from '../util/safe-read.js';
import { roundBox } from '../util/box.js';

/** An annotated source photo. */
export interface CompositeObject {
  /** Image file. */
  file: string;
  /** Its boxes [x0,y0,x1,y1] in pixels; the first is cut out. */
  boxes: readonly CornerBox[];
}

/** Options of {@link makeComposites}. */
export interface CompositeOptions {
  /** Canvas side in pixels (default 448). */
  size?: number;
  /** Object's longer side as a fraction of the canvas, in (0, 1) (default 0.4). */
  fraction?: number;
  /** Distance of the object from the canvas corner in pixels (default 16). */
  margin?: number;
  /** Composites per object, each in the next corner on the next background (default 2). */
  copies?: number;
}

/**
 * Writes `objects.length × copies` PNG composites `composite_<k>.png` into `dir` (created if missing).
 * @param objects annotated photos (≥ 1 box each)
 * @param backgrounds background image files (≥ 1)
 * @returns one record per composite: id = file name, `boxes` = the pasted rectangle [x0,y0,x1,y1] (inclusive)
 * @throws UsageError when an object has no box, a box lies outside its photo, or there is no background
 */
export async function makeComposites(objects: readonly CompositeObject[], backgrounds: readonly string[], dir: string, o: CompositeOptions = {}): Promise<DatasetRecord[]> {
  const S = o.size ?? 448;
  const fraction = o.fraction ?? 0.4;
  const margin = o.margin ?? 16;
  const copies = o.copies ?? 2;
  if (!backgrounds.length) throw new UsageError('composites: no background images');
  if (!(fraction > 0 && fraction < 1)) throw new UsageError(`composites: fraction ${fraction} must lie in (0, 1)`);
  mkdirSync(dir, { recursive: true });
  const out: DatasetRecord[] = [];
  let k = 0;
  for (const obj of objects) {
    const box = obj.boxes[0];
    if (!box) throw new UsageError(`composites: ${obj.file} has no box`);
    const [x0, y0, x1, y1] = roundBox(box);
    if (!(x1 > x0 && y1 > y0 && x0 >= 0 && y0 >= 0)) throw new UsageError(`composites: ${obj.file}: box [${box.join(', ')}] is empty or negative`);
    for (let rep = 0; rep < copies; rep++, k++) {
      const bg = backgrounds[k % backgrounds.length]!;
      const sc = (fraction * S) / Math.max(x1 - x0, y1 - y0);
      const pw = Math.round((x1 - x0) * sc);
      const ph = Math.round((y1 - y0) * sc);
      const px = k % 2 === 0 ? margin : S - pw - margin;
      const py = k % 4 < 2 ? margin : S - ph - margin;
      const patch = await sharp(obj.file).extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 }).resize(pw, ph).png().toBuffer(); // lossless: a JPEG buffer would re-compress the object
      const file = path.join(dir, `composite_${k}.png`);
      await sharp(bg).resize(S, S, { fit: 'fill' }).composite([{ input: patch, left: px, top: py }]).png().toFile(file);
      out.push({ id: path.basename(file), file, boxes: [[px, py, px + pw - 1, py + ph - 1]] });
    }
  }
  return out;
}

/**
 * The composites of a sample-photo folder described by a `manifest.json` (the repo's data/: entries `{ file,
 * approx_boxes }`): every annotated photo's object pasted into the unannotated photos, with the defaults above.
 * @throws UsageError when the manifest cannot be read or has no annotated or no unannotated photo
 */
export async function sampleComposites(photoDir: string, outDir: string): Promise<DatasetRecord[]> {
  const file = path.join(photoDir, 'manifest.json');
  let entries: { file: string; approx_boxes: CornerBox[] }[];
  try {
    entries = readJsonBounded(file, 'photo manifest') as typeof entries;
  } catch (e) {
    throw new UsageError(`${file}: cannot read the photo manifest (${(e as Error).message})`);
  }
  const annotated = entries.filter((e) => e.approx_boxes?.length);
  if (!annotated.length) throw new UsageError(`${file}: no photo with approx_boxes`);
  return makeComposites(
    annotated.map((e) => ({ file: path.resolve(photoDir, e.file), boxes: e.approx_boxes })),
    entries.filter((e) => !e.approx_boxes?.length).map((e) => path.resolve(photoDir, e.file)),
    outDir,
  );
}
