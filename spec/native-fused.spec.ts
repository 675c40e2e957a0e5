// Phase-2 native kernels (src/engine/fused.ts, src/engine/native.ts, native/src/compute.c, conv_*.c, pool.c): the
// fused transformer kernels (UolFusedLinear with bias/relu/GELU/scale/residual, UolLayerNorm, UolAttention), the direct
// and Winograd F(2×2,3×3) / F(4×4,3×3) convolutions at the ISA level in effect (UOL_ISA; packed filters, in-kernel and
// separate epilogues, residual), UolFusedConv2D, UolBottleneck, FusedBatchNorm, MaxPool and the thread pool.
//
// References: each native result is compared with the same op computed by the plain-wasm TF.js composition
// (withoutNativeKernels: fused.ts's fallbacks, tf.conv2d, tf.batchNorm) on the same inputs, and GELU additionally with a
// float64 erf written here. Tolerances: sums of K products of values in [-1, 1] differ by summation order, so
// max|Δ| ≤ 1e-6 + 2e-7·K as in native.spec.ts (GELU, softmax and LayerNorm add a few ulp: +2e-6). GELU vs float64:
// |Δ| ≤ 3e-7·|x| + 1e-7 (our erfc fit has fractional error < 1.2e-7). Skipped (pending) without the addon.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { bottleneckBlock, hasKernel, fusedAttention, fusedConv2dResidual, fusedLayerNorm, fusedLinear, fusedTransformerKernels, geluOps, type BlockConv, type BottleneckConvs } from '../src/engine/fused.js';
import { holdOnce, nativeAddon, nativeStatus, withoutNativeKernels, type NativeStatus } from '../src/engine/native.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { maxAbsDiff } from './helpers/compare.js';
import { expectNoLeak } from './helpers/leak.js';
import { both, seededTensors, tol } from './helpers/native.js';

const rnd = seededTensors(900);

function expectClose(nat: ArrayLike<number>, ref: ArrayLike<number>, bound: number, what: string): void {
  expect(nat.length, `${what}: length`).to.equal(ref.length);
  const d = maxAbsDiff(nat, ref);
  expect(d, `${what}: max|Δ| ${d.toExponential(2)} > ${bound.toExponential(2)}`).to.be.at.most(bound);
}

/** erf in float64: Taylor series below 3, continued fraction for erfc above (both to ~1e-14). */
function erf64(x: number): number {
  const a = Math.abs(x);
  let r: number;
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(a) = exp(-a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + 2/(a + …))))) (Lentz-free backward evaluation).
    let f = a;
    for (let n = 60; n >= 1; n--) f = a + n / 2 / f;
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

