/**
 * Optional native acceleration: an N-API addon (native/, built by node-gyp against OpenBLAS when libopenblas-dev is
 * present) that overrides kernels on the wasm backend and adds a few of its own. The kernels read their inputs and
 * write their output in place on the wasm heap (`typedArrayFromHeap` views handed straight to C), so they cost no
 * copies. When the addon is absent or fails to load, everything runs on plain wasm and {@link NativeStatus.reason}
 * says why; nothing is printed.
 *
 * - Overrides of TF.js kernels: BatchMatMul/_FusedMatMul (OpenBLAS sgemm), Conv2D/FusedConv2D (a direct AVX-512
 *   kernel on filters packed once, or im2col + sgemm), FusedBatchNorm. Each falls back to the original wasm kernel for
 *   inputs it does not handle (non-float32, NCHW, bias ranks TF.js itself rejects), so registering it never narrows
 *   what works.
 * - Kernels of our own (`custom`: UolFusedLinear, UolLayerNorm, UolAttention, UolFusedConv2D), called through
 *   src/engine/fused.ts, which composes TF.js ops instead wherever they are not registered.
 * - Threads: the addon's own pool (native/src/pool.c; short spin, then sleep) with OpenBLAS single-threaded inside its
 *   tasks; `UOL_NATIVE_THREADS` sets the count (default: the cores this process may use).
 *
 * Kernels are listed in {@link NATIVE_KERNELS} (one entry per kernel name).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { exportToNativeLibraries, settings } from '../util/settings.js';
import { ACTIVATION_CODES, nativeStatus, recordNativeStatus } from './native-state.js';

const require = createRequire(import.meta.url);

/** The addon's interface (native/src/uol_blas.c documents the arguments). */
export interface UolBlasAddon {
  /**
   * `out[z] = epilogue(op(a[z]) @ op(b[z]))` for `z < batch`; `op(a)` is `[m,k]` (stored `[k,m]` when `transA`),
   * `op(b)` is `[k,n]` (stored `[n,k]` when `transB`), `out` is `[batch,m,n]`; a batch stride of 0 broadcasts one
   * matrix. Bias/prelu are broadcast onto `[batch,m,n]` through element strides `(s0,s1,s2)`; `act` is
   * {@link ACTIVATION_CODES}.
   */
  matmul(
    a: Float32Array, b: Float32Array, out: Float32Array,
    batch: number, m: number, n: number, k: number, transA: number, transB: number, aBatchStride: number, bBatchStride: number,
    bias: Float32Array | null, bs0: number, bs1: number, bs2: number, act: number, alpha: number,
    prelu: Float32Array | null, ps0: number, ps1: number, ps2: number,
  ): void;
  /**
   * NHWC convolution: `x [B,inH,inW,inC]`, HWIO `filter [fH,fW,inC,outC]`, `out [B,outH,outW,outC]`, zero padding;
   * the epilogue views `out` as `[B, outH·outW, outC]`. `packed` (from {@link UolBlasAddon.packConvFilter}) feeds the
   * direct kernel; `residual` (out's shape) is added before the activation.
   */
  conv2d(
    x: Float32Array, filter: Float32Array, out: Float32Array,
    batch: number, inH: number, inW: number, inC: number, outH: number, outW: number, outC: number,
    fH: number, fW: number, strideH: number, strideW: number, dilH: number, dilW: number, padTop: number, padLeft: number,
    bias: Float32Array | null, bs0: number, bs1: number, bs2: number, act: number, alpha: number,
    prelu: Float32Array | null, ps0: number, ps1: number, ps2: number, packed?: Float32Array | null, residual?: Float32Array | null,
    packedKind?: 1 | 2,
  ): void;
  /** The HWIO filter viewed as `[K, OC]` packed for the direct conv kernel (blocks of 64 output channels). */
  packConvFilter(filter: Float32Array, K: number, OC: number): Float32Array;
  /** A 3×3 HWIO filter `[3,3,C,OC]` as Winograd F(2×2,3×3) weights `G g Gᵀ` (blocks of 64 output channels). */
  packWinogradFilter(filter: Float32Array, C: number, OC: number): Float32Array;
  /**
   * Fused Linear: `out [m,n] = act(x [m,k] @ w [k,n] + bias[n]) · scale[n] + residual [m,n]`; `act` 0 linear, 1 relu,
   * 7 exact GELU; bias, scale, residual may be null.
   */
  linear(
    x: Float32Array, w: Float32Array, out: Float32Array, m: number, n: number, k: number,
    bias: Float32Array | null, act: number, scale: Float32Array | null, residual: Float32Array | null, packed?: Float32Array | null,
  ): void;
  /** Which algorithm `linear` uses with a packed weight: the direct AVX-512 kernel or OpenBLAS. */
  linearPath(m: number, n: number, k: number): 'direct' | 'blas';
  /** LayerNorm over the last axis of `x [rows, C]` (biased variance), `out` the same shape. */
  layerNorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, out: Float32Array, rows: number, C: number, eps: number): void;
  /**
   * Inference batch norm over the last axis of `x [rows, C]`: `(x − mean)·scale/sqrt(variance + eps) + offset`
   * (offset/scale may be null).
   */
  batchNorm(
    x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null, scale: Float32Array | null,
    out: Float32Array, rows: number, C: number, eps: number,
  ): void;
  /**
   * Multi-head self-attention core: `qkv [B·N, 3C]` (q pre-scaled; columns q|k|v, each `heads` blocks of C/heads) →
   * `out [B·N, C]`, the heads' `softmax(q kᵀ) v` side by side.
   */
  attention(qkv: Float32Array, out: Float32Array, B: number, N: number, heads: number, C: number): void;
  /**
   * Which algorithm `conv2d` uses for this geometry (B, inH, inW, inC, outH, outW, outC, fH, fW, sH, sW, dH, dW,
   * padTop, padLeft) when the filter is packed for it; a 16th argument 0 says the epilogue is not fusable (anything
   * but per-channel bias, residual and linear/relu/relu6), which rules out Winograd.
   */
  convPath(...geometry: number[]): 'direct' | 'im2col' | 'winograd' | 'im2col-direct';
  /** Forces the conv algorithm: -1 auto, 0 im2col + sgemm, 1 direct AVX-512 kernel where supported (no Winograd). */
  setConvMode(mode: -1 | 0 | 1): void;
  /** Microseconds an idle worker of the addon's thread pool spins before sleeping. */
  setSpin(us: number): void;
  /** Sets the addon's thread count (1..1024; OpenBLAS runs single-threaded inside its tasks). */
  setThreads(n: number): void;
  /** What OpenBLAS reports about itself; `threads` is the addon's pool, `directConv` 1 when the AVX-512 kernels run. */
  info(): { corename: string; config: string; threads: number; procs: number; directConv?: number };
}

