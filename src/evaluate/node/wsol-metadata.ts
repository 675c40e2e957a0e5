/**
 * Reader for wsolevaluation metadata directories (clovaai/wsolevaluation `metadata/<dataset>/<split>/`):
 * - `image_ids.txt`: one image id per line (a relative image path, e.g. `val2/0/0.jpeg`);
 * - `class_labels.txt`: `<image_id>,<class index>`;
 * - `image_sizes.txt`: `<image_id>,<width>,<height>` (empty for OpenImages);
 * - `localization.txt`: either boxes `<image_id>,<x0>,<y0>,<x1>,<y1>` (inclusive pixels, several lines per image for
 *   several boxes) or masks `<image_id>,<mask path>,<ignore path>` (several lines per image for several instance masks;
 *   only the first line of an image names its ignore mask).
 * Lines are split on commas exactly as wsolevaluation does; blank lines are skipped; a malformed line is an error that
 * names the file and line number.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Box } from '../../localize/boxes.js';
import { UsageError } from '../../util/errors.js';
import { readTextBounded } from '../../util/safe-read.js';

/** Masks of one image (paths relative to the mask root). */
export interface MaskEntry {
  maskPaths: string[];
  /** Ignore-region mask, '' when none. */
  ignorePath: string;
}

/** A parsed metadata directory. */
export interface WsolMetadata {
  dir: string;
  /** Image ids in file order. */
  imageIds: string[];
  /** Class index per image id (class_labels.txt), when the file exists. */
  classLabels?: Map<string, number>;
  /** Original image size per image id (image_sizes.txt), when the file exists and is not empty. */
  imageSizes?: Map<string, { width: number; height: number }>;
  /** GT boxes per image id, inclusive [x0, y0, x1, y1] in original image pixels (box localization.txt). */
  boxes?: Map<string, Box[]>;
  /** GT masks per image id (mask localization.txt). */
  masks?: Map<string, MaskEntry>;
}

interface Line {
  no: number;
  text: string;
}

function readLines(file: string): Line[] {
  const text = readTextBounded(file, 'textBytes', '');
  const out: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    const t = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (t.trim() !== '') out.push({ no: i + 1, text: t });
  });
  return out;
}

function fields(file: string, l: Line, n: number | number[], format: string): string[] {
  const f = l.text.split(',');
  const ok = Array.isArray(n) ? n.includes(f.length) : f.length === n;
  if (!ok) throw new UsageError(`${file}:${l.no}: expected "${format}", got ${JSON.stringify(l.text)}`);
  if (f[0] === '') throw new UsageError(`${file}:${l.no}: empty image id in ${JSON.stringify(l.text)}`);
  return f;
}

/** Ids and mask paths become file paths under a root: refuse absolute paths and `..` segments. */
function relPath(file: string, l: Line, p: string, what: string): string {
  if (p === '') return p;
  if (path.isAbsolute(p) || /^[a-zA-Z]:/.test(p) || p.split(/[\\/]/).includes('..')) {
    throw new UsageError(`${file}:${l.no}: ${what} "${p}" must be a relative path without ".." segments`);
  }
  return p;
}

function int(file: string, l: Line, s: string, what: string, min: number): number {
  if (!/^\s*[+]?\d+\s*$/.test(s)) throw new UsageError(`${file}:${l.no}: ${what} "${s}" is not an integer ≥ ${min}`);
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v < min) throw new UsageError(`${file}:${l.no}: ${what} "${s}" is not an integer ≥ ${min}`);
  return v;
}

/**
 * Reads a metadata directory. `image_ids.txt` is required; the other files are read when present.
 * @throws UsageError naming the file and line of the first malformed or duplicated entry.
 */
