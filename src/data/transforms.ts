/**
 * Preprocessing that matches torchvision on PIL images, and the authors' release for ground truth.
 *
 * Image protocols (all resizes are PIL-style antialiased; the filter comes from the backbone's InputContract):
 * - `resize`  — `Resize((h, w))`, the whole image squashed to w×h. The release's fit protocol (`train`, 224×224) and
 *   `whole` (for `uol localize IMAGES...`).
 * - `resize-crop` — `Resize((r, r))` → `CenterCrop(c)`: the release's evaluation protocol (datasets/*.py use a square
 *   resize; r=256,c=224 for ImageNet/OpenImages, r=480,c=448 for CUB/Cars/Aircraft/Dogs).
 * - `shorter-crop` — `Resize(r)` (shorter side to r, longer side `int(r·long/short)`) → `CenterCrop(c)`: the usual
 *   ImageNet classification protocol.
 * CenterCrop offsets are `int(round((size − crop)/2))` with Python's round-half-to-even; a crop larger than the image is
 * zero-padded as torchvision does.
 *
 * Boxes (the release's formula, datasets/cub200.py et al.): with s = resize/size per axis and o = (resize − crop)·½,
 * x0' = clip(round(x0·s − o), 0, c−1), x1' = clip(round(x1·s − o), x0', c−1) (y likewise), `round` = numpy's
 * half-to-even. For `shorter-crop`, o is the actual integer crop offset. For `resize`, o = 0 and c = the output size.
 *
 * Masks (the release): CUB soft masks → float /255, `cv2.resize(INTER_LINEAR)` to the resize size, crop, > 0.5;
 * OpenImages masks → `cv2.resize(INTER_NEAREST)`, crop, > 0.5, with the ignore mask (ignore box minus foreground) as 255.
 */
import type { Interpolation } from './input-contract.js';
import { readImageResized, type DecodeOptions, type RGBImage, type ResizeOptions, resizeRGB, readImageRGB } from './image-io.js';
import { cornerToImageEdges, type CornerBox, type EdgeBox } from '../util/box.js';

/** How an image becomes the network input. */
export type Protocol =
  | { kind: 'resize'; width: number; height: number }
  | { kind: 'resize-crop'; resize: number; crop: number }
  | { kind: 'shorter-crop'; resize: number; crop: number };

/** The release's fit protocol: Resize((size, size)), whole image (224 in the release). */
export function trainProtocol(size = 224): Protocol {
  return { kind: 'resize', width: size, height: size };
}

/** The whole photo resized to size×size (`uol localize IMAGES...`). */
export function wholeProtocol(size = 224): Protocol {
  return { kind: 'resize', width: size, height: size };
}

/** The release's evaluation protocol: Resize((resize, resize)) → CenterCrop(crop). */
export function evalProtocol(resize: number, crop: number): Protocol {
  return { kind: 'resize-crop', resize, crop };
}

/** torchvision's Resize(resize) (shorter side) → CenterCrop(crop). */
export function shorterSideProtocol(resize: number, crop: number): Protocol {
  return { kind: 'shorter-crop', resize, crop };
}

/** Short text for reports, e.g. `Resize((480,480))→CenterCrop(448)`. */
export function describeProtocol(p: Protocol): string {
  switch (p.kind) {
    case 'resize':
      return `Resize((${p.height},${p.width}))`;
    case 'resize-crop':
      return `Resize((${p.resize},${p.resize}))→CenterCrop(${p.crop})`;
    case 'shorter-crop':
      return `Resize(${p.resize})→CenterCrop(${p.crop})`;
  }
}

/** Output side(s) of a protocol: [width, height]. */
export function outputSize(p: Protocol): [number, number] {
  return p.kind === 'resize' ? [p.width, p.height] : [p.crop, p.crop];
}

/** Python 3 / numpy rounding: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Where an image of a given size goes under a protocol. */
export interface Geometry {
  /** Size after the resize step. */
  resize: { width: number; height: number };
  /** Crop window in resized coordinates (left/top may be negative when the crop pads). */
  crop: { left: number; top: number; width: number; height: number };
  /** Shift subtracted from scaled box coordinates (the release's (resize−crop)·½, or the crop offset). */
  boxShift: { x: number; y: number };
}