// The codes and the last install's outcome live in a platform-neutral module the core may import.
export { ACTIVATION_CODES, GELU_CODE, nativeStatus } from './native-state.js';

/** How `OPENBLAS_CORETYPE` was decided. */
export interface CoretypeChoice {
  /** The value in effect, or undefined when OpenBLAS detects the core itself. */
  value?: string;
  /** `env` (set by the user), `auto` (set here from the CPU flags) or `unset`. */
  source: 'env' | 'auto' | 'unset';
  /** Why, in a few words. */
  note: string;
}

/** Status of the native kernels, reported by `uol info`. */
export interface NativeStatus {
  /** True when native kernels are registered. */
  enabled: boolean;
  /** What was asked for: `off` (--native off / UOL_NATIVE=0) or `auto`. */
  requested: 'auto' | 'off';
  /** Why (not) enabled. */
  reason: string;
  /** Kernel names overridden. */
  kernels: string[];
  /** Path of the addon, when found. */
  addon?: string;
  /** OpenBLAS as it reports itself (`corename` is the kernel family in use); `threads` is the addon's thread pool. */
  library?: { corename: string; config: string; threads: number; procs: number; directConv?: number };
  /** How OPENBLAS_CORETYPE was chosen. */
  coretype?: CoretypeChoice;
}

/** Options for {@link installNativeKernels}. */
export interface NativeOptions {
  /** Kernel names to register (default: those with `byDefault`; env `UOL_NATIVE_KERNELS=a,b|all|default`). */
  kernels?: string[];
  /** Addon path (default {@link addonPath}); tests point it elsewhere to exercise the fallback. */
  addonPath?: string;
  /** Threads of the addon's pool (default: env `UOL_NATIVE_THREADS`, else all cores this process may use). */
  threads?: number;
}

/** Absolute path where node-gyp puts the addon (`UOL_NATIVE_ADDON` overrides it, e.g. to test the no-addon path). */
export function addonPath(): string {
  const override = settings().nativeAddon;
  if (override) return path.resolve(override);
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', 'native', 'build', 'Release', 'uol_blas.node');
}

