/**
 * Feature extraction for image files: decode (data/image-io.ts), resize the whole image to S×S with the backbone's
 * filter (an S×S image is used as is), normalise per the input contract, run the backbone, write `<stem>.npy`
 * float32 `[h,w,C]` per image.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import type { ProgressCallback } from '../util/progress.js';
import { writeNpy } from '../io/npy.js';
import { readImageRGB, resizeRGB, toInputTensor } from '../data/image-io.js';
import { checkInputSize } from '../data/input-contract.js';
import type { StemmedImage } from '../data/image-list.js';
import { runExtractor, type FeatureExtractor } from '../backbones/types.js';

/** Options of {@link extractToDir}. */
export interface ExtractOptions {
  backbone: FeatureExtractor;
  /** Image files (`expandImageArgs` in data/image-list.ts). */
  images: StemmedImage[];
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