/** torchvision 0.14 `_compute_resized_output_size` for an int size (shorter side), max_size None. */
export function shorterSideSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** Geometry of `p` for an image of width×height. */
export function geometry(p: Protocol, width: number, height: number): Geometry {
  if (p.kind === 'resize') {
    return { resize: { width: p.width, height: p.height }, crop: { left: 0, top: 0, width: p.width, height: p.height }, boxShift: { x: 0, y: 0 } };
  }
  const resize = p.kind === 'resize-crop' ? { width: p.resize, height: p.resize } : shorterSideSize(width, height, p.resize);
  const c = p.crop;
  const left = centerOffset(resize.width, c);
  const top = centerOffset(resize.height, c);
  const boxShift = p.kind === 'resize-crop' ? { x: (p.resize - c) * 0.5, y: (p.resize - c) * 0.5 } : { x: left, y: top };
  return { resize, crop: { left, top, width: c, height: c }, boxShift };
}

/** torchvision CenterCrop offset: int(round((size − crop)/2)); when crop > size, the (negative) pad offset. */
function centerOffset(size: number, crop: number): number {
  if (crop > size) return -Math.floor((crop - size) / 2);
  return roundHalfEven((size - crop) / 2);
}

/** Crops (and zero-pads outside the image) an RGB image to the window. */
export function cropRGB(img: RGBImage, left: number, top: number, width: number, height: number): RGBImage {
  if (left === 0 && top === 0 && width === img.width && height === img.height) return img;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    const x0 = Math.max(0, -left);
    const x1 = Math.min(width, img.width - left);
    if (x1 <= x0) continue;
    out.set(img.data.subarray((sy * img.width + x0 + left) * 3, (sy * img.width + x1 + left) * 3), (y * width + x0) * 3);
  }
  return { width, height, data: out };
}

/** Applies a protocol to an already decoded RGB image. */
export async function applyProtocol(img: RGBImage, p: Protocol, interpolation: Interpolation, opts?: ResizeOptions): Promise<RGBImage> {
  const g = geometry(p, img.width, img.height);
  const r = await resizeRGB(img, g.resize.width, g.resize.height, interpolation, opts);
  return cropRGB(r, g.crop.left, g.crop.top, g.crop.width, g.crop.height);
}

/** Where an image comes from: a file, or pixels already in memory (e.g. CIFAR). */
export type ImageSource = { file: string } | { pixels: RGBImage | (() => Promise<RGBImage>) };

/** The network input for one image and what it came from. */
export interface Prepared {
  /** Output image (protocol's output size). */
  image: RGBImage;
  /** Decoded (stored) size of the original. */
  original: { width: number; height: number };
  geometry: Geometry;
}

/**
 * Decodes (file or pixels) and applies the protocol: resize with the given filter, then center crop.
 * @throws UsageError naming the file when decoding fails.
 */
export async function prepareImage(src: ImageSource, p: Protocol, interpolation: Interpolation, opts?: DecodeOptions & ResizeOptions): Promise<Prepared> {
  if ('file' in src) {
    if (p.kind === 'shorter-crop') {
      const img = await readImageRGB(src.file, src.file, opts);
      const g = geometry(p, img.width, img.height);
      const r = await resizeRGB(img, g.resize.width, g.resize.height, interpolation, opts);
      return { image: cropRGB(r, g.crop.left, g.crop.top, g.crop.width, g.crop.height), original: { width: img.width, height: img.height }, geometry: g };
    }
    const g0 = geometry(p, 1, 1); // resize size does not depend on the image for these protocols
    const { image, original } = await readImageResized(src.file, g0.resize.width, g0.resize.height, interpolation, opts);
    const g = geometry(p, original.width, original.height);
    return { image: cropRGB(image, g.crop.left, g.crop.top, g.crop.width, g.crop.height), original, geometry: g };
  }
  const img = typeof src.pixels === 'function' ? await src.pixels() : src.pixels;
  const g = geometry(p, img.width, img.height);
  const r = await resizeRGB(img, g.resize.width, g.resize.height, interpolation, opts);
  return { image: cropRGB(r, g.crop.left, g.crop.top, g.crop.width, g.crop.height), original: { width: img.width, height: img.height }, geometry: g };
}

/**
 * Transforms GT boxes from original pixels to the protocol's output frame with the release's formula (see module doc).
 * @param boxes [x0,y0,x1,y1] in original pixel coordinates.
 * @param size original width and height (as decoded).
 * @returns integer boxes inside [0, out−1].
 */