/**
 * The OpenBLAS core type to force for a CPU with these `/proc/cpuinfo` flags, or undefined to let OpenBLAS detect.
 * Debian's OpenBLAS 0.3.21 detects cores by CPUID model and falls back to Prescott kernels (5× slower) on models it does
 * not know, which happens on recent or virtualised Xeons (research/ecosystem.md §3). Forcing the kernel family that
 * matches the instruction set is never worse: for a known model it is the family OpenBLAS would pick (SkylakeX for
 * AVX-512 F/BW/DQ/VL cores, Haswell for AVX2+FMA ones; Zen uses the Haswell sgemm kernels), for an unknown one it
 * restores the 5×.
 */
export function chooseCoretype(flags: ReadonlySet<string>): string | undefined {
  if (['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) return 'SKYLAKEX';
  if (flags.has('avx2') && flags.has('fma')) return 'HASWELL';
  return undefined;
}

/** The `flags` of the first CPU in /proc/cpuinfo (empty off Linux/x86). */
export function cpuFlags(cpuinfo?: string): Set<string> {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return new Set();
    }
  }
  const line = text.split('\n').find((l) => /^flags\s*:/.test(l));
  return new Set(line ? line.replace(/^flags\s*:/, '').trim().split(/\s+/) : []);
}

/** Sets OPENBLAS_CORETYPE (before the addon, hence OpenBLAS, loads) when the user has not. */
function applyCoretype(): CoretypeChoice {
  const env = settings().openblasCoretype;
  if (env) return { value: env, source: 'env', note: 'OPENBLAS_CORETYPE set by the user' };
  if (process.arch !== 'x64') return { source: 'unset', note: `OpenBLAS detects the core (${process.arch})` };
  const flags = cpuFlags();
  const pick = chooseCoretype(flags);
  if (!pick) return { source: 'unset', note: 'no AVX2/AVX-512 flags: OpenBLAS detects the core' };
  exportToNativeLibraries('OPENBLAS_CORETYPE', pick);
  return { value: pick, source: 'auto', note: `from CPU flags (${pick === 'SKYLAKEX' ? 'AVX-512' : 'AVX2+FMA'})` };
}

let loaded: { addon: UolBlasAddon; path: string; coretype: CoretypeChoice } | undefined;

function errMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0] ?? m;
}

/** Every function this version calls on the addon: a stale build (older source) is refused, not half used. */
const ADDON_FUNCTIONS = ['matmul', 'linear', 'linearPath', 'layerNorm', 'attention', 'batchNorm', 'conv2d', 'convPath', 'packConvFilter', 'packWinogradFilter', 'setConvMode', 'setSpin', 'setThreads', 'info'] as const;

/** Loads the addon once (setting OPENBLAS_CORETYPE first); returns it or the reason it is unavailable. */
function loadAddon(p: string): { addon: UolBlasAddon; coretype: CoretypeChoice } | { reason: string } {
  if (loaded && loaded.path === p) return loaded;
  if (!existsSync(p)) {
    const build = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'build-native.mjs');
    return { reason: `native addon not built (${p} missing): plain wasm kernels; to build it: sudo apt-get install -y libopenblas-dev && node ${build}` };
  }
  const coretype = applyCoretype();
  try {
    const addon = require(p) as UolBlasAddon;
    const missing = ADDON_FUNCTIONS.filter((f) => typeof (addon as unknown as Record<string, unknown>)[f] !== 'function');
    if (missing.length) {
      return { reason: `native addon at ${p} was built from an older source (no ${missing.join(', ')}): plain wasm kernels; rebuild it with \`node tools/build-native.mjs\` (or npm rebuild)` };
    }
    loaded = { addon, path: p, coretype };
    return loaded;
  } catch (e) {
    return { reason: `native addon failed to load (${errMessage(e)}): plain wasm kernels` };
  }
}

/** The loaded addon (after a successful {@link installNativeKernels}), for code that calls it directly. */
export function nativeAddon(): UolBlasAddon | undefined {
  return installed ? loaded?.addon : undefined;
}

/**
 * Element strides of a tensor of shape `wShape` broadcast (numpy rules, right-aligned) onto `outShape`, collapsed over
 * `groups` (lists of consecutive dims of `outShape`), or undefined when the broadcast is impossible or the dims of a
 * group cannot be walked with one stride.
 * @example broadcastStrides([2,5,7], [[0],[1],[2]], [7]) → [0,0,1]
 */
