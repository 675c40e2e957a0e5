// The addon's own SGEMM (native/src/gemm.c) at every instruction-set level this CPU runs (AVX-512, AVX2+FMA, portable
// C; levels the CPU lacks are reported and skipped), against a float64 triple loop written here. Shapes are chosen to
// hit every edge of the blocking: M, N, K of 1, 7, 63, 65 (around the 16/64-column panels and 4/6-row tiles), 197 (a
// ViT's tokens), 257 and 1000 (past the K block of 256 and the 120-row M block), both transposes, and leading
// dimensions larger than the rows (strided views). Tolerance: max|Δ| ≤ 1e-6 + 2e-7·K (spec/helpers/native.ts), for
// values in [-1, 1].
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { ISA_LEVELS, nativeAddon, nativeStatus, type IsaLevel } from '../src/engine/native.js';
import { settings } from '../src/util/settings.js';
import { tol } from './helpers/native.js';

/** xorshift32 values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

interface Case {
  m: number;
  n: number;
  k: number;
  ta: boolean;
  tb: boolean;
  pad: number; // extra elements per row of every operand (leading dimension = row + pad)
}

const CASES: Case[] = [];
for (const [m, n, k] of [
  [1, 1, 1], [1, 7, 63], [7, 1, 65], [63, 65, 7], [65, 63, 197], [197, 65, 63], [6, 64, 256], [13, 130, 257],
  [121, 17, 1], [197, 197, 64], [64, 197, 197], [1000, 7, 65], [7, 1000, 63], [241, 129, 300],
] as const) {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) CASES.push({ m, n, k, ta, tb, pad: (m + n + k) % 3 === 0 ? 5 : 0 });
}

function run(c: Case): { got: Float32Array; want: Float64Array; ldc: number } {
  const { m, n, k, ta, tb, pad } = c;
  const [ar, ac] = ta ? [k, m] : [m, k];
  const [br, bc] = tb ? [n, k] : [k, n];
  const lda = ac + pad;
  const ldb = bc + pad;
  const ldc = n + pad;
  const a = values(ar * lda, 1 + m * 31 + k);
  const b = values(br * ldb, 7 + n * 17 + k);
  const cbuf = new Float32Array(m * ldc).fill(Number.NaN); // every element of C must be written
  nativeAddon()!.gemm(ta ? 1 : 0, tb ? 1 : 0, m, n, k, a, lda, b, ldb, cbuf, ldc);
  const want = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * lda + i]! : a[i * lda + p]!) * (tb ? b[j * ldb + p]! : b[p * ldb + j]!);
      want[i * n + j] = s;
    }
  return { got: cbuf, want, ldc };
}

describe('native GEMM (own packed kernels) vs a float64 reference, at every ISA level', function () {
  before(function () {
    if (tf.getBackend() !== 'wasm' || !nativeStatus()?.enabled || !nativeAddon()) {
      console.log(`      (native kernels unavailable: ${nativeStatus()?.reason ?? `backend ${tf.getBackend()}`}; GEMM tests pending)`);
      this.skip();
    }
  });

  after(() => {
    // Back to the level the process was installed with.
    const isa = settings().isa ?? 'auto';
    nativeAddon()?.setIsa(isa === 'auto' ? -1 : (ISA_LEVELS.indexOf(isa) as 0 | 1 | 2));
  });

  for (const level of [...ISA_LEVELS].reverse() as IsaLevel[]) {
    describe(level, () => {
      before(function () {
        const got = nativeAddon()!.setIsa(ISA_LEVELS.indexOf(level) as 0 | 1 | 2);
        if (ISA_LEVELS[got] !== level) {
          console.log(`      (this CPU does not run ${level}; its GEMM tests are pending)`);
          this.skip();
        }
        expect(nativeAddon()!.info().isa).to.equal(level);
      });

      it(`${CASES.length} shapes (M,N,K ∈ 1…1000, both transposes, strided operands) within 1e-6 + 2e-7·K`, () => {
        for (const c of CASES) {
          const { got, want, ldc } = run(c);
          let worst = 0;
          for (let i = 0; i < c.m; i++)
            for (let j = 0; j < c.n; j++) {
              const d = Math.abs(got[i * ldc + j]! - want[i * c.n + j]!);
              worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
            }
          const what = `${c.m}×${c.n}×${c.k}${c.ta ? ' Aᵀ' : ''}${c.tb ? ' Bᵀ' : ''}${c.pad ? ` ld+${c.pad}` : ''}`;
          expect(worst, `${level} ${what}: max|Δ| ${worst.toExponential(2)}`).to.be.at.most(tol(c.k));
          // Padding columns of C (beyond n) are not the GEMM's to write.
          if (c.pad) expect(Number.isNaN(got[c.n]!), `${what}: wrote past n`).to.equal(c.m > 0);
        }
      });

      it('rejects leading dimensions smaller than a row and views too short for the shape', () => {
        const a = new Float32Array(12);
        expect(() => nativeAddon()!.gemm(0, 0, 3, 4, 4, a, 3, a, 4, new Float32Array(12), 4)).to.throw(/leading dimension/);
        expect(() => nativeAddon()!.gemm(0, 0, 4, 4, 4, a, 4, a, 4, new Float32Array(16), 4)).to.throw(/a is too short/);
      });
    });
  }
});
