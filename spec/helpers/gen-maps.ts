// Deterministic integer-only score-map generator, the twin of gen_map() in tools/ref_boxes.py: xorshift32 values,
// clamp-to-edge integer box blurs, an optional integer bump, quantisation, then value = float32(num / den) with
// num, den < 2^24 (the double quotient rounded to float32 equals numpy's float32 division). Committed fixtures hold
// only the parameters and a sha256 of each map, which proves the two generators agree.
import { xorshift32 } from '../../src/util/random.js';
import { createHash } from 'node:crypto';

/** Generator parameters (as committed in spec/fixtures/boxes/maps.json). */
export interface GenParams {
  seed: number;
  h: number;
  w: number;
  radius: number;
  passes: number;
  bx: number;
  by: number;
  br: number;
  ba: number;
  quant: number;
  scale: number;
}


function blur(v: Float64Array, h: number, w: number, r: number, horizontal: boolean): Float64Array {
  if (r === 0) return v;
  const out = new Float64Array(v.length);
  const k = 2 * r + 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let d = -r; d <= r; d++) {
        const xx = horizontal ? Math.min(w - 1, Math.max(0, x + d)) : x;
        const yy = horizontal ? y : Math.min(h - 1, Math.max(0, y + d));
        s += v[yy * w + xx]!;
      }
      out[y * w + x] = Math.floor(s / k);
    }
  }
  return out;
}

/** The float32 map for `p`, row-major [h, w]. */
export function genMap(p: GenParams): Float32Array {
  const { h, w } = p;
  const rng = xorshift32(p.seed);
  let v: Float64Array = new Float64Array(h * w);
  for (let i = 0; i < v.length; i++) v[i] = rng() >>> 17;
  for (let k = 0; k < p.passes; k++) {
    v = blur(v, h, w, p.radius, true);
    v = blur(v, h, w, p.radius, false);
  }
  if (p.ba > 0 && p.br > 0) {
    const r2 = p.br * p.br;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const d2 = (x - p.bx) ** 2 + (y - p.by) ** 2;
        if (d2 < r2) v[y * w + x] += Math.floor((p.ba * (r2 - d2)) / r2);
      }
    }
  }
  if (p.quant > 1) for (let i = 0; i < v.length; i++) v[i] = Math.floor(v[i]! / p.quant) * p.quant;
  let mn = Infinity;
  let mx = -Infinity;
  for (const a of v) {
    mn = Math.min(mn, a);
    mx = Math.max(mx, a);
  }
  const out = new Float32Array(h * w);
  if (mx === mn) return out;
  const den = (mx - mn) * 255;
  for (let i = 0; i < v.length; i++) out[i] = Math.fround(((v[i]! - mn) * p.scale) / den);
  return out;
}

/** sha256 (first 24 hex digits) of a float32 map's bytes, as map_hash() in tools/ref_boxes.py. */
export function mapHash(m: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(m.buffer, m.byteOffset, m.byteLength)).digest('hex').slice(0, 24);
}

/** sha256 over a stream of int32 little-endian values (Stream in tools/ref_boxes.py). */
export class IntStream {
  private h = createHash('sha256');
  private buf = new Int32Array(4096);
  private n = 0;
  add(...vals: number[]): void {
    for (const v of vals) this.push(v);
  }
  addAll(vals: ArrayLike<number>): void {
    for (let i = 0; i < vals.length; i++) this.push(vals[i]!);
  }
  private push(v: number): void {
    if (this.n === this.buf.length) this.flush();
    this.buf[this.n++] = v;
  }
  private flush(): void {
    this.h.update(new Uint8Array(this.buf.buffer, 0, this.n * 4));
    this.n = 0;
  }
  hex(): string {
    this.flush();
    return this.h.digest('hex').slice(0, 24);
  }
}