export function broadcastStrides(outShape: readonly number[], groups: readonly (readonly number[])[], wShape: readonly number[]): number[] | undefined {
  const r = outShape.length;
  if (wShape.length > r) {
    // Leading dims of size 1 are harmless; anything else does not fit.
    if (wShape.slice(0, wShape.length - r).some((d) => d !== 1)) return undefined;
    wShape = wShape.slice(wShape.length - r);
  }
  const aligned = [...new Array<number>(r - wShape.length).fill(1), ...wShape];
  const strides = new Array<number>(r).fill(0);
  let s = 1;
  for (let d = r - 1; d >= 0; d--) {
    const w = aligned[d]!;
    const o = outShape[d]!;
    if (w === o && w !== 1) strides[d] = s;
    else if (w !== 1) return undefined;
    s *= w;
  }
  const out: number[] = [];
  for (const g of groups) {
    const dims = g.filter((d) => outShape[d]! > 1);
    if (dims.length === 0) {
      out.push(0);
      continue;
    }
    for (let i = 0; i + 1 < dims.length; i++) {
      const p = dims[i]!;
      const q = dims[i + 1]!;
      if (strides[p] !== strides[q]! * outShape[q]!) return undefined;
    }
    out.push(strides[dims[dims.length - 1]!]!);
  }
  return out;
}

type KernelParams = Parameters<tf.KernelFunc>[0];
type KernelResult = ReturnType<tf.KernelFunc>;
type TensorInfo = tf.TensorInfo;

/** What a kernel factory gets. */
export interface NativeKernelContext {
  addon: UolBlasAddon;
  /** The wasm kernel this one replaces (for inputs the native path does not handle); custom kernels get one that throws. */
  original: tf.KernelFunc;
}

/** A native kernel: TF.js kernel name, whether it is on by default, and its factory. */
export interface NativeKernelSpec {
  name: string;
  /** Registered unless the user picks kernels explicitly. */
  byDefault: boolean;
  /**
   * A kernel of our own (no TF.js op of that name): registered without an original, called through
   * src/engine/fused.ts, which composes TF.js ops instead whenever it is not registered on the active backend.
   */
  custom?: boolean;
  make(ctx: NativeKernelContext): tf.KernelFunc;
}

interface Epilogue {
  bias: Float32Array | null;
  bs: number[];
  act: number;
  alpha: number;
  prelu: Float32Array | null;
  ps: number[];
}

const NO_STRIDES = [0, 0, 0];

/** Heap views and strides for bias/prelu, or undefined when the native path cannot take them. */
function epilogueFor(
  backend: BackendWasm, outShape: number[], groups: number[][],
  bias: TensorInfo | undefined, activation: string, alpha: number | undefined, prelu: TensorInfo | undefined,
): Epilogue | undefined {
  const act = ACTIVATION_CODES[activation];
  if (act === undefined) return undefined;
  let bs = NO_STRIDES;
  let ps = NO_STRIDES;
  if (bias) {
    if (bias.dtype !== 'float32') return undefined;
    const s = broadcastStrides(outShape, groups, bias.shape);
    if (!s) return undefined;
    bs = s;
  }
  const usePrelu = act === ACTIVATION_CODES.prelu;
  if (usePrelu) {
    if (!prelu || prelu.dtype !== 'float32') return undefined;
    const s = broadcastStrides(outShape, groups, prelu.shape);
    if (!s) return undefined;
    ps = s;
  }
  // Views are made by the caller after makeOutput (which may grow, and so detach, the heap).
  return {
    bias: bias ? (backend.typedArrayFromHeap(bias) as Float32Array) : null,
    bs,
    act,
    alpha: alpha ?? 0.2,
    prelu: usePrelu && prelu ? (backend.typedArrayFromHeap(prelu) as Float32Array) : null,
    ps,
  };
}

interface MatmulInputs {
  a: TensorInfo;
  b: TensorInfo;
  bias?: TensorInfo;
  preluActivationWeights?: TensorInfo;
}

interface MatmulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