export function readWsolMetadata(dir: string): WsolMetadata {
  const idsFile = path.join(dir, 'image_ids.txt');
  if (!existsSync(idsFile)) throw new UsageError(`${idsFile}: not found (is --metadata a wsolevaluation metadata directory?)`);
  const meta: WsolMetadata = { dir, imageIds: [] };
  const seen = new Set<string>();
  for (const l of readLines(idsFile)) {
    relPath(idsFile, l, l.text, 'image id');
    if (seen.has(l.text)) throw new UsageError(`${idsFile}:${l.no}: image id "${l.text}" is listed twice`);
    seen.add(l.text);
    meta.imageIds.push(l.text);
  }
  if (meta.imageIds.length === 0) throw new UsageError(`${idsFile}: no image ids`);

  const labelsFile = path.join(dir, 'class_labels.txt');
  if (existsSync(labelsFile)) {
    meta.classLabels = new Map();
    for (const l of readLines(labelsFile)) {
      const [id, c] = fields(labelsFile, l, 2, '<image_id>,<class index>');
      if (meta.classLabels.has(id!)) throw new UsageError(`${labelsFile}:${l.no}: image id "${id}" has a second class label`);
      meta.classLabels.set(id!, int(labelsFile, l, c!, 'class index', 0));
    }
  }

  const sizesFile = path.join(dir, 'image_sizes.txt');
  if (existsSync(sizesFile)) {
    const lines = readLines(sizesFile);
    if (lines.length) {
      meta.imageSizes = new Map();
      for (const l of lines) {
        const [id, ws, hs] = fields(sizesFile, l, 3, '<image_id>,<width>,<height>');
        if (meta.imageSizes.has(id!)) throw new UsageError(`${sizesFile}:${l.no}: image id "${id}" has a second size`);
        meta.imageSizes.set(id!, { width: int(sizesFile, l, ws!, 'width', 1), height: int(sizesFile, l, hs!, 'height', 1) });
      }
    }
  }

  const locFile = path.join(dir, 'localization.txt');
  if (existsSync(locFile)) {
    const lines = readLines(locFile);
    const kind = lines.length ? (lines[0]!.text.split(',').length === 3 ? 'masks' : 'boxes') : 'boxes';
    if (kind === 'boxes') {
      meta.boxes = new Map();
      for (const l of lines) {
        const [id, ...v] = fields(locFile, l, 5, '<image_id>,<x0>,<y0>,<x1>,<y1>');
        const b = v.map((s, k) => int(locFile, l, s, ['x0', 'y0', 'x1', 'y1'][k]!, 0)) as Box;
        if (b[2] < b[0] || b[3] < b[1]) throw new UsageError(`${locFile}:${l.no}: box [${b.join(', ')}] has x1 < x0 or y1 < y0`);
        const list = meta.boxes.get(id!);
        if (list) list.push(b);
        else meta.boxes.set(id!, [b]);
      }
    } else {
      meta.masks = new Map();
      for (const l of lines) {
        const [id, mask, ignore] = fields(locFile, l, 3, '<image_id>,<mask path>,<ignore path>');
        if (mask === '') throw new UsageError(`${locFile}:${l.no}: empty mask path`);
        relPath(locFile, l, mask!, 'mask path');
        relPath(locFile, l, ignore!, 'ignore path');
        const e = meta.masks.get(id!);
        if (!e) meta.masks.set(id!, { maskPaths: [mask!], ignorePath: ignore! });
        else {
          if (ignore !== '' && ignore !== e.ignorePath) {
            throw new UsageError(`${locFile}:${l.no}: a second ignore mask "${ignore}" for "${id}" (only its first line may name one)`);
          }
          e.maskPaths.push(mask!);
        }
      }
    }
  }
  return meta;
}

/**
 * wsolevaluation's `resize_bbox`: scales an inclusive box from an image of size (w, h) to (newW, newH), truncating
 * each coordinate (`int(x0 * new_w / w)`).
 */
export function resizeBox(box: Readonly<Box>, width: number, height: number, newWidth: number, newHeight: number): Box {
  return [
    Math.trunc((box[0] * newWidth) / width),
    Math.trunc((box[1] * newHeight) / height),
    Math.trunc((box[2] * newWidth) / width),
    Math.trunc((box[3] * newHeight) / height),
  ];
}
