/**
 * Image I/O behind one small interface.
 *
 * Codecs: **sharp** (default; libvips + libjpeg-turbo/mozjpeg, decode bit-identical to PIL 9.4 on JPEG/PNG/GIF/WebP/TIFF,
 * runs in libuv worker threads) and **jimp** (pure JS fallback: used when sharp cannot load, when asked for
 * (`setImageCodec('jimp')`, `UOL_IMAGE_CODEC=jimp`, `{codec:'jimp'}`), and per file for formats sharp's prebuilt libvips
 * lacks, such as BMP).
 *
 * Every decode follows PIL's `Image.open(f).convert('RGB')`, which is what torchvision / the authors' release feed the
 * network:
 * - EXIF orientation is **ignored** (pixels as stored; dataset boxes and image_sizes.txt are in that frame). Pass
 *   `exifRotate: true` to apply it instead (for photos outside a benchmark).
 * - Embedded ICC profiles are ignored (PIL does not colour-manage).
 * - Alpha is dropped, not composited (RGBA, LA, palette with transparency); grey and 1-bit are replicated to RGB;
 *   palette images map through the palette.
 * - CMYK JPEG (Adobe-inverted or not) → PIL's naive `cmyk2rgb`: R = 255−K − C·(255−K)/255 in PIL's integer arithmetic.
 * - 16-bit grey PNG (PIL mode "I") → values **clipped** to 255, as PIL's `i2rgb` does; 16-bit RGB keeps the high byte.
 * - Decompression bombs: width·height above `maxPixels` (default {@link DEFAULT_MAX_PIXELS}, PIL's
 *   DecompressionBombError threshold) is refused from the header, before any pixel is decoded.
 *
 * Resizing: sharp's `linear`/`cubic` kernels (antialiased; within ~0.2 grey levels MAD of PIL's BILINEAR/BICUBIC) or the
 * exact PIL resampler in pil-resample.ts (`resizer: 'pil'`; always used by the jimp codec and for NEAREST).
 */
import { readFileBoundedAsync } from '../util/safe-read.js';
import * as tf from '@tensorflow/tfjs-core';
import type * as SharpNS from 'sharp';
import { UsageError } from '../util/errors.js';
import type { InputContract, Interpolation } from './input-contract.js';
import { pilResize } from './pil-resample.js';
import { withoutOrientation } from './exif.js';

/** An 8-bit RGB image, row-major HWC. */
export interface RGBImage {
  width: number;
  height: number;
  /** length = width·height·3, values 0..255. */
  data: Uint8Array;
}

/** Image codec name. */
export type Codec = 'sharp' | 'jimp';

/** Which resampler resizes: the codec's own (sharp: libvips; jimp: the PIL-exact one) or the PIL-exact JS one. */
export type Resizer = 'codec' | 'pil';

// PIL's `Image.MAX_IMAGE_PIXELS` × 2 (data/limits.ts, light for the CLI).
import { DEFAULT_MAX_PIXELS } from './limits.js';
import { settings } from '../util/settings.js';
export { DEFAULT_MAX_PIXELS };

/** Options for decoding. */
export interface DecodeOptions {
  /** Codec; default: {@link getImageCodec}. */
  codec?: Codec;
  /** Refuse images with more pixels than this (header check before decoding). Default {@link DEFAULT_MAX_PIXELS}. */
  maxPixels?: number;
  /** Apply EXIF orientation (default false: PIL semantics, pixels as stored). */
  exifRotate?: boolean;
}

/** Options for resizing. */
export interface ResizeOptions {
  /** Codec whose resizer to use when `resizer` is 'codec'. Default {@link getImageCodec}. */
  codec?: Codec;
  /** Default 'codec'. */
  resizer?: Resizer;
}

type SharpFn = typeof SharpNS.default;
type JimpMod = typeof import('jimp');

let sharpLoad: Promise<SharpFn | Error> | undefined;
let jimpLoad: Promise<JimpMod | Error> | undefined;
let chosenCodec: Codec | undefined;