/** BatchMatMul / _FusedMatMul on OpenBLAS, with full numpy-style batch broadcasting. */
function matmulKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon, original } = ctx;
  const nativeMatMul = (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { a, b, bias, preluActivationWeights: prelu } = params.inputs as unknown as MatmulInputs;
    const attrs = (params.attrs ?? {}) as unknown as MatmulAttrs;
    const transA = !!attrs.transposeA;
    const transB = !!attrs.transposeB;
    const activation = attrs.activation ?? 'linear';
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return original(params);
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const kb = transB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    if (k !== kb) return original(params); // lets TF.js raise its own error
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    let outer: number[];
    try {
      outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
    } catch {
      return original(params);
    }
    const batch = tf.util.sizeFromShape(outer);
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    const kernelShape = [batch, m, n];
    if (ACTIVATION_CODES[activation] === undefined) return original(params);
    // Cheap pre-check so we never allocate an output we then abandon.
    if (bias && (bias.dtype !== 'float32' || !broadcastStrides(kernelShape, [[0], [1], [2]], bias.shape))) return original(params);
    if (activation === 'prelu' && (!prelu || prelu.dtype !== 'float32' || !broadcastStrides(kernelShape, [[0], [1], [2]], prelu.shape))) {
      return original(params);
    }
    const out = backend.makeOutput(kernelShape, 'float32');
    const ep = epilogueFor(backend, kernelShape, [[0], [1], [2]], bias, activation, attrs.leakyreluAlpha, prelu)!;
    const av = backend.typedArrayFromHeap(a) as Float32Array;
    const bv = backend.typedArrayFromHeap(b) as Float32Array;
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    const simple = batchA === 1 || batchB === 1 || (outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]));
    if (simple) {
      addon.matmul(
        av, bv, ov, batch, m, n, k, transA ? 1 : 0, transB ? 1 : 0, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n,
        ep.bias, ep.bs[0]!, ep.bs[1]!, ep.bs[2]!, ep.act, ep.alpha, ep.prelu, ep.ps[0]!, ep.ps[1]!, ep.ps[2]!,
      );
    } else {
      // General broadcasting of the outer dims (e.g. [2,1,m,k] @ [1,3,k,n]): one product per output batch.
      const r = outer.length;
      const pa = [...new Array<number>(r - outerA.length).fill(1), ...outerA];
      const pb = [...new Array<number>(r - outerB.length).fill(1), ...outerB];
      const idx = new Array<number>(r).fill(0);
      for (let z = 0; z < batch; z++) {
        let za = 0;
        let zb = 0;
        for (let d = 0; d < r; d++) {
          za = za * pa[d]! + (pa[d] === 1 ? 0 : idx[d]!);
          zb = zb * pb[d]! + (pb[d] === 1 ? 0 : idx[d]!);
        }
        addon.matmul(
          av.subarray(za * m * k, (za + 1) * m * k), bv.subarray(zb * k * n, (zb + 1) * k * n), ov.subarray(z * m * n, (z + 1) * m * n),
          1, m, n, k, transA ? 1 : 0, transB ? 1 : 0, 0, 0,
          ep.bias ? ep.bias.subarray(z * ep.bs[0]!) : null, 0, ep.bs[1]!, ep.bs[2]!, ep.act, ep.alpha,
          ep.prelu ? ep.prelu.subarray(z * ep.ps[0]!) : null, 0, ep.ps[1]!, ep.ps[2]!,
        );
        for (let d = r - 1; d >= 0; d--) {
          if (++idx[d]! < outer[d]!) break;
          idx[d] = 0;
        }
      }
    }
    out.shape = [...outer, m, n];
    return out;
  };
  return nativeMatMul;
}

interface ConvInputs {
  x: TensorInfo;
  filter: TensorInfo;
  bias?: TensorInfo;
  preluActivationWeights?: TensorInfo;
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
}

/** A view of `t` on the wasm heap (null for an absent optional input). */
const heap = (backend: BackendWasm, t: TensorInfo | undefined): Float32Array | null => (t ? (backend.typedArrayFromHeap(t) as Float32Array) : null);

/**
 * Conv filters and linear weights packed for the direct kernel, by the filter's dataId (TF.js tensors are immutable and a new tensor gets a
 * new dataId object, so an entry can never go stale; it is collected with the tensor). Packing happens once, at the
 * first forward pass.
 */
const packedFilters = new WeakMap<object, Float32Array>();
/** 3×3 filters packed for the Winograd path, likewise by dataId. */
const winogradFilters = new WeakMap<object, Float32Array>();

/** Runs the addon's conv2d for `info` (a conv TF.js accepted), packing the filter once when the direct kernel runs. */
function runConv(
  addon: UolBlasAddon, backend: BackendWasm, info: tf.backend_util.Conv2DInfo, x: TensorInfo, filter: TensorInfo,
  epilogue: (out: TensorInfo) => Epilogue, fusable: boolean, residual?: TensorInfo,
): TensorInfo {
  const geom = [
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left,
  ] as const;
  const path = addon.convPath(...geom, fusable ? 1 : 0);
  let packed: Float32Array | null = null;
  if (path === 'winograd') {
    packed = winogradFilters.get(filter.dataId) ?? null;
    if (!packed) {
      packed = addon.packWinogradFilter(heap(backend, filter)!, info.inChannels, info.outChannels);
      winogradFilters.set(filter.dataId, packed);
    }
  } else if (path === 'direct' || path === 'im2col-direct') {
    packed = packedFilters.get(filter.dataId) ?? null;
    if (!packed) {
      packed = addon.packConvFilter(heap(backend, filter)!, info.filterHeight * info.filterWidth * info.inChannels, info.outChannels);
      packedFilters.set(filter.dataId, packed);
    }
  }
  const out = backend.makeOutput(info.outShape, 'float32');
  const ep = epilogue(out);
  addon.conv2d(
    heap(backend, x)!, heap(backend, filter)!, heap(backend, out)!, ...geom,
    ep.bias, ep.bs[0]!, ep.bs[1]!, ep.bs[2]!, ep.act, ep.alpha, ep.prelu, ep.ps[0]!, ep.ps[1]!, ep.ps[2]!, packed, heap(backend, residual),
    path === 'winograd' ? 2 : 1,
  );
  return out;
}