describe('native kernels: fused transformer ops, direct convolution, batch norm, thread pool', function () {
  let status: NativeStatus | undefined;

  before(function () {
    status = nativeStatus();
    if (tf.getBackend() !== 'wasm' || !status?.enabled) {
      console.log(`      (native kernels unavailable: ${status?.reason ?? `backend ${tf.getBackend()}`}; fused-kernel tests pending)`);
      this.skip();
    }
  });

  afterEach(() => {
    nativeAddon()?.setConvMode(-1);
  });

  it('the transformer kernels are registered, and fall back to TF.js ops when removed', () => {
    expect(fusedTransformerKernels()).to.equal(true);
    expect(withoutNativeKernels(() => fusedTransformerKernels())).to.equal(false);
  });

  describe('UolFusedLinear', () => {
    const shapes: [number, number, number][] = [[1, 3, 1], [7, 64, 16], [197, 384, 130], [33, 130, 50], [64, 17, 200]];
    for (const [m, k, n] of shapes) {
      for (const act of ['linear', 'relu', 'gelu'] as const) {
        it(`[${m},${k}]@[${k},${n}] + bias, ${act}, · scale + residual (direct and OpenBLAS paths)`, () => {
          const x = rnd([m, k]) as tf.Tensor2D;
          const w = rnd([k, n]) as tf.Tensor2D;
          const bias = rnd([n]) as tf.Tensor1D;
          const scale = rnd([n], 0.5, 1.5) as tf.Tensor1D;
          const residual = rnd([m, n]) as tf.Tensor2D;
          for (const mode of [-1, 0] as const) {
            nativeAddon()!.setConvMode(mode);
            const full = both(() => fusedLinear(x, w, bias, { activation: act, scale, residual }));
            expect(full.natShape).to.deep.equal([m, n]);
            expectClose(full.nat, full.ref, tol(k) + 2e-6, `full ${act} mode ${mode}`);
            const plain = both(() => fusedLinear(x, w, undefined, { activation: act }));
            expectClose(plain.nat, plain.ref, tol(k) + 2e-6, `no bias ${act} mode ${mode}`);
          }
          tf.dispose([x, w, bias, scale, residual]);
        });
      }
    }

    it('GELU matches a float64 erf reference to |Δ| ≤ 3e-7·|x| + 1e-7 over [-12, 12] (and ±0, large, NaN)', () => {
      const vals = Array.from({ length: 4001 }, (_, i) => -12 + (24 * i) / 4000);
      vals.push(0, -0, 1e-30, -1e-30, 50, -50, 3.4e38, -3.4e38);
      const n = vals.length;
      // gelu(x) via x @ I with the GELU activation: the identity keeps x exact.
      const x = tf.tensor2d(Float32Array.from(vals), [n, 1]);
      const eye = tf.tensor2d([1], [1, 1]);
      const g = fusedLinear(x, eye, undefined, { activation: 'gelu' });
      const out = g.dataSync();
      const xs = x.dataSync();
      for (let i = 0; i < n; i++) {
        const v = xs[i]!;
        const ref = 0.5 * v * (1 + erf64(v / Math.SQRT2));
        const bound = 3e-7 * Math.abs(v) + 1e-7;
        expect(Math.abs(out[i]! - ref), `gelu(${v}) = ${out[i]} vs ${ref}`).to.be.at.most(bound);
      }
      const nan = fusedLinear(tf.tensor2d([NaN], [1, 1]), eye, undefined, { activation: 'gelu' });
      expect(Number.isNaN(nan.dataSync()[0])).to.equal(true);
      tf.dispose([x, eye, g, nan]);
    });

    it('the GELU of the TF.js fallback (geluOps) agrees with the native one', () => {
      const x = rnd([50, 40], -6, 6) as tf.Tensor2D;
      const eye = tf.eye(40) as tf.Tensor2D;
      const r = both(() => fusedLinear(x, eye, undefined, { activation: 'gelu' }));
      const ops = withoutNativeKernels(() => geluOps(x));
      expectClose(r.nat, ops.dataSync(), 4e-6, 'gelu native vs ops');
      tf.dispose([x, eye, ops]);
    });

    it('rejects mismatched shapes naming them', () => {
      const x = tf.zeros([4, 5]) as tf.Tensor2D;
      expect(() => fusedLinear(x, tf.zeros([6, 3]) as tf.Tensor2D, undefined)).to.throw(/x is \[4,5\] but w is \[6,3\]/);
      expect(() => fusedLinear(x, tf.zeros([5, 3]) as tf.Tensor2D, tf.zeros([4]) as tf.Tensor1D)).to.throw(/bias has 4 values for 3 outputs/);
      expect(() => fusedLinear(x, tf.zeros([5, 3]) as tf.Tensor2D, undefined, { residual: tf.zeros([3, 3]) as tf.Tensor2D })).to.throw(/residual is \[3,3\]/);
      tf.disposeVariables();
    });
  });

  describe('UolLayerNorm', () => {
    for (const [rows, C] of [[1, 1], [5, 17], [197, 384], [64, 1024]] as [number, number][]) {
      it(`[${rows},${C}]`, () => {
        const x = rnd([rows, C], -3, 5) as tf.Tensor2D;
        const g = rnd([C], 0.5, 2) as tf.Tensor1D;
        const b = rnd([C]) as tf.Tensor1D;
        const r = both(() => fusedLayerNorm(x, g, b, 1e-6));
        expectClose(r.nat, r.ref, 1e-5, 'layernorm');
        tf.dispose([x, g, b]);
      });
    }
  });

  describe('UolAttention', () => {
    const cases: [number, number, number, number][] = [[1, 1, 1, 8], [1, 5, 3, 8], [2, 197, 6, 64], [1, 300, 2, 16], [3, 17, 4, 32]];
    for (const [B, N, h, d] of cases) {
      it(`B=${B} N=${N} heads=${h} d=${d}${N > 128 ? ' (several query blocks)' : ''}`, () => {
        const qkv = rnd([B * N, 3 * h * d], -2, 2) as tf.Tensor2D;
        const r = both(() => fusedAttention(qkv, B, h));
        expect(r.natShape).to.deep.equal([B * N, h * d]);
        expectClose(r.nat, r.ref, tol(Math.max(N, d)) + 2e-6, 'attention');
        tf.dispose(qkv);
      });
    }

    it('rejects a qkv width that is not 3·heads·d and rows that are not a multiple of the batch', () => {
      const q = tf.zeros([6, 12]) as tf.Tensor2D;
      expect(() => fusedAttention(q, 1, 5)).to.throw(/not 3·heads·d/);
      expect(() => fusedAttention(q, 4, 2)).to.throw(/not a multiple of batch 4/);
      q.dispose();
    });
  });

  describe('direct convolution (the ISA level in effect) vs plain wasm', function () {
    before(function () {
      if (!nativeStatus()?.library?.directConv) {
        console.log('      (this addon has no direct kernels; their tests are pending)');
        this.skip();
      }
    });
    // Direct kernel only (no Winograd: the 3×3 stride-1 geometry below is big enough for it); the outer afterEach
    // puts the mode back to -1.
    beforeEach(() => nativeAddon()!.setConvMode(1));

    const geoms: [string, number[], number[], number | 'same' | 'valid', number, number][] = [
      ['3×3 same, 64→64', [2, 9, 11, 64], [3, 3, 64, 64], 'same', 1, 1],
      ['3×3 pad 1 stride 2, 130→100 (two K blocks, masked tail)', [1, 13, 10, 130], [3, 3, 130, 100], 1, 2, 1],
      ['1×1 valid, 16→40', [2, 7, 5, 16], [1, 1, 16, 40], 'valid', 1, 1],
      ['1×1 stride 2, 32→256', [1, 12, 12, 32], [1, 1, 32, 256], 'valid', 2, 1],
      ['3×3 dilation 2 same, 24→17', [1, 11, 9, 24], [3, 3, 24, 17], 'same', 1, 2],
      ['5×3 valid, 20→64', [1, 9, 8, 20], [5, 3, 20, 64], 'valid', 1, 1],
      // Tiles are 6 pixels; a remainder tile computes only its own rows (a variant per row count).
      ...[1, 2, 3, 4, 5].map((r): [string, number[], number[], 'valid', number, number] => [
        `1×1 over ${r} pixel${r > 1 ? 's' : ''} (one remainder tile of ${r} row${r > 1 ? 's' : ''}), 32→64`, [1, 1, r, 32], [1, 1, 32, 64], 'valid', 1, 1,
      ]),
    ];
    for (const [name, xs, fs, pad, stride, dil] of geoms) {
      it(`${name}: plain, bias+relu (in-kernel), bias+elu and prelu (separate epilogue)`, () => {
        const x = rnd(xs) as tf.Tensor4D;
        const f = rnd(fs) as tf.Tensor4D;
        const bias = rnd([fs[3]!]) as tf.Tensor1D;
        const alpha = rnd([fs[3]!], 0, 0.5);
        const k = fs[0]! * fs[1]! * fs[2]!;
        const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number], stride, dil, pad);
        const geom = [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
          info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth, info.padInfo.top, info.padInfo.left];
        expect(nativeAddon()!.convPath(...geom)).to.equal('direct');
        const runs: [string, () => tf.Tensor][] = [
          ['plain', () => tf.conv2d(x, f, stride, pad, 'NHWC', dil)],
          ['bias+relu', () => tf.fused.conv2d({ x, filter: f, strides: stride, pad, dilations: dil, bias, activation: 'relu' })],
          ['bias+relu6', () => tf.fused.conv2d({ x, filter: f, strides: stride, pad, dilations: dil, bias, activation: 'relu6' })],
          ['bias+elu', () => tf.fused.conv2d({ x, filter: f, strides: stride, pad, dilations: dil, bias, activation: 'elu' })],
          ['prelu', () => tf.fused.conv2d({ x, filter: f, strides: stride, pad, dilations: dil, activation: 'prelu', preluActivationWeights: alpha })],
        ];
        for (const [what, run] of runs) {
          const r = both(run);
          expect(r.natShape, what).to.deep.equal(r.refShape);
          expectClose(r.nat, r.ref, tol(k), `${name} ${what}`);
        }
        tf.dispose([x, f, bias, alpha]);
      });
    }

    it('a packed filter is never reused for another tensor (dispose, then a new filter in the same memory)', () => {
      const x = rnd([1, 6, 6, 32]) as tf.Tensor4D;
      for (let i = 0; i < 4; i++) {
        const f = rnd([3, 3, 32, 64]) as tf.Tensor4D;
        const r = both(() => tf.conv2d(x, f, 1, 'same'));
        expectClose(r.nat, r.ref, tol(288), `filter ${i}`);
        f.dispose();
      }
      x.dispose();
    });

    it('an RGB stem (7×7/2, 3→64) runs im2col + the direct kernel, and matches plain wasm and im2col + sgemm', () => {
      const x = rnd([2, 31, 29, 3]) as tf.Tensor4D;
      const f = rnd([7, 7, 3, 64]) as tf.Tensor4D;
      const bias = rnd([64]) as tf.Tensor1D;
      const addon = nativeAddon()!;
      const info = tf.backend_util.computeConv2DInfo([2, 31, 29, 3], [7, 7, 3, 64], 2, 1, 3);
      const geom = [2, 31, 29, 3, info.outHeight, info.outWidth, 64, 7, 7, 2, 2, 1, 1, info.padInfo.top, info.padInfo.left];
      expect(addon.convPath(...geom)).to.equal('im2col-direct');
      const run = (): tf.Tensor => tf.fused.conv2d({ x, filter: f, strides: 2, pad: 3, bias, activation: 'relu' });
      const r = both(run);
      expectClose(r.nat, r.ref, tol(147), 'stem vs plain wasm');
      addon.setConvMode(0);
      expect(addon.convPath(...geom)).to.equal('im2col');
      const sg = run();
      expectClose(r.nat, sg.dataSync(), tol(147), 'stem vs im2col + sgemm');
      tf.dispose([x, f, bias, sg]);
    });

    // The im2col-direct path reads the image in place by rows (FH taps of FW·C floats), copying only windows that
    // leave it sideways: geometries whose windows leave it on the left, the right, both, or never.
    const stems: [string, number[], number[], number, number | 'same' | 'valid', [number, number]][] = [
      ["VGG's 3×3/1 same, 3→64", [1, 17, 15, 3], [3, 3, 3, 64], 1, 'same', [1, 1]],
      ["ViT's 16×16/16 patches, 3→48", [1, 32, 48, 3], [16, 16, 3, 48], 16, 'valid', [1, 1]],
      ['5×5/3 same (windows wider than the gaps between them), 4→24, batch 2', [2, 11, 13, 4], [5, 5, 4, 24], 3, 'same', [1, 1]],
      ['3×5 with dilation 2×1, same, 3→16 (taps two rows apart)', [1, 12, 9, 3], [3, 5, 3, 16], 1, 'same', [2, 1]],
      ['9×9 same on a 6×5 image (every window leaves it on both sides), 3→16', [1, 6, 5, 3], [9, 9, 3, 16], 1, 'same', [1, 1]],
    ];
    for (const [name, xs, fs, stride, pad, dil] of stems) {
      it(`RGB-like stem, ${name}: im2col-direct matches plain wasm`, () => {
        const x = rnd(xs) as tf.Tensor4D;
        const f = rnd(fs) as tf.Tensor4D;
        const bias = rnd([fs[3]!]) as tf.Tensor1D;
        const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number], stride, dil, pad);
        const geom = [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
          info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth, info.padInfo.top, info.padInfo.left];
        expect(nativeAddon()!.convPath(...geom)).to.equal('im2col-direct');
        const k = fs[0]! * fs[1]! * fs[2]!;
        for (const act of ['relu', 'elu'] as const) {
          const r = both(() => tf.fused.conv2d({ x, filter: f, strides: stride, pad, dilations: dil, bias, activation: act }));
          expect(r.natShape).to.deep.equal(info.outShape);
          expectClose(r.nat, r.ref, tol(k), `${name} ${act}`);
        }
        tf.dispose([x, f, bias]);
      });
    }

    it('direct and im2col + sgemm paths agree', () => {
      const x = rnd([1, 14, 14, 96]) as tf.Tensor4D;
      const f = rnd([3, 3, 96, 80]) as tf.Tensor4D;
      const addon = nativeAddon()!;
      const run = (): Float32Array => tf.tidy(() => tf.conv2d(x, f, 1, 'same').dataSync() as Float32Array);
      addon.setConvMode(1);
      const d = run();
      addon.setConvMode(0);
      const i2c = run();
      expectClose(d, i2c, tol(864), 'direct vs im2col');
      tf.dispose([x, f]);
    });
  });

  // Both variants at the ISA level in effect (setConvMode 2: F(2×2,3×3), 3: F(4×4,3×3)). Bounds: F(2×2) twice the
  // summation-order bound; F(4×4)'s transforms multiply by up to 8 and 1/24 on the way, so four times it.
  const variants = [
    { mode: 2 as const, name: 'F(2×2,3×3)', path: 'winograd', bound: 2 },
    { mode: 3 as const, name: 'F(4×4,3×3)', path: 'winograd4', bound: 4 },
  ];
  for (const v of variants) {
    describe(`Winograd ${v.name} convolution vs plain wasm and the direct kernel`, function () {
      before(function () {
        if (!nativeStatus()?.library?.directConv) this.skip();
      });
      beforeEach(() => nativeAddon()!.setConvMode(v.mode)); // the outer afterEach puts it back to -1

      const geoms: [string, number[], number[], number | 'same' | 'valid'][] = [
        ['13×12 (odd: partial tiles), same, 32→48', [1, 13, 12, 32], [3, 3, 32, 48], 'same'],
        ['valid, C 130 (two K blocks, channel tail), 130→100', [1, 14, 12, 130], [3, 3, 130, 100], 'valid'],
        ['batch 2, pad 1, 16→64', [2, 11, 10, 16], [3, 3, 16, 64], 1],
        ['pad 1, 21→19 (tails narrower than every vector width)', [1, 10, 11, 21], [3, 3, 21, 19], 1],
        ['7×7 map (the smallest that takes Winograd), pad 1, 64→72', [1, 7, 7, 64], [3, 3, 64, 72], 1],
        // Tiles are grouped by 6 in the GEMMs; the last group computes only its own rows. Last groups of F(2×2) /
        // F(4×4) tiles: 9×9 1/3, 9×13 5/0, 4×28 4/1, 4×44 2/5, 5×13 3/2.
        ['9×9 map, pad 1, 32→64', [1, 9, 9, 32], [3, 3, 32, 64], 1],
        ['9×13 map, pad 1, 32→64', [1, 9, 13, 32], [3, 3, 32, 64], 1],
        ['4×28 map, pad 1, 32→64', [1, 4, 28, 32], [3, 3, 32, 64], 1],
        ['4×44 map, pad 1, 32→64', [1, 4, 44, 32], [3, 3, 32, 64], 1],
        ['5×13 map, pad 1, 32→64', [1, 5, 13, 32], [3, 3, 32, 64], 1],
      ];
      for (const [name, xs, fs, pad] of geoms) {
        it(`${name}: plain, bias+relu, bias+relu6, residual; elu falls back to the direct kernel`, () => {
          const x = rnd(xs) as tf.Tensor4D;
          const f = rnd(fs) as tf.Tensor4D;
          const bias = rnd([fs[3]!]) as tf.Tensor1D;
          const k = 9 * fs[2]!;
          const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number], 1, 1, pad);
          const geom = [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels, 3, 3, 1, 1, 1, 1, info.padInfo.top, info.padInfo.left];
          expect(nativeAddon()!.convPath(...geom)).to.equal(v.path);
          expect(nativeAddon()!.convPath(...geom, 0)).to.equal('direct');
          const residual = rnd(info.outShape) as tf.Tensor4D;
          const runs: [string, () => tf.Tensor][] = [
            ['plain', () => tf.conv2d(x, f, 1, pad)],
            ['bias+relu', () => tf.fused.conv2d({ x, filter: f, strides: 1, pad, bias, activation: 'relu' })],
            ['bias+relu6', () => tf.fused.conv2d({ x, filter: f, strides: 1, pad, bias, activation: 'relu6' })],
            ['residual+relu', () => fusedConv2dResidual({ x, filter: f, strides: 1, pad, bias, residual, activation: 'relu' })],
            ['bias+elu (direct)', () => tf.fused.conv2d({ x, filter: f, strides: 1, pad, bias, activation: 'elu' })],
          ];
          for (const [what, run] of runs) {
            const r = both(run);
            expect(r.natShape, what).to.deep.equal(r.refShape);
            expectClose(r.nat, r.ref, v.bound * tol(k), `${name} ${what}`);
            nativeAddon()!.setConvMode(1);
            const direct = run();
            nativeAddon()!.setConvMode(v.mode);
            expectClose(r.nat, direct.dataSync(), v.bound * tol(k), `${name} ${what} vs direct`);
            direct.dispose();
          }
          tf.dispose([x, f, bias, residual]);
        });
      }
    });
  }

  describe('MaxPool (NHWC float32) vs a loop reference and the plain wasm kernel', () => {
    /** Max over the in-image taps of each window (−∞ when there are none), written out here as the reference. */
    function maxPoolRef(x: Float32Array, [B, H, W, C]: number[], info: tf.backend_util.Conv2DInfo): Float32Array {
      const { outHeight: OH, outWidth: OW, filterHeight: FH, filterWidth: FW, strideHeight: SH, strideWidth: SW } = info;
      const out = new Float32Array(B! * OH * OW * C!).fill(-Infinity);
      for (let b = 0; b < B!; b++)
        for (let oy = 0; oy < OH; oy++)
          for (let ox = 0; ox < OW; ox++)
            for (let ky = 0; ky < FH; ky++)
              for (let kx = 0; kx < FW; kx++) {
                const iy = oy * SH - info.padInfo.top + ky;
                const ix = ox * SW - info.padInfo.left + kx;
                if (iy < 0 || iy >= H! || ix < 0 || ix >= W!) continue;
                for (let c = 0; c < C!; c++) {
                  const o = ((b * OH + oy) * OW + ox) * C! + c;
                  out[o] = Math.max(out[o]!, x[((b * H! + iy) * W! + ix) * C! + c]!);
                }
              }
      return out;
    }
    type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
    const geoms: [string, number[], number | [number, number], number | [number, number], Pad, boolean][] = [
      ["ResNet's stem pool: 112×112×64, 3×3 stride 2 pad 1", [1, 112, 112, 64], 3, 2, 1, true],
      ["VGG's: batch 2, 14×14×512, 2×2 stride 2 valid", [2, 14, 14, 512], 2, 2, 'valid', true],
      ['13×11×21 (channels not a multiple of 8), 3×3 stride 2 same', [1, 13, 11, 21], 3, 2, 'same', true],
      ['batch 2, 9×10×5, 3×2 window, strides 2×1, valid', [2, 9, 10, 5], [3, 2], [2, 1], 'valid', true],
      // Windows wholly in the padding: −∞ here (TF.js's CPU backend does the same); the wasm kernel returns values
      // from inside the image there, so it is compared on the loop reference only.
      ['5×5×3, 2×2 stride 1, explicit padding 2 (windows wholly in the padding)', [1, 5, 5, 3], 2, 1, [[0, 0], [2, 2], [1, 1], [0, 0]], false],
    ];
    for (const [name, xs, size, strides, pad, vsWasm] of geoms) {
      it(`${name}: equal to the reference${vsWasm ? ' and to the wasm kernel' : ''}, no tensor left`, async () => {
        expect(status!.kernels).to.include('MaxPool');
        const x = rnd(xs) as tf.Tensor4D;
        const info = tf.backend_util.computePool2DInfo(xs as [number, number, number, number], size, strides, 1, pad);
        const ref = maxPoolRef(x.dataSync() as Float32Array, xs, info);
        const r = await expectNoLeak(() => both(() => tf.maxPool(x, size, strides, pad)), name);
        expect(r.natShape).to.deep.equal(info.outShape);
        // Exactly equal (a max is exact; −∞ included): the first index where they differ, −1 when none does.
        const firstDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.prototype.findIndex.call(a, (v: number, i: number) => v !== b[i]);
        expect(firstDiff(r.nat, ref), 'native vs loop reference').to.equal(-1);
        expect(r.nat.length).to.equal(ref.length);
        if (vsWasm) expect(firstDiff(r.nat, r.ref), 'native vs wasm').to.equal(-1);
        x.dispose();
      });
    }
  });

  describe('UolBottleneck (a ResNet bottleneck block in one kernel) vs the same block in TF.js ops', () => {
    type Spec = [number, number, number, number]; // filter HWIO
    const geoms: [string, number[], Spec, Spec, Spec, Spec | undefined, number][] = [
      ['identity shortcut, 14×14 (Winograd 3×3), 64→16→16→64', [1, 14, 14, 64], [1, 1, 64, 16], [3, 3, 16, 16], [1, 1, 16, 64], undefined, 1],
      ['projection shortcut at stride 2, batch 2, 9×11, 32→16→16→48', [2, 9, 11, 32], [1, 1, 32, 16], [3, 3, 16, 16], [1, 1, 16, 48], [1, 1, 32, 48], 2],
      ['projection shortcut at stride 1 (layer1), 8×8, 16→8→8→32', [1, 8, 8, 16], [1, 1, 16, 8], [3, 3, 8, 8], [1, 1, 8, 32], [1, 1, 16, 32], 1],
    ];
    for (const [name, xs, s1, s2, s3, sd, stride] of geoms) {
      it(`${name}: max|Δ| ≤ 1e-5·max|ref|, no tensor or wasm buffer left behind`, async () => {
        const conv = (fs: Spec, st: number): BlockConv => ({ filter: rnd(fs, -0.3, 0.3) as tf.Tensor4D, bias: rnd([fs[3]], -0.1, 0.1) as tf.Tensor1D, stride: st, pad: (fs[0] - 1) / 2 });
        const x = rnd(xs) as tf.Tensor4D;
        const convs: BottleneckConvs = { c1: conv(s1, 1), c2: conv(s2, stride), c3: conv(s3, 1), ...(sd ? { down: conv(sd, stride) } : {}) };
        expect(hasKernel('UolBottleneck'), 'the native kernel is registered').to.equal(true);
        const backend = tf.backend() as BackendWasm;
        const ids = backend.numDataIds();
        const r = await expectNoLeak(() => both(() => bottleneckBlock(x, convs)), name);
        expect(backend.numDataIds(), 'wasm buffers').to.equal(ids);
        const outHW = [Math.floor((xs[1]! - 1) / stride) + 1, Math.floor((xs[2]! - 1) / stride) + 1];
        expect(r.natShape).to.deep.equal([xs[0], ...outHW, s3[3]]);
        const scale = r.ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(scale, 'a block that is not all zeros').to.be.greaterThan(0.1);
        expectClose(r.nat, r.ref, 1e-5 * scale, name);
        tf.dispose([x, ...Object.values(convs).flatMap((c: BlockConv) => [c.filter, c.bias])]);
      });
    }

    it('names the convolution whose shapes do not fit', () => {
      const x = tf.zeros([1, 4, 4, 16]) as tf.Tensor4D;
      const c = (i: number, o: number, k = 1): BlockConv => ({ filter: tf.zeros([k, k, i, o]) as tf.Tensor4D, bias: tf.zeros([o]) as tf.Tensor1D, stride: 1, pad: (k - 1) / 2 });
      const convs: BottleneckConvs = { c1: c(16, 8), c2: c(4, 8, 3), c3: c(8, 16) };
      expect(() => bottleneckBlock(x, convs)).to.throw(/c2 has filter \[3,3,4,8\] and bias \[8\] for an input of \[1,4,4,8\]/);
      const noShortcut: BottleneckConvs = { c1: c(16, 8), c2: c(8, 8, 3), c3: c(8, 32) };
      expect(() => bottleneckBlock(x, noShortcut)).to.throw(/the shortcut is \[1,4,4,16\], the block's output \[1,4,4,32\]/);
      tf.dispose([x, ...[convs, noShortcut].flatMap((b) => Object.values(b).flatMap((q: BlockConv) => [q.filter, q.bias]))]);
    });
  });

  describe('UolFusedConv2D (conv + bias + residual, then activation)', () => {
    const geoms: [string, number[], number[], number | 'same' | 'valid', number][] = [
      ['1×1, 64→256 (ResNet conv3)', [2, 7, 7, 64], [1, 1, 64, 256], 0, 1],
      ['3×3 pad 1, 16→48', [1, 9, 9, 16], [3, 3, 16, 48], 1, 1],
      ['3×3 stride 2, 3→16 (im2col path)', [1, 12, 12, 3], [3, 3, 3, 16], 'same', 2],
    ];
    for (const [name, xs, fs, pad, stride] of geoms) {
      for (const act of ['relu', 'relu6', 'linear'] as const) {
        it(`${name}, ${act}`, () => {
          const x = rnd(xs) as tf.Tensor4D;
          const f = rnd(fs) as tf.Tensor4D;
          const bias = rnd([fs[3]!]) as tf.Tensor1D;
          const outShape = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number], stride, 1, pad).outShape;
          const residual = rnd(outShape, -2, 2) as tf.Tensor4D;
          const r = both(() => fusedConv2dResidual({ x, filter: f, strides: stride, pad, bias, residual, activation: act }));
          expect(r.natShape).to.deep.equal(outShape);
          expectClose(r.nat, r.ref, tol(fs[0]! * fs[1]! * fs[2]!), `${name} ${act}`);
          const nr = both(() => fusedConv2dResidual({ x, filter: f, strides: stride, pad, bias, activation: act }));
          expectClose(nr.nat, nr.ref, tol(fs[0]! * fs[1]! * fs[2]!), `${name} ${act} without residual`);
          tf.dispose([x, f, bias, residual]);
        });
      }
    }

    it('rejects a residual of the wrong shape', () => {
      const x = tf.zeros([1, 4, 4, 16]) as tf.Tensor4D;
      const f = tf.zeros([1, 1, 16, 16]) as tf.Tensor4D;
      expect(() => fusedConv2dResidual({ x, filter: f, strides: 1, pad: 0, residual: tf.zeros([1, 4, 4, 8]) as tf.Tensor4D })).to.throw(/residual is \[1,4,4,8\], output \[1,4,4,16\]/);
      tf.dispose([x, f]);
    });
  });

  describe('FusedBatchNorm', () => {
    it('per-channel parameters (native) and scalar ones (wasm fallback) match plain wasm', () => {
      const x = rnd([2, 5, 6, 24], -3, 3) as tf.Tensor4D;
      const C = 24;
      const mean = rnd([C]);
      const variance = rnd([C], 0.1, 2);
      const offset = rnd([C]);
      const scale = rnd([C], 0.5, 1.5);
      const cases: [string, () => tf.Tensor][] = [
        ['full', () => tf.batchNorm(x, mean, variance, offset, scale, 1e-3)],
        ['no offset/scale', () => tf.batchNorm(x, mean, variance, undefined, undefined, 1e-5)],
        ['2-D', () => tf.batchNorm(tf.reshape(x, [60, C]), mean, variance, offset, scale, 1e-3)],
        ['one mean and variance for all channels (fallback)', () => tf.batchNorm(x, tf.tensor1d([0.3]), tf.tensor1d([0.7]), offset, scale, 1e-3)],
      ];
      for (const [what, run] of cases) {
        const r = both(run);
        expectClose(r.nat, r.ref, 2e-6, what);
      }
      tf.dispose([x, mean, variance, offset, scale]);
    });
  });

  describe('thread pool', () => {
    it('1 and 2 threads give the same results (matmul, attention, conv, layer norm)', () => {
      const addon = nativeAddon()!;
      const threads = addon.info().threads;
      const a = rnd([300, 200]) as tf.Tensor2D;
      const b = rnd([200, 170]) as tf.Tensor2D;
      const qkv = rnd([2 * 150, 3 * 64]) as tf.Tensor2D;
      const x = rnd([1, 20, 20, 32]) as tf.Tensor4D;
      const f = rnd([3, 3, 32, 48]) as tf.Tensor4D;
      const g = rnd([200]) as tf.Tensor1D;
      const run = (): Float32Array[] => tf.tidy(() => [
        tf.matMul(a, b).dataSync() as Float32Array,
        tf.matMul(tf.reshape(a, [3, 100, 200]), b).dataSync() as Float32Array,
        fusedAttention(qkv, 2, 4).dataSync() as Float32Array,
        tf.conv2d(x, f, 1, 'same').dataSync() as Float32Array,
        fusedLayerNorm(a, g, g, 1e-6).dataSync() as Float32Array,
      ]);
      try {
        addon.setThreads(1);
        const one = run();
        addon.setThreads(2);
        const two = run();
        one.forEach((v, i) => expectClose(two[i]!, v, tol(300), `result ${i}`));
      } finally {
        addon.setThreads(threads);
      }
      tf.dispose([a, b, qkv, x, f, g]);
    });
  });

  describe('weights held once (packed in place on the wasm heap)', () => {
    const heapOf = (t: tf.Tensor): Float32Array => Float32Array.from((tf.backend() as BackendWasm).typedArrayFromHeap(t) as Float32Array);

    it('a held linear weight is repacked in place; results, dataSync and plain wasm still see [K, N]', () => {
      const x = rnd([37, 96]) as tf.Tensor2D;
      const w = rnd([96, 128]) as tf.Tensor2D;
      const b = rnd([128]) as tf.Tensor1D;
      const original = Float32Array.from(w.dataSync());
      holdOnce([w]);
      const first = tf.tidy(() => fusedLinear(x, w, b, { activation: 'relu' }).dataSync());
      // The heap storage now holds the packed layout: no second copy of the weight exists.
      const stored = heapOf(w);
      expect(maxAbsDiff(stored, original)).to.be.above(0.1);
      expect(maxAbsDiff(stored.subarray(0, 64), original.subarray(0, 64))).to.equal(0); // first panel row = row 0, cols 0..63
      expect(maxAbsDiff(stored.subarray(64, 128), original.subarray(128, 192))).to.equal(0); // then row 1
      const again = tf.tidy(() => fusedLinear(x, w, b, { activation: 'relu' }).dataSync());
      expect(maxAbsDiff(again, first)).to.equal(0);
      const plain = withoutNativeKernels(() => tf.tidy(() => fusedLinear(x, w, b, { activation: 'relu' }).dataSync()));
      expect(maxAbsDiff(plain, first)).to.be.at.most(tol(96));
      expect(maxAbsDiff(heapOf(w), original), 'unpacked on uninstall').to.equal(0);
      tf.tidy(() => fusedLinear(x, w, b).dataSync()); // packed in place again
      expect(maxAbsDiff(w.dataSync(), original), 'a host read sees [K, N]').to.equal(0);
      // A TF.js matmul (the BatchMatMul override) on the held weight reads [K, N] too.
      tf.tidy(() => fusedLinear(x, w, b).dataSync());
      const mm = tf.tidy(() => tf.relu(tf.add(tf.matMul(x, w), b)).dataSync());
      expect(maxAbsDiff(mm, first)).to.be.at.most(tol(96));
      tf.dispose([x, w, b]);
    });

    it('a held conv filter (1×1 direct, 3×3 im2col) gives the plain-wasm result before and after packing in place', () => {
      for (const [fh, stride] of [[1, 1], [3, 2]] as const) {
        const x = rnd([1, 9, 11, 32]) as tf.Tensor4D;
        const f = rnd([fh, fh, 32, 64]) as tf.Tensor4D;
        holdOnce([f]);
        const run = (): Float32Array => tf.tidy(() => tf.conv2d(x, f, stride, 'same').dataSync() as Float32Array);
        const ref = withoutNativeKernels(run);
        const a = run();
        const bb = run();
        expect(maxAbsDiff(a, ref), `${fh}×${fh}`).to.be.at.most(tol(fh * fh * 32));
        expect(maxAbsDiff(bb, a)).to.equal(0);
        expect(maxAbsDiff(withoutNativeKernels(run), ref), `${fh}×${fh} plain after packing`).to.equal(0);
        tf.dispose([x, f]);
      }
    });
  });

  it('no tensors or wasm allocations leak through the fused kernels', async () => {
    const x = rnd([10, 48]) as tf.Tensor2D;
    const w = rnd([48, 32]) as tf.Tensor2D;
    const g = rnd([48]) as tf.Tensor1D;
    const qkv = rnd([10, 96]) as tf.Tensor2D;
    const cx = rnd([1, 5, 5, 16]) as tf.Tensor4D;
    const cf = rnd([3, 3, 16, 16]) as tf.Tensor4D;
    await expectNoLeak(() => {
      for (let i = 0; i < 3; i++) {
        tf.tidy(() => {
          fusedLinear(x, w, undefined, { activation: 'gelu', residual: tf.zeros([10, 32]) as tf.Tensor2D });
          fusedLayerNorm(x, g, g, 1e-6);
          fusedAttention(qkv, 2, 2);
          fusedConv2dResidual({ x: cx, filter: cf, strides: 1, pad: 1, residual: cx, activation: 'relu' });
          tf.batchNorm(cx, tf.zeros([16]), tf.ones([16]));
        });
      }
    }, 'fused kernels');
    tf.dispose([x, w, g, qkv, cx, cf]);
  });
});
