// Native OpenBLAS kernels on the wasm backend (src/engine/native.ts, native/src/uol_blas.c).
//
// Parity: every shape class is computed twice on the same input tensors, once with the override and once with the
// plain wasm kernels (withoutNativeKernels). Where plain wasm itself is wrong or refuses (fused bias on its batched or
// transposed path, rank-2 bias, 4-D general batch broadcasting, K = 0) the reference is the unfused plain-wasm
// composition act(matMul + bias) or a float64 triple loop written here.
// Tolerance: float32 sums of K products of values in [-1, 1] differ by summation order; we allow
// max|Δ| ≤ 1e-6 + 2e-7·K (≈ 5·K·ε/3, a few times the expected spread), which is far below any indexing or epilogue error.
// The parity suites skip (pending, with the reason printed) when the addon is not built or UOL_NATIVE=0.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  broadcastStrides, chooseCoretype, cpuFlags, CUSTOM_KERNELS, installNativeKernels, nativeAddon, nativeStatus, NATIVE_KERNELS,
  restoreNativeKernels, uninstallNativeKernels, withoutNativeKernels, type NativeStatus,
} from '../src/engine/native.js';
import { runCli } from './helpers/cli.js';
import { expectNoLeak } from './helpers/leak.js';
import { both, seededTensors, tol } from './helpers/native.js';
import { maxAbsDiff } from './helpers/compare.js';

type Act = 'linear' | 'relu' | 'relu6' | 'elu' | 'leakyrelu' | 'prelu' | 'sigmoid';
const ACTS: Act[] = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'prelu', 'sigmoid'];

const rnd = seededTensors(100);

function expectClose(nat: ArrayLike<number>, ref: ArrayLike<number>, k: number, what: string): void {
  expect(nat.length, `${what}: length`).to.equal(ref.length);
  const d = maxAbsDiff(nat, ref);
  expect(d, `${what}: max|Δ| ${d.toExponential(2)} > ${tol(k).toExponential(2)}`).to.be.at.most(tol(k));
}

/** float64 reference: out[batch..., m, n] with numpy broadcasting of the batch dims. */
function refMatMul(a: tf.Tensor, b: tf.Tensor, tA: boolean, tB: boolean): { values: Float64Array; shape: number[] } {
  const av = a.dataSync();
  const bv = b.dataSync();
  const ra = a.rank;
  const rb = b.rank;
  const m = tA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = tA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const n = tB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const oa = a.shape.slice(0, -2);
  const ob = b.shape.slice(0, -2);
  const r = Math.max(oa.length, ob.length);
  const pa = [...new Array<number>(r - oa.length).fill(1), ...oa];
  const pb = [...new Array<number>(r - ob.length).fill(1), ...ob];
  const outer = pa.map((d, i) => Math.max(d, pb[i]!));
  const batch = outer.reduce((p, q) => p * q, 1);
  const values = new Float64Array(batch * m * n);
  for (let z = 0; z < batch; z++) {
    let rem = z;
    let za = 0;
    let zb = 0;
    let sa = 1;
    let sb = 1;
    for (let d = r - 1; d >= 0; d--) {
      const i = rem % outer[d]!;
      rem = Math.floor(rem / outer[d]!);
      if (pa[d]! > 1) za += i * sa;
      if (pb[d]! > 1) zb += i * sb;
      sa *= pa[d]!;
      sb *= pb[d]!;
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) {
          const x = av[za * m * k + (tA ? q * m + i : i * k + q)]!;
          const y = bv[zb * k * n + (tB ? j * k + q : q * n + j)]!;
          s += x * y;
        }
        values[z * m * n + i * n + j] = s;
      }
    }
  }
  return { values, shape: [...outer, m, n] };
}

/** Unfused composition act(x + bias) with TF.js's own ops (the definition the fused kernels must match). */
function unfusedAct(x: tf.Tensor, act: Act, prelu?: tf.Tensor, alpha = 0.2): tf.Tensor {
  switch (act) {
    case 'linear': return x;
    case 'relu': return tf.relu(x);
    case 'relu6': return tf.relu6(x);
    case 'elu': return tf.elu(x);
    case 'leakyrelu': return tf.leakyRelu(x, alpha);
    case 'prelu': return tf.prelu(x, prelu!);
    case 'sigmoid': return tf.sigmoid(x);
  }
}