/** True when the conv epilogue can run inside the direct/Winograd kernels: per-channel bias (or none), linear/relu/relu6. */
function convFusable(outShape: number[], bias: TensorInfo | undefined, activation: string): boolean {
  if (activation !== 'linear' && activation !== 'relu' && activation !== 'relu6') return false;
  if (!bias) return true;
  const s = broadcastStrides(outShape, [[0], [1, 2], [3]], bias.shape);
  return !!s && s[1] === 0 && s[2] === 1 && (s[0] === 0 || outShape[0] === 1);
}

/**
 * Conv2D / FusedConv2D (NHWC): the addon's direct AVX-512 kernel on a packed copy of the filter where it applies,
 * else im2col + sgemm (1×1 stride-1 convolutions are a single sgemm).
 */
function convKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon, original } = ctx;
  const nativeConv2D = (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x, filter, bias, preluActivationWeights: prelu } = params.inputs as unknown as ConvInputs;
    const attrs = params.attrs as unknown as ConvAttrs;
    const activation = attrs.activation ?? 'linear';
    if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4) return original(params);
    if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || ACTIVATION_CODES[activation] === undefined) return original(params);
    let info: tf.backend_util.Conv2DInfo;
    try {
      info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
        attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast',
      );
    } catch {
      return original(params);
    }
    if (info.inChannels !== filter.shape[2]) return original(params);
    const outShape = info.outShape;
    const groups = [[0], [1, 2], [3]];
    if (bias && (bias.dtype !== 'float32' || !broadcastStrides(outShape, groups, bias.shape))) return original(params);
    if (activation === 'prelu' && (!prelu || prelu.dtype !== 'float32' || !broadcastStrides(outShape, groups, prelu.shape))) return original(params);
    return runConv(addon, backend, info, x, filter, () => epilogueFor(backend, outShape, groups, bias, activation, attrs.leakyreluAlpha, prelu)!, convFusable(outShape, bias, activation));
  };
  return nativeConv2D;
}

/**
 * `UolFusedConv2D` (see fused.ts): `act(conv2d(x, filter) + bias + residual)` — a ResNet block's last convolution
 * with its shortcut and ReLU in one pass.
 */
function fusedConvResidualKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x, filter, bias, residual } = params.inputs as unknown as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; residual?: TensorInfo };
    const { strides, pad, activation } = params.attrs as unknown as { strides: number; pad: number | 'same' | 'valid' | tf.backend_util.ExplicitPadding; activation: string };
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, 1, pad, undefined, false, 'channelsLast',
    );
    return runConv(addon, backend, info, x, filter, () => epilogueFor(backend, info.outShape, [[0], [1, 2], [3]], bias, activation, undefined, undefined)!, convFusable(info.outShape, bias, activation), residual);
  };
}

interface FusedLinearInputs {
  x: TensorInfo;
  w: TensorInfo;
  bias?: TensorInfo;
  scale?: TensorInfo;
  residual?: TensorInfo;
}

/**
 * `UolFusedLinear` (see fused.ts): `act(x @ w + bias) · scale + residual` on 2-D float32 tensors. On AVX-512 CPUs the
 * weight is packed once (cached by dataId, like conv filters) and multiplied by the direct kernel, which beats
 * OpenBLAS (that re-packs the weight on every call) on the ViT's 197-row products.
 */
function fusedLinearKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x, w, bias, scale, residual } = params.inputs as unknown as FusedLinearInputs;
    const act = (params.attrs as unknown as { activation: number }).activation;
    const [m, k] = x.shape as [number, number];
    const n = w.shape[1]!;
    let packed: Float32Array | null = null;
    if (addon.linearPath(m, n, k) === 'direct') {
      packed = packedFilters.get(w.dataId) ?? null;
      if (!packed) {
        packed = addon.packConvFilter(heap(backend, w)!, k, n);
        packedFilters.set(w.dataId, packed);
      }
    }
    const out = backend.makeOutput([m, n], 'float32');
    addon.linear(heap(backend, x)!, heap(backend, w)!, heap(backend, out)!, m, n, k, heap(backend, bias), act, heap(backend, scale), heap(backend, residual), packed);
    return out;
  };
}

