/**
 * The `boxes.json` document `uol localize` writes, and its COCO counterpart, built from localization results. Pure
 * data (no file system): the front door (src/api) writes it in Node and the web app offers it for download, so both
 * produce the same format: this is the one serializer of boxes.json and coco.json (`uol localize` uses it too).
 */
import { toCoco, type CocoDocument } from './coco.js';
import type { CornerBox, EdgeBox } from '../util/box.js';

/** A box of boxes.json: original pixels, score, and the input-frame box. */
export interface BoxesFileBox {
  /** [x0,y0,x1,y1] in original image pixels, continuous edges (x1,y1 exclusive). */
  box: EdgeBox;
  /** Mean map value in [0,1] inside the box (input frame). */
  score: number;
  /** cv2.boundingRect [x,y,x+w,y+h] in the map (input) frame. */
  inputBox: CornerBox;
}

/** One image of boxes.json. */
export interface BoxesFileEntry {
  id: string;
  file?: string;
  width: number;
  height: number;
  threshold: number;
  /** [x0,y0,x1,y1] in original pixels (continuous edges), or null when nothing is above τ. */
  box: EdgeBox | null;
  score: number | null;
  inputBox: CornerBox | null;
  allBoxes?: BoxesFileBox[];
  map?: string;
  overlay?: string;
  class?: number;
}

/** The whole boxes.json document. */
export interface BoxesFile {
  tool: string;
  backbone: string;
  /** Predictor file name (null for CAAM or an in-memory predictor without a name). */
  predictor: string | null;
  method: string;
  /** The transform, e.g. `Resize((224,224))`. */
  transform: string;
  mapSize: [number, number];
  threshold: { value: number; source: string };
  boxConvention: string;
  images: BoxesFileEntry[];
  skipped: { id: string; file?: string; error: string }[];
  warnings: string[];
}

/** The box convention sentence of boxes.json. */
export const BOX_CONVENTION = 'box: [x0,y0,x1,y1] in original image pixels, continuous edges (x1,y1 exclusive); inputBox: cv2.boundingRect [x,y,x+w,y+h] in the map frame';

/** A localization result as the serializers need it (the front door's and the pipeline's results both fit). */
export interface BoxesResult {
  id: string;
  file?: string;
  width: number;
  height: number;
  threshold: number;
  box: BoxesFileBox | null;
  allBoxes?: BoxesFileBox[];
  mapFile?: string;
  overlayFile?: string;
  classUsed?: number;
}

/** One boxes.json entry from a result (the same keys, in the same order, as `uol localize`). */
export function boxesEntry(r: BoxesResult): BoxesFileEntry {
  const e: BoxesFileEntry = { id: r.id, ...(r.file !== undefined ? { file: r.file } : {}), width: r.width, height: r.height, threshold: r.threshold, box: r.box?.box ?? null, score: r.box?.score ?? null, inputBox: r.box?.inputBox ?? null };
  if (r.allBoxes) e.allBoxes = r.allBoxes.map((b) => ({ box: b.box, score: b.score, inputBox: b.inputBox }));
  if (r.mapFile) e.map = r.mapFile;
  if (r.overlayFile) e.overlay = r.overlayFile;
  if (r.classUsed !== undefined) e.class = r.classUsed;
  return e;
}

/** What boxes.json says about the run besides the per-image entries. */
export interface BoxesFileRun {
  tool: string;
  backbone: string;
  predictor?: string | null;
  method: string;
  transform: string;
  mapSize: [number, number];
  threshold: { value: number; source: string };
  skipped?: BoxesFile['skipped'];
  warnings?: string[];
}

/** The boxes.json document of a run. */
export function boxesDocument(results: readonly BoxesResult[], run: BoxesFileRun): BoxesFile {
  return boxesDocumentOf(results.map(boxesEntry), run);
}

/** The boxes.json document of entries already made (e.g. read back from a resumed run's journal). */
export function boxesDocumentOf(entries: BoxesFileEntry[], run: BoxesFileRun): BoxesFile {
  return {
    tool: run.tool,
    backbone: run.backbone,
    predictor: run.predictor ?? null,
    method: run.method,
    transform: run.transform,
    mapSize: run.mapSize,
    threshold: run.threshold,
    boxConvention: BOX_CONVENTION,
    images: entries,
    skipped: run.skipped ?? [],
    warnings: run.warnings ?? [],
  };
}

/** boxes.json text as `uol localize` writes it (one-space indent, trailing newline). */
export function encodeBoxesFile(doc: BoxesFile): string {
  return JSON.stringify(doc, null, 1) + '\n';
}

/**
 * The COCO document of boxes.json entries, as `uol localize --coco` writes it: the largest box per image, or every box
 * with `allBoxes`. `fileName` gives each image's file_name (default: its file, else its id).
 */
export function cocoFromEntries(entries: readonly BoxesFileEntry[], tool: string, o: { allBoxes?: boolean; fileName?: (e: BoxesFileEntry) => string } = {}): CocoDocument {
  return toCoco(
    entries.map((e) => ({
      fileName: o.fileName ? o.fileName(e) : (e.file ?? e.id),
      width: e.width,
      height: e.height,
      boxes: o.allBoxes ? (e.allBoxes ?? []).map((b) => ({ box: b.box, score: b.score })) : e.box ? [{ box: e.box, score: e.score! }] : [],
    })),
    tool,
  );
}

/** coco.json text as `uol localize --coco` writes it. */
export function encodeCocoFile(doc: CocoDocument): string {
  return JSON.stringify(doc) + '\n';
}