function loadSharp(): Promise<SharpFn | Error> {
  sharpLoad ??= import('sharp').then(
    (m) => (m as unknown as { default: SharpFn }).default,
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  return sharpLoad;
}

function loadJimp(): Promise<JimpMod | Error> {
  jimpLoad ??= import('jimp').then(
    (m) => m,
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  return jimpLoad;
}

async function sharpOrThrow(): Promise<SharpFn> {
  const s = await loadSharp();
  if (s instanceof Error) throw new UsageError(`image codec sharp cannot load (${s.message}); use \`codec\` jimp`, { options: ['codec'] });
  return s;
}

async function jimpOrThrow(): Promise<JimpMod> {
  const j = await loadJimp();
  if (j instanceof Error) throw new UsageError(`image codec jimp cannot load (${j.message})`);
  return j;
}

/**
 * Sets the process-wide default codec (undefined: automatic — `UOL_IMAGE_CODEC` if set, else sharp when it loads, else
 * jimp).
 */
export function setImageCodec(codec: Codec | undefined): void {
  chosenCodec = codec;
}

/** The codec used when a call does not name one. */
export async function getImageCodec(): Promise<Codec> {
  if (chosenCodec) return chosenCodec;
  const env = settings().imageCodec;
  if (env === 'sharp' || env === 'jimp') return env;
  if (env) throw new UsageError(`UOL_IMAGE_CODEC=${env}: expected sharp or jimp`);
  return (await loadSharp()) instanceof Error ? 'jimp' : 'sharp';
}

/** Codec availability, for `uol info`. */
export interface CodecInfo {
  default: Codec;
  sharp: { available: boolean; version?: string; libvips?: string; error?: string };
  jimp: { available: boolean; error?: string };
}

/** Reports which codecs load and which one is the default. */
export async function imageCodecInfo(): Promise<CodecInfo> {
  const s = await loadSharp();
  const j = await loadJimp();
  const sharp: CodecInfo['sharp'] = s instanceof Error ? { available: false, error: s.message } : { available: true, version: s.versions.sharp, libvips: s.versions.vips };
  const jimp: CodecInfo['jimp'] = j instanceof Error ? { available: false, error: j.message } : { available: true };
  return { default: await getImageCodec(), sharp, jimp };
}

function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function checkPixels(name: string, width: number | undefined, height: number | undefined, maxPixels: number): void {
  if (!width || !height) throw new UsageError(`${name}: cannot decode image: no image size in the header`);
  if (width * height > maxPixels) {
    throw new UsageError(
      `${name}: image is ${width}×${height} = ${width * height} pixels, above the limit of ${maxPixels} (decompression-bomb guard; raise it with \`maxPixels\`)`,
      { options: ['maxPixels'] },
    );
  }
}

/** PIL 9.4 Convert.c `cmyk2rgb` on interleaved CMYK bytes (MULDIV255 rounding, clip). */
export function cmykToRgb(cmyk: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const nk = 255 - cmyk[p * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const t = cmyk[p * 4 + c]! * nk + 128;
      const v = nk - (((t >> 8) + t) >> 8);
      out[p * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

function greyToRgb(grey: ArrayLike<number>, pixels: number, clip: boolean): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    let v = grey[p]!;
    if (clip && v > 255) v = 255;
    out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = v;
  }
  return out;
}

/** sharp's constructor options shared by every read: PIL-like (no ICC), bomb limit, fail on corrupt data. */
function sharpInput(s: SharpFn, bytes: Uint8Array, maxPixels: number): SharpNS.Sharp {
  return s(bytes, { failOn: 'error', limitInputPixels: Math.max(1, Math.floor(maxPixels)), ignoreIcc: true });
}

/**
 * True when sharp's resize is not PIL-like enough and the PIL-exact resampler must run: any enlargement (libvips
 * upsamples with another geometry: 3 grey levels mean abs at 451×300→480×480) or a reduction by more than
 * {@link SHARP_MAX_REDUCTION} on an axis (libvips then box-shrinks first: 0.6–0.9 levels mean abs at 4–8×, against
 * ≤ 0.3 up to 3.5×; measured on sklearn china.jpg, linear and cubic).
 */
function needsExact(from: { width: number; height: number }, to: { width: number; height: number }): boolean {
  return to.width > from.width || to.height > from.height || from.width > to.width * SHARP_MAX_REDUCTION || from.height > to.height * SHARP_MAX_REDUCTION;
}

/** Largest per-axis reduction factor resized by sharp (beyond it the PIL-exact resampler runs). */
export const SHARP_MAX_REDUCTION = 3;

/** True when a decode+resize can run as one sharp pipeline (8-bit sRGB or grey, no alpha): the JPEG-photo case. */
function isPlain(m: SharpNS.Metadata): boolean {
  return (m.space === 'srgb' || m.space === 'b-w') && m.depth === 'uchar' && !m.hasAlpha;
}

function sharpErrorMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  if (/exceeds pixel limit/i.test(m)) return `${m} (decompression-bomb guard; raise it with \`maxPixels\`)`;
  return m.replace(/\s+/g, ' ').trim();
}

async function sharpDecode(s: SharpFn, bytes: Uint8Array, name: string, o: Required<DecodeOptions>, meta: SharpNS.Metadata): Promise<RGBImage> {
  if (meta.space === 'cmyk') {
    const { data, info } = await sharpInput(s, bytes, o.maxPixels).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`CMYK decoded to ${info.channels} channels`);
    const img: RGBImage = { width: info.width, height: info.height, data: cmykToRgb(u8(data), info.width * info.height) };
    return o.exifRotate ? orientRGB(img, meta.orientation ?? 1) : img;
  }
  if (meta.space === 'grey16' && meta.channels === 1) {
    const { data, info } = await sharpInput(s, bytes, o.maxPixels).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    const g = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    const img: RGBImage = { width: info.width, height: info.height, data: greyToRgb(g, info.width * info.height, true) };
    return o.exifRotate ? orientRGB(img, meta.orientation ?? 1) : img;
  }
  const p = sharpInput(s, bytes, o.maxPixels);
  if (o.exifRotate) p.autoOrient();
  const { data, info } = await p.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
  void name;
  return { width: info.width, height: info.height, data: u8(data) };
}

/** Applies an EXIF orientation (1–8) to an RGB image (used where the codec does not). */
function orientRGB(img: RGBImage, orientation: number): RGBImage {
  if (orientation <= 1 || orientation > 8) return img;
  const { width: w, height: h, data } = img;
  const swap = orientation >= 5;
  const W = swap ? h : w;
  const H = swap ? w : h;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2: sx = w - 1 - x; sy = y; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sx = x; sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        default: sx = w - 1 - y; sy = x; break;
      }
      const si = (sy * w + sx) * 3;
      const di = (y * W + x) * 3;
      out[di] = data[si]!;
      out[di + 1] = data[si + 1]!;
      out[di + 2] = data[si + 2]!;
    }
  }
  return { width: W, height: H, data: out };
}