export function transformBoxes(boxes: readonly CornerBox[], size: { width: number; height: number }, p: Protocol): CornerBox[] {
  const g = geometry(p, size.width, size.height);
  const sx = g.resize.width / size.width;
  const sy = g.resize.height / size.height;
  const mx = g.crop.width - 1;
  const my = g.crop.height - 1;
  const clip = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  return boxes.map(([x0, y0, x1, y1]) => {
    const nx0 = clip(roundHalfEven(x0 * sx - g.boxShift.x), 0, mx);
    const ny0 = clip(roundHalfEven(y0 * sy - g.boxShift.y), 0, my);
    const nx1 = clip(roundHalfEven(x1 * sx - g.boxShift.x), nx0, mx);
    const ny1 = clip(roundHalfEven(y1 * sy - g.boxShift.y), ny0, my);
    return [nx0, ny0, nx1, ny1];
  });
}

// ---------------------------------------------------------------------------------------------------------------------
// Masks: OpenCV 4.6 resize semantics (hand-written: no npm package reproduces cv2.resize; the release resizes masks with
// it, and thresholds at 0.5, so the interpolation arithmetic decides border pixels).

/** cv2.resize(..., INTER_NEAREST) on a single-channel image: src index = min(floor(dx·(1/(dw/sw))), sw−1). */
export function cv2ResizeNearest<T extends Float32Array | Uint8Array>(src: T, sw: number, sh: number, dw: number, dh: number): T {
  const ifx = 1 / (dw / sw);
  const ify = 1 / (dh / sh);
  const xo = new Int32Array(dw);
  for (let x = 0; x < dw; x++) xo[x] = Math.min(Math.floor(x * ifx), sw - 1);
  const out = new (src.constructor as { new (n: number): T })(dw * dh);
  for (let y = 0; y < dh; y++) {
    const sy = Math.min(Math.floor(y * ify), sh - 1);
    for (let x = 0; x < dw; x++) out[y * dw + x] = src[sy * sw + xo[x]!]!;
  }
  return out;
}

/** Interpolation taps of cv2's INTER_LINEAR along one axis (float32 coefficients, border clamped). */
function linearTaps(sIn: number, dOut: number): { i0: Int32Array; i1: Int32Array; a0: Float32Array; a1: Float32Array } {
  const scale = 1 / (dOut / sIn);
  const i0 = new Int32Array(dOut);
  const i1 = new Int32Array(dOut);
  const a0 = new Float32Array(dOut);
  const a1 = new Float32Array(dOut);
  for (let d = 0; d < dOut; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) {
      s = 0;
      f = 0;
    }
    if (s >= sIn - 1) {
      s = sIn - 1;
      f = 0;
    }
    i0[d] = s;
    i1[d] = Math.min(s + 1, sIn - 1);
    a0[d] = Math.fround(1 - f);
    a1[d] = f;
  }
  return { i0, i1, a0, a1 };
}

/** cv2.resize(..., INTER_LINEAR) on a single-channel float32 image (horizontal then vertical, float32 arithmetic). */
export function cv2ResizeLinear(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const tx = linearTaps(sw, dw);
  const ty = linearTaps(sh, dh);
  const rows = new Map<number, Float32Array>();
  const hrow = (sy: number): Float32Array => {
    let r = rows.get(sy);
    if (!r) {
      r = new Float32Array(dw);
      const b = sy * sw;
      for (let x = 0; x < dw; x++) r[x] = Math.fround(Math.fround(src[b + tx.i0[x]!]! * tx.a0[x]!) + Math.fround(src[b + tx.i1[x]!]! * tx.a1[x]!));
      rows.set(sy, r);
    }
    return r;
  };
  const out = new Float32Array(dw * dh);
  for (let y = 0; y < dh; y++) {
    const r0 = hrow(ty.i0[y]!);
    const r1 = hrow(ty.i1[y]!);
    const b0 = ty.a0[y]!;
    const b1 = ty.a1[y]!;
    for (let x = 0; x < dw; x++) out[y * dw + x] = Math.fround(Math.fround(r0[x]! * b0) + Math.fround(r1[x]! * b1));
  }
  return out;
}

