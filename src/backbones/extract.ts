/**
 * Feature extraction for image files: decode (data/image-io.ts), resize the whole image to S×S with the backbone's
 * filter (an S×S image is used as is), normalise per the input contract, run the backbone, write `<stem>.npy`
 * float32 `[h,w,C]` per image.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../util/errors.js';
import type { ProgressCallback } from '../util/progress.js';
import { writeNpy } from '../io/npy.js';
import { readImageRGB, resizeRGB, toInputTensor } from '../data/image-io.js';
import { runExtractor, type FeatureExtractor, type InputContract } from './types.js';

/** File extensions taken from directories given as image inputs. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.gif'];

/**
 * Expands image arguments: files are kept, directories contribute their image files (sorted, not recursive).
 * @throws UsageError for a missing path, an empty result, or two images with the same stem.
 */
export function expandImageArgs(args: string[]): { file: string; stem: string }[] {
  const out: { file: string; stem: string }[] = [];
  for (const a of args) {
    if (!existsSync(a)) throw new UsageError(`${a}: no such file or directory`);
    if (statSync(a).isDirectory()) {
      for (const f of readdirSync(a).sort())
        if (IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase())) out.push({ file: path.join(a, f), stem: path.parse(f).name });
    } else out.push({ file: a, stem: path.parse(a).name });
  }
  if (out.length === 0) throw new UsageError(`no images in ${args.join(', ')}`);
  const seen = new Map<string, string>();
  for (const o of out) {
    const prev = seen.get(o.stem);
    if (prev) throw new UsageError(`${o.file}: same stem "${o.stem}" as ${prev}; outputs would collide`);
    seen.set(o.stem, o.file);
  }
  return out;
}

/**
 * Checks an input side against a contract.
 * @throws UsageError naming the size and the rule.
 */
export function checkInputSize(size: number, c: InputContract, what = 'size'): void {
  const options = [what];
  const name = `\`${what}\``;
  if (!Number.isInteger(size) || size < c.minSize) throw new UsageError(`${name} ${size}: must be an integer ≥ ${c.minSize}`, { options });
  if (size % c.sizeMultiple !== 0) throw new UsageError(`${name} ${size}: must be a multiple of ${c.sizeMultiple} for this backbone`, { options });
  if (c.fixedSize && size !== c.defaultSize) throw new UsageError(`${name} ${size}: this backbone only accepts ${c.defaultSize}`, { options });
}

/** Options of {@link extractToDir}. */
export interface ExtractOptions {
  backbone: FeatureExtractor;
  /** Image files (see {@link expandImageArgs}). */
  images: { file: string; stem: string }[];
  /** Square input side S (default: the contract's default size). */
  size?: number;
  outDir: string;
  onProgress?: ProgressCallback;
}

/** Result of {@link extractToDir}. */
export interface ExtractResult {
  files: string[];
  /** Feature map shape [h,w,C] (same for every image). */
  shape: [number, number, number];
}

/**
 * Writes `<outDir>/<stem>.npy` float32 `[h,w,C]` for every image.
 * @throws UsageError for undecodable images or a size the backbone does not accept.
 */
export async function extractToDir(o: ExtractOptions): Promise<ExtractResult> {
  const c = o.backbone.identity.input;
  const S = o.size ?? c.defaultSize;
  checkInputSize(S, c);
  const files: string[] = [];
  let shape: [number, number, number] = [0, 0, 0];
  let done = 0;
  for (const im of o.images) {
    const rgb = await readImageRGB(im.file);
    const sized = rgb.width === S && rgb.height === S ? rgb : await resizeRGB(rgb, S, S, c.interpolation);
    const x = toInputTensor(sized, c);
    let y: tf.Tensor4D;
    try {
      y = await runExtractor(o.backbone, x);
    } finally {
      x.dispose();
    }
    const [, h, w, C] = y.shape;
    const data = (await y.data()) as Float32Array;
    y.dispose();
    shape = [h, w, C];
    const out = path.join(o.outDir, `${im.stem}.npy`);
    await writeNpy(out, data, shape);
    files.push(out);
    o.onProgress?.({ stage: 'extract', done: ++done, total: o.images.length, unit: 'img', detail: im.stem });
  }
  return { files, shape };
}