async function headerSize(bytes: Uint8Array): Promise<{ width: number; height: number } | undefined> {
  const { imageSize } = await import('image-size');
  try {
    const r = imageSize(bytes);
    return r.width && r.height ? { width: r.width, height: r.height } : undefined;
  } catch {
    return undefined;
  }
}

async function jimpDecode(bytes: Uint8Array, name: string, o: Required<DecodeOptions>): Promise<RGBImage> {
  const size = await headerSize(bytes);
  if (!size) throw new UsageError(`${name}: cannot decode image: not a recognised image format`);
  checkPixels(name, size.width, size.height, o.maxPixels);
  const { Jimp } = await jimpOrThrow();
  const input = o.exifRotate ? bytes : withoutOrientation(bytes);
  const img = await Jimp.fromBuffer(Buffer.from(input.buffer, input.byteOffset, input.byteLength) as Buffer);
  const { width, height, data } = img.bitmap;
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    rgb[p * 3] = data[p * 4]!;
    rgb[p * 3 + 1] = data[p * 4 + 1]!;
    rgb[p * 3 + 2] = data[p * 4 + 2]!;
  }
  return { width, height, data: rgb };
}

async function resolveDecode(opts: DecodeOptions | undefined): Promise<Required<DecodeOptions>> {
  return {
    codec: opts?.codec ?? (await getImageCodec()),
    maxPixels: opts?.maxPixels ?? DEFAULT_MAX_PIXELS,
    exifRotate: opts?.exifRotate ?? false,
  };
}

async function readBytes(file: string | Uint8Array, name: string): Promise<Uint8Array> {
  if (typeof file !== 'string') return file;
  try {
    return u8(await readFileBoundedAsync(file, 'imageBytes', 'image'));
  } catch (e) {
    throw new UsageError(`${name}${(e as Error).message.slice(file.length)}`, { cause: e, options: e instanceof UsageError ? e.options : [] });
  }
}