/** A single-channel 8-bit image. */
export interface GreyImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Reads a mask as cv2.imread(IMREAD_GRAYSCALE) does for PNG: grey values as stored; colour via OpenCV's fixed-point
 * BT.601 (R·4899 + G·9617 + B·1868 + 8192) >> 14.
 */
export async function readMaskGrey(file: string, opts?: DecodeOptions): Promise<GreyImage> {
  const img = await readImageRGB(file, file, opts);
  const n = img.width * img.height;
  const g = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    const r = img.data[p * 3]!;
    const gg = img.data[p * 3 + 1]!;
    const b = img.data[p * 3 + 2]!;
    g[p] = r === gg && gg === b ? r : (r * 4899 + gg * 9617 + b * 1868 + 8192) >> 14;
  }
  return { width: img.width, height: img.height, data: g };
}

/** Mask flavour: how the release resizes it. */
export type MaskKind = 'cub' | 'openimages';

/** GT mask in the protocol's output frame: 0 background, 1 foreground, 255 ignore. Row-major [height·width]. */
export interface PreparedMask {
  width: number;
  height: number;
  data: Uint8Array;
}

function cropGrey(src: ArrayLike<number>, sw: number, left: number, top: number, w: number, h: number, pred: (v: number) => boolean, out: Uint8Array, value: number, sh: number): void {
  for (let y = 0; y < h; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= sh) continue;
    for (let x = 0; x < w; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= sw) continue;
      if (pred(src[sy * sw + sx]!)) out[y * w + x] = value;
    }
  }
}

/**
 * Loads GT mask files and brings them to the protocol's output frame as the release does (see module doc).
 * `cub`: one soft mask, INTER_LINEAR on value/255, > 0.5. `openimages`: union of instance masks (INTER_NEAREST, > 0.5),
 * ignore = ignore-box mask minus foreground, marked 255.
 */
export async function prepareMask(files: readonly string[], ignoreFile: string | undefined, kind: MaskKind, p: Protocol, opts?: DecodeOptions): Promise<PreparedMask> {
  if (files.length === 0) throw new Error('prepareMask: no mask files');
  const first = await readMaskGrey(files[0]!, opts);
  const g = geometry(p, first.width, first.height);
  const { width: rw, height: rh } = g.resize;
  const { left, top, width: cw, height: ch } = g.crop;
  const out = new Uint8Array(cw * ch);
  const load = async (f: string, i: number): Promise<GreyImage> => (i === 0 ? first : readMaskGrey(f, opts));
  if (kind === 'cub') {
    for (let i = 0; i < files.length; i++) {
      const m = await load(files[i]!, i);
      const f = new Float32Array(m.data.length);
      for (let k = 0; k < f.length; k++) f[k] = Math.fround(m.data[k]! / 255);
      const r = cv2ResizeLinear(f, m.width, m.height, rw, rh);
      cropGrey(r, rw, left, top, cw, ch, (v) => v > 0.5, out, 1, rh);
    }
    return { width: cw, height: ch, data: out };
  }
  for (let i = 0; i < files.length; i++) {
    const m = await load(files[i]!, i);
    const r = cv2ResizeNearest(m.data, m.width, m.height, rw, rh);
    cropGrey(r, rw, left, top, cw, ch, (v) => v > 0.5, out, 1, rh);
  }
  if (ignoreFile) {
    const m = await readMaskGrey(ignoreFile, opts);
    const r = cv2ResizeNearest(m.data, m.width, m.height, rw, rh);
    const ign = new Uint8Array(cw * ch);
    cropGrey(r, rw, left, top, cw, ch, (v) => v > 0.5, ign, 1, rh);
    for (let k = 0; k < out.length; k++) if (ign[k] && !out[k]) out[k] = 255;
  }
  return { width: cw, height: ch, data: out };
}

/**
 * Maps a box in the input frame (cv2.boundingRect corners [x,y,x+w,y+h] of the S×S map) back to the original image:
 * continuous edges in original pixels, clipped to the image, rounded to 1/100 px — what boxes.json stores.
 */
export function boxToOriginal(b: CornerBox, p: Protocol, width: number, height: number): EdgeBox {
  const g = geometry(p, width, height);
  return cornerToImageEdges(b, { left: g.crop.left, top: g.crop.top, scaleX: width / g.resize.width, scaleY: height / g.resize.height, width, height });
}