describe('native kernels: helpers (no addon needed)', () => {
  it('chooseCoretype picks SKYLAKEX for AVX-512, HASWELL for AVX2+FMA, nothing otherwise', () => {
    expect(chooseCoretype(new Set(['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512dq', 'avx512vl']))).to.equal('SKYLAKEX');
    expect(chooseCoretype(new Set(['avx2', 'fma', 'avx512f']))).to.equal('HASWELL'); // F alone (Knights Landing): not SkylakeX
    expect(chooseCoretype(new Set(['avx2', 'fma']))).to.equal('HASWELL');
    expect(chooseCoretype(new Set(['avx', 'sse4_2']))).to.equal(undefined);
    expect(chooseCoretype(new Set())).to.equal(undefined);
  });

  it('cpuFlags reads the flags line of /proc/cpuinfo text', () => {
    const text = 'processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse avx2 fma\nbugs\t\t: spectre\n';
    expect([...cpuFlags(text)]).to.deep.equal(['fpu', 'sse', 'avx2', 'fma']);
    expect(cpuFlags('no flags here').size).to.equal(0);
  });

  it('broadcastStrides gives per-group element strides, undefined when not broadcastable or not collapsible', () => {
    const g3 = [[0], [1], [2]];
    expect(broadcastStrides([2, 5, 7], g3, [7])).to.deep.equal([0, 0, 1]);
    expect(broadcastStrides([2, 5, 7], g3, [1, 7])).to.deep.equal([0, 0, 1]);
    expect(broadcastStrides([2, 5, 7], g3, [5, 7])).to.deep.equal([0, 7, 1]);
    expect(broadcastStrides([2, 5, 7], g3, [2, 1, 7])).to.deep.equal([7, 0, 1]);
    expect(broadcastStrides([2, 5, 7], g3, [2, 5, 1])).to.deep.equal([5, 1, 0]);
    expect(broadcastStrides([2, 5, 7], g3, [1])).to.deep.equal([0, 0, 0]);
    expect(broadcastStrides([2, 5, 7], g3, [1, 1, 1, 7])).to.deep.equal([0, 0, 1]);
    expect(broadcastStrides([2, 5, 7], g3, [3])).to.equal(undefined);
    expect(broadcastStrides([2, 5, 7], g3, [2, 2, 5, 7])).to.equal(undefined);
    const conv = [[0], [1, 2], [3]];
    expect(broadcastStrides([2, 4, 6, 8], conv, [8])).to.deep.equal([0, 0, 1]);
    expect(broadcastStrides([2, 4, 6, 8], conv, [4, 6, 8])).to.deep.equal([0, 8, 1]);
    expect(broadcastStrides([2, 4, 6, 8], conv, [4, 1, 8])).to.equal(undefined); // H kept, W broadcast: not one stride
    expect(broadcastStrides([2, 1, 6, 8], conv, [6, 8])).to.deep.equal([0, 8, 1]); // size-1 dims are ignored
  });

  it('installNativeKernels reports why it is off: --native off, another backend, a missing addon, an unknown kernel', () => {
    const before = nativeStatus();
    try {
      const off = installNativeKernels('wasm', 'off');
      expect(off.enabled).to.equal(false);
      expect(off.reason).to.match(/disabled/);
      expect(installNativeKernels('cpu', 'auto').reason).to.match(/wasm backend only/);
      const missing = installNativeKernels('wasm', 'auto', { addonPath: '/nonexistent/uol_blas.node' });
      expect(missing.enabled).to.equal(false);
      expect(missing.reason).to.match(/not built .*\/nonexistent\/uol_blas.node/);
      expect(missing.kernels).to.deep.equal([]);
      expect(installNativeKernels('wasm', 'auto', { kernels: ['NoSuchKernel'] }).reason).to.match(/unknown native kernel "NoSuchKernel"/);
      // Nothing is overridden after a failed install: plain wasm still computes.
      const y = tf.matMul(tf.ones([2, 3]), tf.ones([3, 4]));
      expect(Array.from(y.dataSync())).to.deep.equal(new Array<number>(8).fill(3));
    } finally {
      restoreNativeKernels(before);
    }
    expect(nativeStatus()).to.deep.equal(before);
  });

  it('uol info reports the native status (enabled, kernels, library, coretype or the reason)', async () => {
    const r = await runCli(['info', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as { native: NativeStatus };
    expect(j.native.reason.length).to.be.above(0);
    if (j.native.enabled) {
      expect(j.native.kernels).to.include.members(['BatchMatMul', '_FusedMatMul']);
      expect(j.native.library?.config).to.match(/OpenBLAS|uol packed sgemm/);
      expect(j.native.library?.isa).to.be.oneOf(['avx512', 'avx2', 'portable']);
      expect(j.native.coretype?.source).to.be.oneOf(['env', 'auto', 'unset']);
    }
    const t = await runCli(['info']);
    expect(t.stdout).to.match(/native kernels: (on|off)/);
  });

  it('--native off switches the kernels off and a later auto run switches them back on', async () => {
    const before = nativeStatus();
    const off = await runCli(['info', '--native', 'off', '--json']);
    expect((JSON.parse(off.stdout) as { native: NativeStatus }).native).to.include({ enabled: false, requested: 'off' });
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc.name).to.not.equal('nativeMatMul');
    const on = await runCli(['info', '--json']);
    expect((JSON.parse(on.stdout) as { native: NativeStatus }).native.enabled).to.equal(!!before?.enabled);
  });
});

describe('native kernels: parity with plain wasm', function () {
  let status: NativeStatus | undefined;

  before(function () {
    status = nativeStatus();
    if (tf.getBackend() !== 'wasm' || !status?.enabled) {
      console.log(`      (native kernels unavailable: ${status?.reason ?? `backend ${tf.getBackend()}`}; parity tests pending)`);
      this.skip();
    }
  });

  describe('BatchMatMul', () => {
    const cases: [string, number[], number[], boolean, boolean][] = [
      ['2-D', [37, 53], [53, 29], false, false],
      ['transposeA', [53, 37], [53, 29], true, false],
      ['transposeB', [37, 53], [29, 53], false, true],
      ['transposeA+B', [53, 37], [29, 53], true, true],
      ['3-D batched', [4, 37, 53], [4, 53, 29], false, false],
      ['3-D batched, transposeA+B', [4, 53, 37], [4, 29, 53], true, true],
      ['3-D @ 2-D (b shared)', [4, 37, 53], [53, 29], false, false],
      ['3-D @ 2-D, transposeB', [4, 37, 53], [29, 53], false, true],
      ['3-D @ 2-D, transposeA (a batches not collapsible)', [4, 53, 37], [53, 29], true, false],
      ['batch 1 @ batch N', [1, 37, 53], [4, 53, 29], false, false],
      ['batch N @ batch 1, transposeB', [4, 37, 53], [1, 29, 53], false, true],
      ['2-D @ 3-D (a shared), transposeA', [53, 37], [4, 53, 29], true, false],
      ['4-D same outer dims', [2, 3, 9, 11], [2, 3, 11, 5], false, false],
      ['ViT attention q@kᵀ [6,197,64]', [6, 197, 64], [6, 197, 64], false, true],
      ['1×1 @ 1×1', [1, 1], [1, 1], false, false],
      ['K = 1', [5, 1], [1, 7], false, false],
      ['row @ column (m = n = 1)', [1, 300], [300, 1], false, false],
      ['large K = 4096', [8, 4096], [4096, 16], false, false],
      ['large K = 2048, transposeA', [2048, 9], [2048, 13], true, false],
    ];
    for (const [name, sa, sb, tA, tB] of cases) {
      it(`${name}: [${sa}]${tA ? 'ᵀ' : ''} @ [${sb}]${tB ? 'ᵀ' : ''}`, () => {
        const a = rnd(sa);
        const b = rnd(sb);
        const k = tA ? sa[sa.length - 2]! : sa[sa.length - 1]!;
        const r = both(() => tf.matMul(a, b, tA, tB));
        expect(r.natShape).to.deep.equal(r.refShape);
        expectClose(r.nat, r.ref, k, name);
        tf.dispose([a, b]);
      });
    }

    it('4-D general broadcasting [2,1,5,7] @ [1,3,7,4] matches a float64 reference', () => {
      const a = rnd([2, 1, 5, 7]);
      const b = rnd([1, 3, 7, 4]);
      for (const [tA, tB] of [[false, false], [false, true], [true, false]] as [boolean, boolean][]) {
        const aa = tA ? tf.transpose(a, [0, 1, 3, 2]) : a;
        const bb = tB ? tf.transpose(b, [0, 1, 3, 2]) : b;
        const y = tf.matMul(aa, bb, tA, tB);
        const ref = refMatMul(aa, bb, tA, tB);
        expect(y.shape).to.deep.equal(ref.shape);
        expectClose(y.dataSync(), ref.values, 7, `general broadcast tA=${tA} tB=${tB}`);
        tf.dispose([y, ...(tA ? [aa] : []), ...(tB ? [bb] : [])]);
      }
      tf.dispose([a, b]);
    });

    it('empty operands: m = 0 gives an empty result, K = 0 gives zeros', () => {
      const e = tf.matMul(tf.zeros([0, 5]), rnd([5, 3]));
      expect(e.shape).to.deep.equal([0, 3]);
      const z = tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4]));
      expect(z.shape).to.deep.equal([3, 4]);
      expect(Array.from(z.dataSync())).to.deep.equal(new Array<number>(12).fill(0));
      tf.dispose([e, z]);
    });

    it('non-float32 inputs are handed to the wasm kernel (same error as plain wasm)', () => {
      const a = tf.ones([2, 2], 'int32');
      const msg = (f: () => unknown): string => {
        try {
          tf.dispose(f() as tf.Tensor);
          return 'no error';
        } catch (e) {
          return (e as Error).message;
        }
      };
      const nat = msg(() => tf.matMul(a, a));
      const ref = withoutNativeKernels(() => msg(() => tf.matMul(a, a)));
      expect(nat).to.equal(ref);
      a.dispose();
    });
  });

  describe('_FusedMatMul', () => {
    const shapes: [string, number[], number[], boolean, boolean][] = [
      ['2-D (XNNPACK path on plain wasm)', [23, 31], [31, 17], false, false],
      ['batched transposeB (scalar loop on plain wasm)', [3, 23, 31], [3, 17, 31], false, true],
      ['transposeA, b shared', [3, 31, 23], [1, 31, 17], true, false],
    ];
    for (const [name, sa, sb, tA, tB] of shapes) {
      for (const act of ACTS) {
        it(`${name}, bias [n], ${act}`, () => {
          const a = rnd(sa);
          const b = rnd(sb);
          const n = tB ? sb[sb.length - 2]! : sb[sb.length - 1]!;
          const bias = rnd([n]);
          const w = act === 'prelu' ? rnd([n], 0, 0.5) : undefined;
          const fused = (): tf.Tensor => tf.fused.matMul({ a, b, transposeA: tA, transposeB: tB, bias, activation: act, preluActivationWeights: w, leakyreluAlpha: 0.3 });
          const nat = fused();
          // Reference: the unfused composition on plain wasm (plain wasm's fused kernel mis-indexes the bias off its XNNPACK path).
          const ref = withoutNativeKernels(() => tf.tidy(() => unfusedAct(tf.add(tf.matMul(a, b, tA, tB), bias), act, w, 0.3)));
          const k = tA ? sa[sa.length - 2]! : sa[sa.length - 1]!;
          expect(nat.shape).to.deep.equal(ref.shape);
          expectClose(nat.dataSync(), ref.dataSync(), k, `${name} ${act}`);
          if (!tA && !tB && sa.length === 2) {
            const plainFused = withoutNativeKernels(fused);
            expectClose(nat.dataSync(), plainFused.dataSync(), k, `${name} ${act} vs plain fused kernel`);
            plainFused.dispose();
          }
          tf.dispose([a, b, bias, nat, ref, ...(w ? [w] : [])]);
        });
      }
    }

    const biasShapes: [string, number[]][] = [
      ['[1] (scalar)', [1]],
      ['[1,n]', [1, 17]],
      ['[m,n]', [23, 17]],
      ['[batch,1,n]', [3, 1, 17]],
      ['[batch,m,1]', [3, 23, 1]],
    ];
    for (const [name, bshape] of biasShapes) {
      it(`bias broadcast ${name} on a [3,23,31]@[31,17] product, relu`, () => {
        const a = rnd([3, 23, 31]);
        const b = rnd([31, 17]);
        const bias = rnd(bshape);
        const nat = tf.fused.matMul({ a, b, bias, activation: 'relu' });
        const ref = withoutNativeKernels(() => tf.tidy(() => tf.relu(tf.add(tf.matMul(a, b), bias))));
        expect(nat.shape).to.deep.equal(ref.shape);
        expectClose(nat.dataSync(), ref.dataSync(), 31, `bias ${name}`);
        tf.dispose([a, b, bias, nat, ref]);
      });
    }

    it('prelu weights broadcast [m,n] and [1]', () => {
      const a = rnd([23, 31]);
      const b = rnd([31, 17]);
      for (const ws of [[23, 17], [1]]) {
        const w = rnd(ws, 0, 0.5);
        const nat = tf.fused.matMul({ a, b, activation: 'prelu', preluActivationWeights: w });
        const ref = withoutNativeKernels(() => tf.tidy(() => tf.prelu(tf.matMul(a, b), w)));
        expectClose(nat.dataSync(), ref.dataSync(), 31, `prelu [${ws}]`);
        tf.dispose([w, nat, ref]);
      }
      tf.dispose([a, b]);
    });

    it('a bias that does not fit the kernel view is handed to the wasm kernel (same error)', () => {
      const a = rnd([2, 3, 5, 7]);
      const b = rnd([2, 3, 7, 4]);
      const bias = rnd([3, 5, 4]);
      const msg = (): string => {
        try {
          tf.dispose(tf.fused.matMul({ a, b, bias }));
          return 'no error';
        } catch (e) {
          return (e as Error).message;
        }
      };
      expect(msg()).to.equal(withoutNativeKernels(msg));
      tf.dispose([a, b, bias]);
    });
  });

  describe('Conv2D / FusedConv2D', () => {
    const cases: [string, number[], number[], number | [number, number], 'same' | 'valid' | tf.backend_util.ExplicitPadding, number | [number, number]][] = [
      ['3×3 same', [1, 12, 10, 8], [3, 3, 8, 16], 1, 'same', 1],
      ['3×3 same stride 2 (asymmetric padding)', [2, 13, 12, 8], [3, 3, 8, 16], 2, 'same', 1],
      ['3×3 valid, stride [2,1]', [1, 12, 10, 8], [3, 3, 8, 5], [2, 1], 'valid', 1],
      ['3×3 dilation 2', [1, 15, 13, 4], [3, 3, 4, 6], 1, 'same', 2],
      ['1×1 (single sgemm)', [2, 9, 7, 32], [1, 1, 32, 24], 1, 'valid', 1],
      ['1×1 stride 2', [1, 14, 14, 16], [1, 1, 16, 32], 2, 'valid', 1],
      ['7×7/2, 3 channels (ResNet stem)', [1, 32, 32, 3], [7, 7, 3, 8], 2, 'same', 1],
      ['16×16/16 patch embedding', [1, 48, 32, 3], [16, 16, 3, 12], 16, 'valid', 1],
      ['5×5 same on a 3×3 input (filter larger than input)', [1, 3, 3, 2], [5, 5, 2, 3], 1, 'same', 1],
      ['explicit padding', [1, 8, 9, 3], [3, 2, 3, 4], 1, [[0, 0], [1, 2], [2, 0], [0, 0]], 1],
      ['1 in and 1 out channel', [1, 6, 6, 1], [3, 3, 1, 1], 1, 'valid', 1],
      ['large K (3×3×256)', [1, 6, 6, 256], [3, 3, 256, 8], 1, 'same', 1],
    ];
    for (const [name, xs, fs, strides, pad, dil] of cases) {
      it(`Conv2D ${name}`, () => {
        const x = rnd(xs) as tf.Tensor4D;
        const f = rnd(fs) as tf.Tensor4D;
        const r = both(() => tf.conv2d(x, f, strides, pad, 'NHWC', dil));
        expect(r.natShape).to.deep.equal(r.refShape);
        expectClose(r.nat, r.ref, fs[0]! * fs[1]! * fs[2]!, name);
        tf.dispose([x, f]);
      });
    }

    for (const act of ACTS) {
      it(`FusedConv2D 3×3/2 same + bias [outC] + ${act} matches plain wasm's fused and unfused kernels`, () => {
        const x = rnd([1, 11, 9, 6]) as tf.Tensor4D;
        const f = rnd([3, 3, 6, 10]) as tf.Tensor4D;
        const bias = rnd([10]);
        const w = act === 'prelu' ? rnd([10], 0, 0.5) : undefined;
        const fused = (): tf.Tensor => tf.fused.conv2d({ x, filter: f, strides: 2, pad: 'same', bias, activation: act, preluActivationWeights: w, leakyreluAlpha: 0.3 });
        const r = both(fused);
        expectClose(r.nat, r.ref, 54, `fused conv ${act}`);
        const unfused = withoutNativeKernels(() => tf.tidy(() => unfusedAct(tf.add(tf.conv2d(x, f, 2, 'same'), bias), act, w, 0.3)));
        expectClose(r.nat, unfused.dataSync(), 54, `fused conv ${act} vs unfused`);
        tf.dispose([x, f, bias, unfused, ...(w ? [w] : [])]);
      });
    }

    it('FusedConv2D with a broadcast [1,1,1] bias and a 1×1 filter', () => {
      const x = rnd([2, 5, 4, 7]) as tf.Tensor4D;
      const f = rnd([1, 1, 7, 3]) as tf.Tensor4D;
      const bias = rnd([1, 1, 1]);
      const nat = tf.fused.conv2d({ x, filter: f, strides: 1, pad: 'valid', bias, activation: 'elu' });
      const ref = withoutNativeKernels(() => tf.tidy(() => tf.elu(tf.add(tf.conv2d(x, f, 1, 'valid'), bias))));
      expectClose(nat.dataSync(), ref.dataSync(), 7, 'broadcast bias conv');
      tf.dispose([x, f, bias, nat, ref]);
    });

    it('NCHW is handed to the wasm kernel (same error as plain wasm)', () => {
      const x = rnd([1, 3, 8, 8]) as tf.Tensor4D;
      const f = rnd([3, 3, 3, 4]) as tf.Tensor4D;
      const msg = (): string => {
        try {
          tf.dispose(tf.conv2d(x, f, 1, 'same', 'NCHW'));
          return 'no error';
        } catch (e) {
          return (e as Error).message;
        }
      };
      expect(msg()).to.equal(withoutNativeKernels(msg));
      tf.dispose([x, f]);
    });
  });

  describe('safety and lifecycle', () => {
    it('the addon rejects views too short for the shapes instead of touching memory', () => {
      const addon = nativeAddon()!;
      const a = new Float32Array(6);
      const b = new Float32Array(6);
      const out = new Float32Array(3); // needs 4 for [2,3]@[3,2]
      expect(() => addon.matmul(a, b, out, 1, 2, 2, 3, 0, 0, 0, 0, null, 0, 0, 0, 0, 0, null, 0, 0, 0)).to.throw(RangeError, /out is too short/);
      expect(() => addon.matmul(a, b, new Float32Array(4), 2, 2, 2, 3, 0, 0, 6, 6, null, 0, 0, 0, 0, 0, null, 0, 0, 0)).to.throw(RangeError, /too short/);
      expect(() => addon.matmul(a, b, new Float32Array(4), 1, 2, 2, 3, 0, 0, 0, 0, new Float32Array(1), 0, 0, 1, 0, 0, null, 0, 0, 0)).to.throw(RangeError, /bias is too short/);
      expect(() => addon.matmul(a, b, new Float32Array(4), 1, 2, 2, 3, 0, 0, 0, 0, null, 0, 0, 0, 3, 0, null, 0, 0, 0)).to.throw(TypeError, /prelu activation needs weights/);
      expect(() => addon.conv2d(a, b, out, 1, 2, 3, 1, 2, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, null, 0, 0, 0, 0, 0, null, 0, 0, 0)).to.throw(RangeError, /out is too short/);
    });

    it('the addon also loads and runs in a worker thread (own scratch buffers), giving the same result', async () => {
      const { Worker } = await import('node:worker_threads');
      const addon = nativeAddon()!;
      const geom = [2, 9, 8, 5, 9, 8, 7, 3, 3, 1, 1, 1, 1, 1, 1]; // B,H,W,C,OH,OW,OC,fH,fW,sH,sW,dH,dW,pT,pL
      const x = Float32Array.from({ length: 2 * 9 * 8 * 5 }, (_, i) => Math.sin(i));
      const f = Float32Array.from({ length: 3 * 3 * 5 * 7 }, (_, i) => Math.cos(i));
      const mine = new Float32Array(2 * 9 * 8 * 7);
      addon.conv2d(x, f, mine, ...(geom as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number]), null, 0, 0, 0, 0, 0, null, 0, 0, 0);
      const code = `
        const { parentPort, workerData: w } = require('node:worker_threads');
        const a = require(w.path);
        const out = new Float32Array(w.n);
        a.conv2d(w.x, w.f, out, ...w.geom, null, 0, 0, 0, 0, 0, null, 0, 0, 0);
        parentPort.postMessage(out);`;
      const theirs = await new Promise<Float32Array>((resolve, reject) => {
        const wk = new Worker(code, { eval: true, workerData: { path: status!.addon, n: mine.length, x, f, geom } });
        wk.once('message', (m: Float32Array) => resolve(m));
        wk.once('error', reject);
      });
      expect(Array.from(theirs)).to.deep.equal(Array.from(mine));
    });

    it('no tensors or wasm allocations leak through the native kernels', async () => {
      const backend = tf.backend() as BackendWasm;
      const a = rnd([2, 1, 5, 7]);
      const b = rnd([1, 3, 7, 4]);
      const x = rnd([1, 9, 9, 4]) as tf.Tensor4D;
      const f = rnd([3, 3, 4, 5]) as tf.Tensor4D;
      const bias = rnd([4]);
      const ids = backend.numDataIds();
      await expectNoLeak(() => {
        for (let i = 0; i < 3; i++) {
          tf.tidy(() => {
            tf.matMul(a, b);
            tf.matMul(a, b, false, false);
            tf.fused.matMul({ a: tf.reshape(a, [10, 7]), b: tf.reshape(tf.slice(b, [0, 0, 0, 0], [1, 1, 7, 4]), [7, 4]), bias, activation: 'relu' });
            tf.conv2d(x, f, 1, 'same');
            tf.fused.conv2d({ x, filter: f, strides: 1, pad: 'same', bias: tf.ones([5]), activation: 'sigmoid' });
          });
        }
      }, 'native kernels');
      expect(backend.numDataIds(), 'wasm data ids').to.equal(ids);
      tf.dispose([a, b, x, f, bias]);
    });

    it('uninstall restores the original wasm kernels (and removes our own), install overrides them again', () => {
      const kernels = status!.kernels;
      const overrides = kernels.filter((k) => !CUSTOM_KERNELS.has(k));
      const custom = kernels.filter((k) => CUSTOM_KERNELS.has(k));
      expect(custom.length, 'custom kernels registered by default').to.be.above(0);
      const nat = overrides.map((k) => tf.getKernel(k, 'wasm').kernelFunc);
      uninstallNativeKernels();
      const plainFns = overrides.map((k) => tf.getKernel(k, 'wasm').kernelFunc);
      plainFns.forEach((fn, i) => expect(fn).to.not.equal(nat[i]));
      for (const k of custom) expect(tf.getKernel(k, 'wasm'), k).to.equal(undefined);
      expect(nativeAddon()).to.equal(undefined);
      const again = installNativeKernels('wasm', 'auto', { kernels });
      expect(again.enabled).to.equal(true);
      expect(again.kernels).to.deep.equal(kernels);
      expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc.name).to.equal('nativeMatMul');
      overrides.forEach((k, i) => expect(tf.getKernel(k, 'wasm').kernelFunc).to.not.equal(plainFns[i]));
      for (const k of custom) expect(tf.getKernel(k, 'wasm'), k).to.not.equal(undefined);
      expect(NATIVE_KERNELS.filter((k) => k.byDefault).map((k) => k.name)).to.include.members(['BatchMatMul', '_FusedMatMul', 'UolAttention']);
    });
  });
});
