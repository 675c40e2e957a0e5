/**
 * Ground-truth masks for PxAP (OpenImages in wsolevaluation): instance masks and an ignore mask per image, read as
 * `cv2.imread(path, cv2.IMREAD_GRAYSCALE)` reads them, resized with `cv2.INTER_NEAREST` to the score map's size, then
 * combined as wsolevaluation's `get_mask`: foreground = any instance > 0.5, ignore = ignore-mask > 0.5 and not
 * foreground → values 1 (foreground), 255 (ignore), 0 (background).
 */
import sharp from 'sharp';
import * as path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { readFileBoundedAsync } from '../../util/safe-read.js';

/** An 8-bit single-channel image. */
export interface GrayImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Decodes an image to 8-bit gray as cv2.imread(IMREAD_GRAYSCALE) does for PNG: gray (+alpha) is taken as is; colour
 * goes through libpng's integer conversion (9798·R + 19235·G + 3735·B) >> 15, unless R = G = B.
 * @throws UsageError naming the file.
 */
export async function readGrayImage(file: string): Promise<GrayImage> {
  const bytes = await readFileBoundedAsync(file, 'imageBytes', 'mask image'); // a regular file within the cap, never a path handed to libvips
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error' }).raw().toBuffer({ resolveWithObject: true });
    const n = info.width * info.height;
    const c = info.channels;
    const out = new Uint8Array(n);
    if (c <= 2) {
      for (let i = 0; i < n; i++) out[i] = data[i * c]!;
    } else {
      for (let i = 0; i < n; i++) {
        const r = data[i * c]!;
        const g = data[i * c + 1]!;
        const b = data[i * c + 2]!;
        out[i] = r === g && r === b ? r : (9798 * r + 19235 * g + 3735 * b) >> 15;
      }
    }
    return { width: info.width, height: info.height, data: out };
  } catch (e) {
    throw new UsageError(`${file}: cannot read mask image: ${(e as Error).message}`);
  }
}

/**
 * `cv2.resize(src, (width, height), interpolation=cv2.INTER_NEAREST)`: source column floor(x · sw/dw) computed as
 * OpenCV does (x · (1 / (dw / sw)) in double), clamped to the last column; rows likewise.
 */
export function resizeNearest(src: GrayImage, width: number, height: number): GrayImage {
  if (src.width === width && src.height === height) return src;
  const fx = width / src.width;
  const fy = height / src.height;
  const ifx = 1 / fx;
  const ify = 1 / fy;
  const xs = new Int32Array(width);
  for (let x = 0; x < width; x++) xs[x] = Math.min(Math.floor(x * ifx), src.width - 1);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.floor(y * ify), src.height - 1);
    const row = sy * src.width;
    for (let x = 0; x < width; x++) out[y * width + x] = src.data[row + xs[x]!]!;
  }
  return { width, height, data: out };
}

/** The source row / column indices {@link resizeNearest} samples (for tests against cv2). */
export function nearestIndices(srcSize: number, dstSize: number): Int32Array {
  const inv = 1 / (dstSize / srcSize);
  return Int32Array.from({ length: dstSize }, (_, x) => Math.min(Math.floor(x * inv), srcSize - 1));
}

/**
 * Combines instance masks and an optional ignore mask (already at the map's size) into a ground truth:
 * 1 foreground (any instance > 0.5), 255 ignore (ignore > 0.5 and not foreground), 0 background.
 */
export function combineMasks(instances: readonly Uint8Array[], ignore: Uint8Array | undefined, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (const m of instances) for (let i = 0; i < n; i++) if (m[i]! > 0) out[i] = 1;
  if (ignore) for (let i = 0; i < n; i++) if (ignore[i]! > 0 && out[i] === 0) out[i] = 255;
  return out;
}

/**
 * Loads one image's ground truth at `width`×`height`.
 * @param root directory the mask paths are relative to.
 * @throws UsageError naming a missing or undecodable mask file.
 */
export async function loadGtMask(root: string, maskPaths: readonly string[], ignorePath: string, width: number, height: number): Promise<Uint8Array> {
  const read = async (p: string): Promise<Uint8Array> => resizeNearest(await readGrayImage(path.join(root, p)), width, height).data;
  const inst: Uint8Array[] = [];
  for (const p of maskPaths) inst.push(await read(p));
  const ign = ignorePath ? await read(ignorePath) : undefined;
  if (!inst.length) throw new UsageError(`no mask for an image (mask root ${root})`);
  return combineMasks(inst, ign, width * height);
}