function asUsage(name: string, e: unknown): UsageError {
  if (e instanceof UsageError && e.message.startsWith(name)) return e;
  const message = sharpErrorMessage(e);
  return new UsageError(`${name}: cannot decode image: ${message}`, { cause: e, options: /`maxPixels`\)$/.test(message) ? ['maxPixels'] : [] });
}

/** What a decode produced and how: the RGB image plus the stored size and codec actually used. */
interface Decoded {
  image: RGBImage;
  codec: Codec;
}

/**
 * Decode with optional fused resize (sharp, plain images only). Returns the image (resized when `resize` was applied
 * here) and whether the resize was done.
 */
async function decodeInternal(
  bytes: Uint8Array,
  name: string,
  o: Required<DecodeOptions>,
  fused?: { width: number; height: number; interpolation: Interpolation },
): Promise<Decoded & { original: { width: number; height: number }; resized: boolean }> {
  if (bytes.length === 0) throw new UsageError(`${name}: cannot decode image: empty file (0 bytes)`);
  if (o.codec === 'sharp') {
    const s = await sharpOrThrow();
    let meta: SharpNS.Metadata;
    try {
      // Header only, no pixel limit here: checkPixels() below gives the clear message.
      meta = await s(bytes, { limitInputPixels: false, ignoreIcc: true }).metadata();
    } catch (e) {
      // Formats sharp's libvips lacks (BMP, …): fall back to jimp for this file when jimp knows the format.
      if (/unsupported image format/i.test(String((e as Error).message)) && (await headerSize(bytes))) {
        try {
          const image = await jimpDecode(bytes, name, o);
          return { image, codec: 'jimp', original: { width: image.width, height: image.height }, resized: false };
        } catch (e2) {
          throw asUsage(name, e2);
        }
      }
      throw asUsage(name, e);
    }
    checkPixels(name, meta.width, meta.height, o.maxPixels);
    const rotated = o.exifRotate && (meta.orientation ?? 1) >= 5;
    const original = rotated ? { width: meta.height!, height: meta.width! } : { width: meta.width!, height: meta.height! };
    try {
      if (fused && fused.interpolation !== 'nearest' && isPlain(meta) && !needsExact(original, fused)) {
        const p = sharpInput(s, bytes, o.maxPixels);
        if (o.exifRotate) p.autoOrient();
        const { data, info } = await p
          .resize(fused.width, fused.height, { fit: 'fill', kernel: fused.interpolation === 'bicubic' ? 'cubic' : 'linear', fastShrinkOnLoad: false })
          .toColourspace('srgb')
          .raw()
          .toBuffer({ resolveWithObject: true });
        if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
        return { image: { width: info.width, height: info.height, data: u8(data) }, codec: 'sharp', original, resized: true };
      }
      const image = await sharpDecode(s, bytes, name, o, meta);
      return { image, codec: 'sharp', original, resized: false };
    } catch (e) {
      throw asUsage(name, e);
    }
  }
  try {
    const image = await jimpDecode(bytes, name, o);
    return { image, codec: 'jimp', original: { width: image.width, height: image.height }, resized: false };
  } catch (e) {
    throw asUsage(name, e);
  }
}

/**
 * Decodes an image file (or bytes) to 8-bit RGB with PIL `convert('RGB')` semantics (see the module comment).
 * @param name label used in error messages (default: the path).
 * @throws UsageError naming the file when it is missing, empty, not an image, corrupt or over the pixel limit.
 */
export async function readImageRGB(file: string | Uint8Array, name = typeof file === 'string' ? file : '<buffer>', opts?: DecodeOptions): Promise<RGBImage> {
  const o = await resolveDecode(opts);
  const bytes = await readBytes(file, name);
  return (await decodeInternal(bytes, name, o)).image;
}

/** Reads only the stored width and height from the header (no pixel decode). Undefined when not recognised. */
export async function readImageSize(file: string | Uint8Array): Promise<{ width: number; height: number } | undefined> {
  const bytes = typeof file === 'string' ? u8(await readFileBoundedAsync(file, 'imageBytes', 'image')) : file;
  return headerSize(bytes);
}

