/**
 * Exact, order-independent summation of float32 values.
 *
 * Statistics of a fit are sums over up to ~10⁸ points (ImageNet) that must (a) be accurate and (b) give the same
 * bytes whether the data were summed in one pass, resumed after a kill, or summed in shards and merged. Plain float32
 * (or float64) accumulation fails (b) because rounding depends on order. Here every float32 addend is added exactly
 * into one of 32 float64 "bins" chosen by its binary exponent: values whose exponent field lies in [8k, 8k+8) are
 * integer multiples of 2^(8k−150) below 2^31 such units, so a float64 bin holds their sum exactly for 2^22 additions;
 * a carry pass every 2^20 additions moves the high part of each bin into the next one (exactly: all quantities are
 * multiples of the bin units). The represented value Σ bins is therefore the exact real sum, independent of order;
 * {@link ExactSumVector.toFloat64} rounds it once (correctly, via BigInt) to float64.
 *
 * No npm package does this (accumulators such as Kahan/Neumaier are order-dependent), hence this small module.
 */

const NB = 32; // bins: exponent field 0..255 in steps of 8
const CARRY_EVERY = 1 << 20;
const UNIT_EXP = (k: number): number => 8 * k - 150; // bin k holds multiples of 2^UNIT_EXP(k)
const POW2 = (e: number): number => 2 ** e;
const NEXT_UNIT = Array.from({ length: NB }, (_, k) => POW2(UNIT_EXP(k + 1)));

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A vector of exact sums of float32 values, one per channel. */
export class ExactSumVector {
  /** Number of channels. */
  readonly length: number;
  /** Bins, layout [channel][bin]. */
  private readonly bins: Float64Array;
  private pending = 0;

  constructor(length: number, bins?: Float64Array) {
    this.length = length;
    if (bins && bins.length !== length * NB) throw new Error(`ExactSumVector: bins length ${bins.length} != ${length * NB}`);
    this.bins = bins ?? new Float64Array(length * NB);
  }

  /** Adds `values` (interpreted as float32; length = this.length) element-wise. Non-finite values throw. */
  add(values: Float32Array, offset = 0): void {
    const n = this.length;
    const bins = this.bins;
    const bits = new Uint32Array(values.buffer, values.byteOffset + offset * 4, n);
    for (let c = 0; c < n; c++) {
      const e = (bits[c]! >>> 23) & 0xff;
      if (e === 0xff) throw new RangeError(`non-finite value ${values[offset + c]} at channel ${c}`);
      bins[c * NB + (e >>> 3)]! += values[offset + c]!;
    }
    if (++this.pending >= CARRY_EVERY) this.carry();
  }

  /** Adds one float32 value to channel `c` (the value is first rounded to float32). */
  addScalar(c: number, value: number): void {
    f32[0] = value;
    const e = (u32[0]! >>> 23) & 0xff;
    if (e === 0xff) throw new RangeError(`non-finite value ${value} at channel ${c}`);
    this.bins[c * NB + (e >>> 3)]! += f32[0]!;
    if (++this.pending >= CARRY_EVERY) this.carry();
  }

  /** Moves the high part of each bin into the next one so every bin but the last holds < 2^8 of its units. Exact. */
  carry(): void {
    const bins = this.bins;
    for (let c = 0; c < this.length; c++) {
      const base = c * NB;
      for (let k = 0; k < NB - 1; k++) {
        const v = bins[base + k]!;
        if (v === 0) continue;
        const unit = NEXT_UNIT[k]!;
        const q = Math.trunc(v / unit) * unit;
        if (q !== 0) {
          bins[base + k] = v - q;
          bins[base + k + 1]! += q;
        }
      }
    }
    this.pending = 0;
  }

  /** Adds another vector's exact sums into this one (exact). */
  merge(other: ExactSumVector): void {
    if (other.length !== this.length) throw new Error(`cannot merge sums of ${other.length} channels into ${this.length}`);
    this.carry();
    other.carry();
    for (let i = 0; i < this.bins.length; i++) this.bins[i]! += other.bins[i]!;
    this.carry();
  }

  /** The exact sum of channel `c` as a BigInt in units of 2^-150. */
  private exactUnits(c: number): bigint {
    let total = 0n;
    for (let k = 0; k < NB; k++) {
      const v = this.bins[c * NB + k]!;
      // v / 2^UNIT_EXP(k) is an integer of magnitude < 2^53: exact in float64 and in BigInt.
      if (v !== 0) total += BigInt(v / POW2(UNIT_EXP(k))) << BigInt(8 * k);
    }
    return total;
  }

  /** The exact sums, each correctly rounded once to float64. */
  toFloat64(): Float64Array {
    const out = new Float64Array(this.length);
    for (let c = 0; c < this.length; c++) {
      const t = this.exactUnits(c);
      out[c] = t === 0n ? 0 : Number(t) * POW2(-150);
    }
    return out;
  }

  /**
   * A canonical copy of the bins (layout [channel][32 bins]): equal sums give equal bytes whatever the order of
   * additions. Bin k holds sign · (bits 8k..8k+7 of |sum| in 2^-150 units) · 2^(8k−150); the last bin the rest.
   */
  snapshot(): Float64Array {
    const out = new Float64Array(this.bins.length);
    for (let c = 0; c < this.length; c++) {
      const t = this.exactUnits(c);
      if (t === 0n) continue;
      const sign = t < 0n ? -1 : 1;
      let mag = t < 0n ? -t : t;
      for (let k = 0; k < NB && mag > 0n; k++) {
        const digit = k === NB - 1 ? mag : mag & 0xffn;
        out[c * NB + k] = sign * Number(digit) * POW2(UNIT_EXP(k));
        mag >>= 8n;
      }
    }
    return out;
  }

  /** Number of bins per channel in {@link snapshot}. */
  static readonly BINS = NB;

  /** A deep copy. */
  clone(): ExactSumVector {
    return new ExactSumVector(this.length, this.snapshot());
  }
}
