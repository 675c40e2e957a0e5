/**
 * Small raster helpers for reports on 8-bit RGB images (row-major HWC): crop, rectangle outlines, dimming outside a
 * mask, a jet heat-map overlay, PNG encoding (sharp). Hand-written because they are a few loops each over an
 * {@link RGBImage} we already hold; sharp does the resampling and the encoding.
 */
import sharp from 'sharp';
import type { RGBImage } from '../data/image-io.js';
import type { HalfOpenBox } from '../util/box.js';

/** An RGB colour, 0..255. */
export type RGB = [number, number, number];

/** Copy of `img`. */
export function cloneRGB(img: RGBImage): RGBImage {
  return { width: img.width, height: img.height, data: Uint8Array.from(img.data) };
}

/** The pixels of `box` (clipped to the image) as a new image. @throws Error when the clipped box is empty. */
export function cropRGB(img: RGBImage, box: HalfOpenBox): RGBImage {
  const x0 = Math.max(0, box[0]);
  const y0 = Math.max(0, box[1]);
  const x1 = Math.min(img.width, box[2]);
  const y1 = Math.min(img.height, box[3]);
  if (x1 <= x0 || y1 <= y0) throw new Error(`empty crop [${box.join(',')}] of a ${img.width}×${img.height} image`);
  const w = x1 - x0;
  const h = y1 - y0;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x1) * 3), y * w * 3);
  return { width: w, height: h, data: out };
}

/** Draws the outline of `box` (clipped) with `thickness` pixels inside the box, in place. */
export function drawRect(img: RGBImage, box: HalfOpenBox, color: RGB, thickness = 2): void {
  const x0 = Math.max(0, box[0]);
  const y0 = Math.max(0, box[1]);
  const x1 = Math.min(img.width, box[2]);
  const y1 = Math.min(img.height, box[3]);
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const edge = x - x0 < thickness || x1 - 1 - x < thickness || y - y0 < thickness || y1 - 1 - y < thickness;
      if (!edge) continue;
      const o = (y * img.width + x) * 3;
      img.data[o] = color[0];
      img.data[o + 1] = color[1];
      img.data[o + 2] = color[2];
    }
  }
}

/** Multiplies pixels where `inside(x, y)` is false by `factor` (0..1), in place. */
export function dimOutside(img: RGBImage, inside: (x: number, y: number) => boolean, factor = 0.35): void {
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (inside(x, y)) continue;
      const o = (y * img.width + x) * 3;
      for (let c = 0; c < 3; c++) img.data[o + c] = Math.round(img.data[o + c]! * factor);
    }
  }
}

/** The jet colour map (as cv2.COLORMAP_JET, piecewise linear) of v ∈ [0,1]. */
export function jet(v: number): RGB {
  const t = Math.min(1, Math.max(0, v));
  const ch = (k: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - k))));
  return [ch(3), ch(2), ch(1)];
}

/**
 * Blends a heat map over an image: out = (1−a)·img + a·jet(map).
 * @param map row-major [img.height·img.width] values in [0,1].
 */
export function heatmapOverlay(img: RGBImage, map: ArrayLike<number>, a = 0.5): RGBImage {
  if (map.length !== img.width * img.height) throw new Error(`map has ${map.length} values for a ${img.width}×${img.height} image`);
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < map.length; i++) {
    const c = jet(map[i]!);
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round((1 - a) * img.data[i * 3 + k]! + a * c[k]!);
  }
  return { width: img.width, height: img.height, data: out };
}

/** Encodes an image as PNG bytes. */
export async function encodePNG(img: RGBImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
}

/** `data:` URL of PNG bytes (for self-contained HTML). */
export function pngDataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

/** Size that fits `maxSide` keeping the aspect ratio (never below 1 pixel). */
export function fitSize(width: number, height: number, maxSide: number): [number, number] {
  const s = maxSide / Math.max(width, height);
  return [Math.max(1, Math.round(width * s)), Math.max(1, Math.round(height * s))];
}