/** `UolLayerNorm` (see fused.ts): LayerNorm over the last axis of a 2-D float32 tensor. */
function layerNormKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x, gamma, beta } = params.inputs as unknown as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const eps = (params.attrs as unknown as { eps: number }).eps;
    const [rows, C] = x.shape as [number, number];
    const out = backend.makeOutput([rows, C], 'float32');
    addon.layerNorm(heap(backend, x)!, heap(backend, gamma)!, heap(backend, beta)!, heap(backend, out)!, rows, C, eps);
    return out;
  };
}

/** `UolAttention` (see fused.ts): multi-head attention core on a fused qkv projection. */
function attentionKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { qkv } = params.inputs as unknown as { qkv: TensorInfo };
    const { batch, heads } = params.attrs as unknown as { batch: number; heads: number };
    const rows = qkv.shape[0]!;
    const C = qkv.shape[1]! / 3;
    const out = backend.makeOutput([rows, C], 'float32');
    addon.attention(heap(backend, qkv)!, heap(backend, out)!, batch, rows / batch, heads, C);
    return out;
  };
}

/**
 * FusedBatchNorm (inference batch norm, e.g. in tfjs LayersModels like the embedded MobileNetV2, where wasm runs it
 * scalar): native when every parameter has one value per channel of the last axis, else the wasm kernel.
 */
function batchNormKernel(ctx: NativeKernelContext): tf.KernelFunc {
  const { addon, original } = ctx;
  return (params: KernelParams): KernelResult => {
    const backend = params.backend as BackendWasm;
    const { x, mean, variance, offset, scale } = params.inputs as unknown as { x: TensorInfo; mean: TensorInfo; variance: TensorInfo; offset?: TensorInfo; scale?: TensorInfo };
    const eps = (params.attrs as unknown as { varianceEpsilon: number }).varianceEpsilon;
    const C = x.shape[x.shape.length - 1] ?? 0;
    const perChannel = (t: TensorInfo | undefined): boolean => !t || (t.dtype === 'float32' && tf.util.sizeFromShape(t.shape) === C);
    if (x.dtype !== 'float32' || x.shape.length < 1 || C === 0 || ![mean, variance, offset, scale].every(perChannel)) return original(params);
    const out = backend.makeOutput(x.shape, 'float32');
    const rows = tf.util.sizeFromShape(x.shape) / C;
    addon.batchNorm(heap(backend, x)!, heap(backend, mean)!, heap(backend, variance)!, heap(backend, offset), heap(backend, scale), heap(backend, out)!, rows, C, eps);
    return out;
  };
}

/**
 * Every native kernel. Conv2D/FusedConv2D are on by default only where OpenBLAS beats XNNPACK (measured with
 * `uol bench --suite matmul`, see README "Native kernels").
 */
export const NATIVE_KERNELS: readonly NativeKernelSpec[] = [
  { name: 'BatchMatMul', byDefault: true, make: matmulKernel },
  { name: '_FusedMatMul', byDefault: true, make: matmulKernel },
  { name: 'Conv2D', byDefault: true, make: convKernel },
  { name: 'FusedConv2D', byDefault: true, make: convKernel },
  { name: 'FusedBatchNorm', byDefault: true, make: batchNormKernel },
  { name: 'UolFusedLinear', byDefault: true, custom: true, make: fusedLinearKernel },
  { name: 'UolFusedConv2D', byDefault: true, custom: true, make: fusedConvResidualKernel },
  { name: 'UolLayerNorm', byDefault: true, custom: true, make: layerNormKernel },
  { name: 'UolAttention', byDefault: true, custom: true, make: attentionKernel },
];

/** Names of our own kernels (no TF.js op of that name), registered on wasm while native kernels are installed. */
export const CUSTOM_KERNELS = new Set(NATIVE_KERNELS.filter((k) => k.custom).map((k) => k.name));

const noOriginal = (name: string): tf.KernelFunc => () => {
  throw new Error(`native kernel ${name} has no plain-wasm fallback`);
};

const originals = new Map<string, tf.KernelConfig>();
/** Custom kernels we registered (removed again on uninstall). */
const customRegistered = new Set<string>();
/** Status while native kernels are registered. */
let installed: NativeStatus | undefined;

