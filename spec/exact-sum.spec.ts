// Exact accumulation: equals a BigInt exact sum (correctly rounded) over millions of float32 values, whatever the
// order or split, while naive float32 accumulation drifts (the error is printed).
import { expect } from 'chai';
import { ExactSumVector } from '../src/rps/exact-sum.js';
import { mulberry32 } from '../src/util/random.js';

/** Exact sum of float32 values via BigInt (each value = m·2^e exactly, scaled by 2^150). */
function bigExact(values: Float32Array): number {
  let t = 0n;
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (const v of values) {
    f[0] = v;
    const bits = u[0]!;
    const e = (bits >>> 23) & 0xff;
    const m = e === 0 ? bits & 0x7fffff : (bits & 0x7fffff) | 0x800000;
    let x = BigInt(m) << BigInt(Math.max(e, 1) - 1);
    if (bits >>> 31) x = -x;
    t += x;
  }
  return Number(t) * 2 ** -149;
}

describe('ExactSumVector', () => {
  it('sums 4M float32 values of mixed magnitude exactly; naive float32 does not', function () {
    this.timeout(60000);
    const n = 4_000_000;
    const rnd = mulberry32(7);
    const vals = new Float32Array(n);
    for (let i = 0; i < n; i++) vals[i] = (rnd() * 100) * 2 ** Math.floor(rnd() * 12 - 6) * (rnd() < 0.1 ? -1 : 1);
    const acc = new ExactSumVector(1);
    const one = new Float32Array(1);
    let naive = Math.fround(0);
    for (let i = 0; i < n; i++) {
      one[0] = vals[i]!;
      acc.add(one);
      naive = Math.fround(naive + vals[i]!);
    }
    const exact = bigExact(vals);
    const got = acc.toFloat64()[0]!;
    expect(got).to.equal(exact);
    const relNaive = Math.abs(naive - exact) / Math.abs(exact);
    console.log(`      exact-sum over ${n} float32 values: exact ${exact}; ours error 0; naive float32 relative error ${relNaive.toExponential(2)}`);
    expect(relNaive).to.be.above(1e-6);
  });

  it('is order- and split-independent (merge of 7 parts equals one pass, bit for bit)', () => {
    const C = 33;
    const rnd = mulberry32(11);
    const rows = Array.from({ length: 500 }, () => Float32Array.from({ length: C }, () => (rnd() - 0.3) * 10 ** Math.floor(rnd() * 8 - 3)));
    const one = new ExactSumVector(C);
    rows.forEach((r) => one.add(r));
    const parts = Array.from({ length: 7 }, () => new ExactSumVector(C));
    [...rows].reverse().forEach((r, i) => parts[i % 7]!.add(r));
    const merged = new ExactSumVector(C);
    parts.forEach((p) => merged.merge(p));
    expect(Array.from(merged.toFloat64())).to.deep.equal(Array.from(one.toFloat64()));
    expect(Buffer.from(merged.snapshot().buffer).equals(Buffer.from(one.snapshot().buffer))).to.equal(true);
  });

  it('rejects non-finite values', () => {
    expect(() => new ExactSumVector(1).add(Float32Array.of(NaN))).to.throw(/non-finite/);
    expect(() => new ExactSumVector(1).add(Float32Array.of(Infinity))).to.throw(/non-finite/);
  });

  it('handles subnormals, huge values and cancellation', () => {
    const v = new ExactSumVector(1);
    v.add(Float32Array.of(3e38));
    v.add(Float32Array.of(1e-45));
    v.add(Float32Array.of(-3e38));
    expect(v.toFloat64()[0]).to.equal(Math.fround(1e-45));
  });
});
