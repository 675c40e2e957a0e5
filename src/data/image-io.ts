/**
 * Image I/O behind one small interface. This first version decodes with sharp (libjpeg: bit-identical to PIL) and
 * resizes with sharp's linear/cubic kernels; the images area extends it (jimp fallback, EXIF/CMYK/16-bit/palette
 * handling as PIL's convert('RGB'), decompression-bomb limits) without changing these signatures.
 */
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import type { InputContract, Interpolation } from '../backbones/types.js';

/** An 8-bit RGB image, row-major HWC. */
export interface RGBImage {
  width: number;
  height: number;
  /** length = width·height·3, values 0..255. */
  data: Uint8Array;
}

/**
 * Decodes an image file (or bytes) to 8-bit RGB.
 * @throws UsageError naming the file when it cannot be decoded.
 */
export async function readImageRGB(file: string | Uint8Array, name = typeof file === 'string' ? file : '<buffer>'): Promise<RGBImage> {
  try {
    const { data, info } = await sharp(file, { failOn: 'error' })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    throw new UsageError(`${name}: cannot decode image: ${(e as Error).message}`);
  }
}

/** Resizes to exactly width×height (no crop), antialiased like PIL for downscaling. */
export async function resizeRGB(img: RGBImage, width: number, height: number, interpolation: Interpolation = 'bilinear'): Promise<RGBImage> {
  if (img.width === width && img.height === height) return img;
  const kernel = interpolation === 'bicubic' ? 'cubic' : interpolation === 'nearest' ? 'nearest' : 'linear';
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel, fastShrinkOnLoad: false })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Converts an RGB image to a normalised input tensor per the backbone's contract: (x/255 − mean)/std.
 * @returns [1,H,W,3] float32.
 */
export function toInputTensor(img: RGBImage, contract: InputContract): tf.Tensor4D {
  return tf.tidy(() => {
    const x = tf.tensor4d(img.data, [1, img.height, img.width, 3], 'int32');
    const scaled = tf.div(tf.cast(x, 'float32'), 255);
    return tf.div(tf.sub(scaled, tf.tensor1d(contract.mean)), tf.tensor1d(contract.std)) as tf.Tensor4D;
  });
}
