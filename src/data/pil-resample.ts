/**
 * PIL-exact resampling of 8-bit RGB images (Pillow's `Image.resize` with NEAREST, BILINEAR, BICUBIC, as torchvision's
 * `Resize` calls it on PIL images).
 *
 * Hand-written because no npm package reproduces Pillow's antialiased resampler: jimp's BILINEAR/BICUBIC modes are not
 * antialiased (4–5.5 grey levels off PIL when downscaling, research/ecosystem.md) and sharp (libvips) is close (~0.2
 * levels) but not identical. This module follows Pillow 9.4's Resample.c / Geometry.c arithmetic: separable
 * convolution, support scaled by the downscale factor, coefficients normalised per output pixel then rounded to 22-bit
 * fixed point, accumulation from ½ (round half up), floor shift and clamp; NEAREST maps output pixel centres through
 * an accumulated affine step exactly as ImagingScaleAffine does. It is the resizer of the jimp codec (pure JS) and an
 * opt-in exact resizer for the sharp codec. Runs on the calling thread.
 */
import type { Interpolation } from './input-contract.js';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Filter {
  support: number;
  f(x: number): number;
}

const FILTERS: Record<Exclude<Interpolation, 'nearest'>, Filter> = {
  bilinear: {
    support: 1,
    f(x) {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  bicubic: {
    support: 2,
    f(x) {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
};

/** Fixed-point coefficients for one axis: for output i, taps start at bounds[2i] and count bounds[2i+1]. */
interface Coeffs {
  ksize: number;
  bounds: Int32Array;
  kk: Float64Array;
}

function precomputeCoeffs(inSize: number, outSize: number, filter: Filter): Coeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Float64Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.f((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x]! / ww : k[x]!;
      // normalize_coeffs_8bpc: round half away from zero into 22-bit fixed point.
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss: number): number {
  const v = Math.floor(ss / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function resampleHorizontal(src: Uint8Array, sw: number, h: number, dw: number, c: Coeffs): Uint8Array {
  const out = new Uint8Array(dw * h * 3);
  const { ksize, bounds, kk } = c;
  for (let y = 0; y < h; y++) {
    const row = y * sw * 3;
    const orow = y * dw * 3;
    for (let xx = 0; xx < dw; xx++) {
      const xmin = bounds[xx * 2]!;
      const xmax = bounds[xx * 2 + 1]!;
      const kb = xx * ksize;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      for (let x = 0; x < xmax; x++) {
        const w = kk[kb + x]!;
        const p = row + (x + xmin) * 3;
        s0 += src[p]! * w;
        s1 += src[p + 1]! * w;
        s2 += src[p + 2]! * w;
      }
      const o = orow + xx * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}

function resampleVertical(src: Uint8Array, w: number, dh: number, c: Coeffs): Uint8Array {
  const out = new Uint8Array(w * dh * 3);
  const { ksize, bounds, kk } = c;
  const stride = w * 3;
  for (let yy = 0; yy < dh; yy++) {
    const ymin = bounds[yy * 2]!;
    const ymax = bounds[yy * 2 + 1]!;
    const kb = yy * ksize;
    const orow = yy * stride;
    for (let i = 0; i < stride; i++) {
      let s = HALF;
      for (let y = 0; y < ymax; y++) s += src[(y + ymin) * stride + i]! * kk[kb + y]!;
      out[orow + i] = clip8(s);
    }
  }
  return out;
}

/** Pillow's NEAREST (ImagingScaleAffine): source index = (int)(a·½ + Σ a) with the step accumulated in double. */
function nearestTable(inSize: number, outSize: number): Int32Array {
  const a = inSize / outSize;
  const t = new Int32Array(outSize);
  let xo = a * 0.5;
  for (let x = 0; x < outSize; x++) {
    const xin = xo < 0 ? -1 : Math.trunc(xo);
    t[x] = Math.min(Math.max(xin, 0), inSize - 1);
    xo += a;
  }
  return t;
}

function resizeNearest(src: Uint8Array, sw: number, sh: number, dw: number, dh: number): Uint8Array {
  const xt = nearestTable(sw, dw);
  const yt = nearestTable(sh, dh);
  const out = new Uint8Array(dw * dh * 3);
  for (let y = 0; y < dh; y++) {
    const row = yt[y]! * sw * 3;
    for (let x = 0; x < dw; x++) {
      const p = row + xt[x]! * 3;
      const o = (y * dw + x) * 3;
      out[o] = src[p]!;
      out[o + 1] = src[p + 1]!;
      out[o + 2] = src[p + 2]!;
    }
  }
  return out;
}

/**
 * Resizes packed RGB (row-major HWC uint8, length sw·sh·3) to dw×dh exactly as Pillow 9.4 `Image.resize((dw, dh),
 * filter)` does for an RGB image (horizontal pass first, then vertical; a pass is skipped when its size is unchanged).
 * @returns a new buffer of length dw·dh·3.
 */
export function pilResize(src: Uint8Array, sw: number, sh: number, dw: number, dh: number, interpolation: Interpolation): Uint8Array {
  if (src.length !== sw * sh * 3) throw new Error(`pilResize: buffer length ${src.length} is not ${sw}×${sh}×3`);
  if (!(dw > 0 && dh > 0 && Number.isInteger(dw) && Number.isInteger(dh))) throw new Error(`pilResize: bad output size ${dw}×${dh}`);
  if (sw === dw && sh === dh) return src.slice();
  if (interpolation === 'nearest') return resizeNearest(src, sw, sh, dw, dh);
  const filter = FILTERS[interpolation];
  let cur = src;
  if (dw !== sw) cur = resampleHorizontal(cur, sw, sh, dw, precomputeCoeffs(sw, dw, filter));
  if (dh !== sh) cur = resampleVertical(cur, dw, dh, precomputeCoeffs(sh, dh, filter));
  return cur;
}