/**
 * Decodes and resizes to exactly width×height in one step where possible (sharp, 8-bit RGB/grey without alpha: a single
 * libvips pipeline; otherwise decode, then {@link resizeRGB}). Same result as `resizeRGB(await readImageRGB(f), …)`.
 * @returns the resized image and the decoded (stored) size of the original.
 */
export async function readImageResized(
  file: string | Uint8Array,
  width: number,
  height: number,
  interpolation: Interpolation,
  opts?: DecodeOptions & ResizeOptions & { name?: string },
): Promise<{ image: RGBImage; original: { width: number; height: number } }> {
  const name = opts?.name ?? (typeof file === 'string' ? file : '<buffer>');
  const o = await resolveDecode(opts);
  const bytes = await readBytes(file, name);
  const useCodec = (opts?.resizer ?? 'codec') === 'codec';
  const d = await decodeInternal(bytes, name, o, useCodec && o.codec === 'sharp' ? { width, height, interpolation } : undefined);
  if (d.resized) return { image: d.image, original: d.original };
  const image = await resizeRGB(d.image, width, height, interpolation, { codec: d.codec, resizer: opts?.resizer ?? 'codec' });
  return { image, original: d.original };
}

/**
 * Resizes to exactly width×height (no crop). Downscaling is antialiased like PIL: sharp's linear/cubic kernels by
 * default (≈0.2 grey levels MAD from PIL), or PIL's exact arithmetic with `resizer: 'pil'` (and always with the jimp
 * codec and for 'nearest').
 */
export async function resizeRGB(img: RGBImage, width: number, height: number, interpolation: Interpolation = 'bilinear', opts?: ResizeOptions): Promise<RGBImage> {
  if (img.width === width && img.height === height) return img;
  const codec = opts?.codec ?? (await getImageCodec());
  if (interpolation === 'nearest' || opts?.resizer === 'pil' || codec === 'jimp' || needsExact(img, { width, height })) {
    return { width, height, data: pilResize(img.data, img.width, img.height, width, height, interpolation) };
  }
  const s = await sharpOrThrow();
  const kernel = interpolation === 'bicubic' ? 'cubic' : 'linear';
  const { data, info } = await s(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel, fastShrinkOnLoad: false })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: u8(data) };
}

/**
 * Converts an RGB image to a normalised input tensor per the backbone's contract: (x/255 − mean)/std in float32, the
 * same operations and order as torchvision's ToTensor + Normalize.
 * @returns [1,H,W,3] float32.
 */
export function toInputTensor(img: RGBImage, contract: InputContract): tf.Tensor4D {
  return toInputBatch([img], contract);
}

/**
 * Per-channel lookup tables value → (value/255 − mean)/std, each step rounded to float32 as torch computes it
 * (float32 ToTensor division, then Normalize's float32 sub and div). Exact, and a table lookup per pixel keeps the main
 * thread free for the model while the next images decode.
 */
function normalisationTables(contract: InputContract): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const m = Math.fround(contract.mean[c]!);
    const sd = Math.fround(contract.std[c]!);
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / sd);
    return t;
  });
}

/**
 * Stacks same-size RGB images into one normalised batch (see {@link toInputTensor}).
 * @returns [B,H,W,3] float32.
 * @throws Error when the images differ in size or the list is empty.
 */
export function toInputBatch(imgs: readonly RGBImage[], contract: InputContract): tf.Tensor4D {
  if (imgs.length === 0) throw new Error('toInputBatch: no images');
  const { width, height } = imgs[0]!;
  const per = width * height * 3;
  const all = new Float32Array(per * imgs.length);
  const [t0, t1, t2] = normalisationTables(contract) as [Float32Array, Float32Array, Float32Array];
  imgs.forEach((im, i) => {
    if (im.width !== width || im.height !== height) throw new Error(`toInputBatch: image ${i} is ${im.width}×${im.height}, expected ${width}×${height}`);
    const d = im.data;
    const o = i * per;
    for (let k = 0; k < per; k += 3) {
      all[o + k] = t0[d[k]!]!;
      all[o + k + 1] = t1[d[k + 1]!]!;
      all[o + k + 2] = t2[d[k + 2]!]!;
    }
  });
  return tf.tensor4d(all, [imgs.length, height, width, 3], 'float32');
}
