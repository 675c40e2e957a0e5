/**
 * Overlays for people to look at: an activation map as a jet heatmap blended on the photo, with boxes drawn on top.
 */
import sharp from 'sharp';
import { resizeRGB, type RGBImage } from '../data/image-io.js';
import { roundBox, type CornerBox, type EdgeBox } from '../util/box.js';

/** A box to draw: [x0,y0,x1,y1] in the image's pixels (x1,y1 inclusive), RGB colour, line width in pixels. */
export interface DrawBox {
  box: CornerBox | EdgeBox;
  color: [number, number, number];
  width?: number;
  label?: string;
}

/** Jet colour map (blue → cyan → yellow → red) for v ∈ [0,1], as 0..255 RGB. */
export function jet(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v));
  const c = (t: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * x - t))));
  return [c(3), c(2), c(1)];
}

/** Bilinear sample of a row-major [h,w] map at continuous pixel-centre coordinates (y,x) (half-pixel convention). */
function sample(map: ArrayLike<number>, h: number, w: number, y: number, x: number): number {
  const yy = Math.min(h - 1, Math.max(0, y));
  const xx = Math.min(w - 1, Math.max(0, x));
  const y0 = Math.floor(yy);
  const x0 = Math.floor(xx);
  const y1 = Math.min(h - 1, y0 + 1);
  const x1 = Math.min(w - 1, x0 + 1);
  const fy = yy - y0;
  const fx = xx - x0;
  const a = map[y0 * w + x0]!;
  const b = map[y0 * w + x1]!;
  const c = map[y1 * w + x0]!;
  const d = map[y1 * w + x1]!;
  return (1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d);
}

/**
 * Blends a map (values in [0,1], row-major [mapH,mapW], stretched over the whole image) on `img` as a jet heatmap and
 * draws `boxes`. Returns a new image; `img` is unchanged.
 * @param alpha heatmap weight in [0,1] (default 0.5).
 */
export function heatmapOverlay(img: RGBImage, map: ArrayLike<number> | undefined, mapH: number, mapW: number, boxes: DrawBox[] = [], alpha = 0.5): RGBImage {
  const { width: W, height: H } = img;
  const out = new Uint8Array(img.data);
  if (map) {
    const sy = mapH / H;
    const sx = mapW / W;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const v = sample(map, mapH, mapW, (y + 0.5) * sy - 0.5, (x + 0.5) * sx - 0.5);
        const [r, g, b] = jet(v);
        const i = (y * W + x) * 3;
        out[i] = Math.round((1 - alpha) * out[i]! + alpha * r);
        out[i + 1] = Math.round((1 - alpha) * out[i + 1]! + alpha * g);
        out[i + 2] = Math.round((1 - alpha) * out[i + 2]! + alpha * b);
      }
    }
  }
  for (const b of boxes) drawRect(out, W, H, b);
  return { width: W, height: H, data: out };
}

const HALO = [20, 20, 20] as const;

function drawRect(px: Uint8Array, W: number, H: number, b: DrawBox): void {
  const t = b.width ?? Math.max(2, Math.round(Math.min(W, H) / 150));
  const [x0, y0, x1, y1] = roundBox(b.box);
  let color: readonly number[] = b.color;
  const put = (x: number, y: number) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const i = (y * W + x) * 3;
    px[i] = color[0]!;
    px[i + 1] = color[1]!;
    px[i + 2] = color[2]!;
  };
  // A dark one-pixel edge inside and outside the coloured line keeps it visible on any part of the heatmap (the
  // green ground truth sits on jet's own greens otherwise).
  for (let k = -1; k <= t; k++) {
    color = k === -1 || k === t ? HALO : b.color;
    for (let x = x0 - k; x <= x1 + k; x++) {
      put(x, y0 - k);
      put(x, y1 + k);
    }
    for (let y = y0 - k; y <= y1 + k; y++) {
      put(x0 - k, y);
      put(x1 + k, y);
    }
  }
}

/** Encodes an RGB image as PNG bytes. */
export async function encodePng(img: RGBImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
}

/** Encodes an RGB image as JPEG bytes (quality 0..100). */
export async function encodeJpeg(img: RGBImage, quality = 85): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality }).toBuffer();
}

/** Colours used across reports. */
export const COLORS = {
  predicted: [255, 40, 40] as [number, number, number],
  groundTruth: [40, 230, 80] as [number, number, number],
  region: [255, 220, 0] as [number, number, number],
};

/**
 * Renders an overlay no larger than `maxSide` pixels: the image is downscaled first (boxes scaled with it), then the
 * heatmap and boxes are drawn. Boxes are in `img` pixels.
 */
export async function renderOverlay(img: RGBImage, map: ArrayLike<number> | undefined, mapH: number, mapW: number, boxes: DrawBox[], maxSide = 640): Promise<Buffer> {
  const s = Math.min(1, maxSide / Math.max(img.width, img.height));
  let base = img;
  let scaled = boxes;
  if (s < 1) {
    base = await resizeRGB(img, Math.max(1, Math.round(img.width * s)), Math.max(1, Math.round(img.height * s)), 'bilinear');
    const sx = base.width / img.width;
    const sy = base.height / img.height;
    scaled = boxes.map((b) => ({ ...b, box: [b.box[0] * sx, b.box[1] * sy, b.box[2] * sx, b.box[3] * sy] }));
  }
  return encodePng(heatmapOverlay(base, map, mapH, mapW, scaled));
}
