/**
 * Dataset inspection for `uol data inspect`: counts per split, classes, boxes per image, image-size statistics and the
 * first problems found (missing files, unreadable images, boxes outside the image, stated sizes that disagree).
 */
import { existsSync } from 'node:fs';
import type { ProgressCallback } from '../util/progress.js';
import { readImageRGB, readImageSize, type DecodeOptions } from './image-io.js';
import type { Dataset, DatasetRecord } from './datasets/types.js';

/** One problem found. */
export interface Problem {
  kind: 'missing-file' | 'unreadable' | 'box-outside' | 'bad-box' | 'size-mismatch' | 'missing-mask' | 'no-label';
  id: string;
  file?: string;
  detail: string;
}

/** min / mean / max of a quantity. */
export interface Range {
  min: number;
  mean: number;
  max: number;
}

/** Report for one split. */
export interface SplitReport {
  split: string;
  images: number;
  /** Images with a label, and the number of distinct labels among them. */
  labeled: number;
  classes: number;
  /** Images with at least one box; total boxes; boxes per image over those with boxes. */
  imagesWithBoxes: number;
  boxes: number;
  boxesPerImage?: Range;
  imagesWithMasks: number;
  /** Sizes read from image headers (or decoded with `decode`). */
  sizesChecked: number;
  width?: Range;
  height?: Range;
  /** All problems counted; the first `maxProblems` listed. */
  problemCount: number;
  problems: Problem[];
}

/** Whole report. */
export interface InspectReport {
  format: string;
  root: string;
  splits: string[];
  classes?: number;
  classNames?: string[];
  boxConvention: string;
  evalProtocol: { resize: number; crop: number };
  reports: SplitReport[];
}

/** Options. */
export interface InspectOptions {
  /** Only this split (default: all). */
  split?: string;
  /** Fully decode every image (finds truncated files; slower). Default: header only. */
  decode?: boolean;
  /** Problems listed per split (default 20). */
  maxProblems?: number;
  /** Files checked at once (default 8). */
  concurrency?: number;
  /** Codec and pixel limit for decoding. */
  decodeOptions?: DecodeOptions;
  onProgress?: ProgressCallback;
}

function range(v: number[]): Range | undefined {
  if (!v.length) return undefined;
  let min = Infinity;
  let max = -Infinity;
  let s = 0;
  for (const x of v) {
    if (x < min) min = x;
    if (x > max) max = x;
    s += x;
  }
  return { min, mean: s / v.length, max };
}

async function imageSize(r: DatasetRecord, o: InspectOptions): Promise<{ size?: { width: number; height: number }; problem?: Problem }> {
  if (r.file === undefined) {
    if (!r.pixels) return {};
    if (!o.decode) return r.size ? { size: r.size } : {};
    try {
      const img = await r.pixels();
      return { size: { width: img.width, height: img.height } };
    } catch (e) {
      return { problem: { kind: 'unreadable', id: r.id, detail: (e as Error).message } };
    }
  }
  if (!existsSync(r.file)) return { problem: { kind: 'missing-file', id: r.id, file: r.file, detail: 'no such file' } };
  try {
    if (o.decode) {
      const img = await readImageRGB(r.file, r.file, o.decodeOptions);
      return { size: { width: img.width, height: img.height } };
    }
    const s = await readImageSize(r.file);
    if (!s) return { problem: { kind: 'unreadable', id: r.id, file: r.file, detail: 'not a recognised image (header)' } };
    return { size: s };
  } catch (e) {
    return { problem: { kind: 'unreadable', id: r.id, file: r.file, detail: (e as Error).message } };
  }
}

async function inspectSplit(ds: Dataset, split: string, o: InspectOptions): Promise<SplitReport> {
  const records = await ds.records(split);
  const maxProblems = o.maxProblems ?? 20;
  const problems: Problem[] = [];
  let problemCount = 0;
  const add = (p: Problem): void => {
    problemCount++;
    if (problems.length < maxProblems) problems.push(p);
  };
  const labels = new Set<number>();
  let labeled = 0;
  let boxes = 0;
  const perImage: number[] = [];
  let withMasks = 0;
  const widths: number[] = [];
  const heights: number[] = [];
  // Header reads run `concurrency` at a time; problems are reported in record order.
  const sizes = new Array<{ size?: { width: number; height: number }; problem?: Problem }>(records.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < records.length) {
      const i = next++;
      sizes[i] = await imageSize(records[i]!, o);
      o.onProgress?.({ stage: `inspect ${split}`, done: ++done, total: records.length, unit: 'img' });
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 8, records.length) }, worker));
  records.forEach((r, i) => {
    if (r.label !== undefined) {
      labeled++;
      labels.add(r.label);
    }
    const s = sizes[i]!;
    if (s.problem) add(s.problem);
    const size = s.size;
    if (size) {
      widths.push(size.width);
      heights.push(size.height);
      if (r.size && (r.size.width !== size.width || r.size.height !== size.height)) {
        add({ kind: 'size-mismatch', id: r.id, ...(r.file ? { file: r.file } : {}), detail: `annotations say ${r.size.width}×${r.size.height}, image is ${size.width}×${size.height}` });
      }
    }
    if (r.boxes?.length) {
      boxes += r.boxes.length;
      perImage.push(r.boxes.length);
      const ref = size ?? r.size;
      for (const b of r.boxes) {
        const [x0, y0, x1, y1] = b;
        if (x1 < x0 || y1 < y0) add({ kind: 'bad-box', id: r.id, ...(r.file ? { file: r.file } : {}), detail: `box [${b.join(', ')}] has x1 < x0 or y1 < y0` });
        else if (ref && (x0 < 0 || y0 < 0 || x1 > ref.width || y1 > ref.height)) {
          add({ kind: 'box-outside', id: r.id, ...(r.file ? { file: r.file } : {}), detail: `box [${b.join(', ')}] outside the ${ref.width}×${ref.height} image` });
        }
      }
    }
    if (r.mask) {
      withMasks++;
      for (const f of [...r.mask.files, ...(r.mask.ignoreFile ? [r.mask.ignoreFile] : [])]) if (!existsSync(f)) add({ kind: 'missing-mask', id: r.id, file: f, detail: 'mask file not found' });
    }
  });
  const rep: SplitReport = {
    split,
    images: records.length,
    labeled,
    classes: labels.size,
    imagesWithBoxes: perImage.length,
    boxes,
    imagesWithMasks: withMasks,
    sizesChecked: widths.length,
    problemCount,
    problems,
  };
  const bpi = range(perImage);
  if (bpi) rep.boxesPerImage = bpi;
  const w = range(widths);
  const h = range(heights);
  if (w && h) {
    rep.width = w;
    rep.height = h;
  }
  return rep;
}

/** Inspects a dataset (all splits, or `split`). */
export async function inspectDataset(ds: Dataset, o: InspectOptions = {}): Promise<InspectReport> {
  const splits = o.split ? [o.split] : ds.splits;
  const reports: SplitReport[] = [];
  for (const s of splits) reports.push(await inspectSplit(ds, s, o));
  const out: InspectReport = { format: ds.format, root: ds.root, splits: ds.splits, boxConvention: ds.boxConvention, evalProtocol: ds.evalProtocol, reports };
  if (ds.classNames) {
    out.classes = ds.classNames.length;
    out.classNames = ds.classNames;
  }
  return out;
}