function pickKernels(opts: NativeOptions): string[] | string {
  const env = settings().nativeKernels;
  let names: string[];
  if (opts.kernels) names = opts.kernels;
  else if (env && env !== 'default') names = env === 'all' ? NATIVE_KERNELS.map((k) => k.name) : env.split(',').map((s) => s.trim()).filter(Boolean);
  else names = NATIVE_KERNELS.filter((k) => k.byDefault).map((k) => k.name);
  const unknown = names.filter((n) => !NATIVE_KERNELS.some((k) => k.name === n));
  if (unknown.length) return `unknown native kernel "${unknown[0]}" (known: ${NATIVE_KERNELS.map((k) => k.name).join(', ')})`;
  return names;
}

/** Restores the plain wasm kernels (no-op when none are overridden). */
export function uninstallNativeKernels(): void {
  for (const [name, cfg] of originals) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(cfg);
  }
  originals.clear();
  for (const name of customRegistered) tf.unregisterKernel(name, 'wasm');
  customRegistered.clear();
  if (installed) recordNativeStatus({ ...installed, enabled: false, kernels: [], reason: 'uninstalled: plain wasm kernels' });
  installed = undefined;
}

/**
 * Puts back a state saved with {@link nativeStatus}: re-registers its kernels when it was enabled, else restores plain
 * wasm kernels and its status (reason included).
 */
export function restoreNativeKernels(saved: NativeStatus | undefined): void {
  if (saved?.enabled) {
    installNativeKernels('wasm', 'auto', saved.addon ? { kernels: saved.kernels, addonPath: saved.addon } : { kernels: saved.kernels });
    return;
  }
  uninstallNativeKernels();
  recordNativeStatus(saved);
}

/**
 * Runs `fn` (synchronously) on the plain wasm kernels, then puts the native kernels that were installed back. For
 * parity tests and benchmarks that compare both in one process.
 */
export function withoutNativeKernels<T>(fn: () => T): T {
  const before = nativeStatus();
  uninstallNativeKernels();
  try {
    return fn();
  } finally {
    restoreNativeKernels(before);
  }
}

/**
 * Registers native kernels for `backend` when possible (wasm only), replacing any set registered before.
 * Never throws for a missing or broken addon: the status says why the kernels are off.
 * @param mode `off` disables (and restores plain wasm kernels); `auto` uses the addon when it exists and loads.
 */
export function installNativeKernels(backend: string, mode: 'auto' | 'off', opts: NativeOptions = {}): NativeStatus {
  return recordNativeStatus(tryInstall(backend, mode, opts))!;
}

function tryInstall(backend: string, mode: 'auto' | 'off', opts: NativeOptions): NativeStatus {
  uninstallNativeKernels();
  if (mode === 'off') return { enabled: false, requested: 'off', reason: 'disabled (--native off or UOL_NATIVE=0)', kernels: [] };
  if (backend !== 'wasm') return { enabled: false, requested: 'auto', reason: `native kernels apply to the wasm backend only (active: ${backend})`, kernels: [] };
  const p = opts.addonPath ?? addonPath();
  const names = pickKernels(opts);
  if (typeof names === 'string') return { enabled: false, requested: 'auto', reason: names, kernels: [] };
  const r = loadAddon(p);
  if ('reason' in r) return { enabled: false, requested: 'auto', reason: r.reason, kernels: [] };
  const threads = opts.threads ?? settings().nativeThreads;
  if (threads !== undefined && Number.isInteger(threads) && threads >= 1) r.addon.setThreads(threads);
  const done: string[] = [];
  for (const spec of NATIVE_KERNELS) {
    if (!names.includes(spec.name)) continue;
    if (spec.custom) {
      if (tf.getKernel(spec.name, 'wasm')) tf.unregisterKernel(spec.name, 'wasm');
      tf.registerKernel({ kernelName: spec.name, backendName: 'wasm', kernelFunc: spec.make({ addon: r.addon, original: noOriginal(spec.name) }) });
      customRegistered.add(spec.name);
      done.push(spec.name);
      continue;
    }
    const cfg = tf.getKernel(spec.name, 'wasm');
    if (!cfg) continue;
    originals.set(spec.name, cfg);
    const kernelFunc = spec.make({ addon: r.addon, original: cfg.kernelFunc });
    tf.unregisterKernel(spec.name, 'wasm');
    tf.registerKernel({ kernelName: spec.name, backendName: 'wasm', kernelFunc });
    done.push(spec.name);
  }
  const library = r.addon.info();
  installed = {
    enabled: done.length > 0,
    requested: 'auto',
    reason: done.length > 0 ? `OpenBLAS ${library.corename} via ${path.basename(p)}` : 'no kernels selected',
    kernels: done,
    addon: p,
    library,
    coretype: r.coretype,
  };
  return installed;
}
