/**
 * One record → its network input and GT in the input frame. Shared by the loader's in-process path and its decode
 * worker threads (plain data in, plain data out: no closures, no tensors).
 */
import type { Interpolation } from './input-contract.js';
import type { DecodeOptions, RGBImage, ResizeOptions } from './image-io.js';
import { prepareImage, prepareMask, transformBoxes, type MaskKind, type PreparedMask, type Protocol } from './transforms.js';
import type { CornerBox } from '../util/box.js';

/** What to prepare. */
export interface PrepareTask {
  file?: string;
  pixels?: RGBImage;
  protocol: Protocol;
  interpolation: Interpolation;
  decode?: DecodeOptions & ResizeOptions;
  boxes?: CornerBox[];
  /** Size the boxes are scaled from (the annotations' stated size, the release's rule); default the decoded size. */
  boxSize?: { width: number; height: number };
  mask?: { files: string[]; ignoreFile?: string; kind: MaskKind };
}

/** The prepared input. */
export interface PreparedItem {
  image: RGBImage;
  original: { width: number; height: number };
  boxes?: CornerBox[];
  mask?: PreparedMask;
  /** Wall milliseconds prepareItem took (decode, resize, crop, mask). */
  ms?: number;
}

/** Decodes, resizes, crops; transforms boxes with the release's formula; loads the mask when asked. */
export async function prepareItem(t: PrepareTask): Promise<PreparedItem> {
  const t0 = performance.now();
  const src = t.file !== undefined ? { file: t.file } : t.pixels ? { pixels: t.pixels } : undefined;
  if (!src) throw new Error('record has neither a file nor pixels');
  const p = await prepareImage(src, t.protocol, t.interpolation, t.decode);
  const out: PreparedItem = { image: p.image, original: p.original };
  if (t.boxes) out.boxes = transformBoxes(t.boxes, t.boxSize ?? p.original, t.protocol);
  if (t.mask) out.mask = await prepareMask(t.mask.files, t.mask.ignoreFile, t.mask.kind, t.protocol, t.decode);
  out.ms = performance.now() - t0;
  return out;
}
