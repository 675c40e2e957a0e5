/**
 * Loading the optional N-API addon (native/, built by tools/build-native.mjs with node-gyp and only a C compiler) and
 * its interface. The kernels registered on TF.js are in native-kernels.ts; installing them in native.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportToNativeLibraries, settings } from '../util/settings.js';

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
   * direct kernel (then `filter` may be null: only the packed copy is read); `residual` (out's shape) is added before
   * the activation. `packedKind` says which packing `packed` is: 1 packConvFilter (the default), 2
   * packWinogradFilter, 4 packWinograd4Filter.
   */
  conv2d(
    x: Float32Array, filter: Float32Array | null, out: Float32Array,
    batch: number, inH: number, inW: number, inC: number, outH: number, outW: number, outC: number,
    fH: number, fW: number, strideH: number, strideW: number, dilH: number, dilW: number, padTop: number, padLeft: number,
    bias: Float32Array | null, bs0: number, bs1: number, bs2: number, act: number, alpha: number,
    prelu: Float32Array | null, ps0: number, ps1: number, ps2: number, packed?: Float32Array | null, residual?: Float32Array | null,
    packedKind?: 1 | 2 | 4,
  ): void;
  /** The HWIO filter viewed as `[K, OC]` packed for the direct conv kernel (blocks of 64 output channels). */
  packConvFilter(filter: Float32Array, K: number, OC: number): Float32Array;
  /**
   * Rewrites a `[K, OC]` filter in place (OC a multiple of 64) into {@link UolBlasAddon.packConvFilter}'s layout
   * (`pack` 1) or back (0), through a temporary buffer freed at once.
   */
  repackInPlace(filter: Float32Array, K: number, OC: number, pack: 0 | 1): void;
  /** A 3×3 HWIO filter `[3,3,C,OC]` as Winograd F(2×2,3×3) weights `G g Gᵀ` (blocks of 64 output channels). */
  packWinogradFilter(filter: Float32Array, C: number, OC: number): Float32Array;
  /** A 3×3 HWIO filter `[3,3,C,OC]` as Winograd F(4×4,3×3) weights `G g Gᵀ` (6×6 per channel pair, blocks of 64 output channels). */
  packWinograd4Filter(filter: Float32Array, C: number, OC: number): Float32Array;
  /**
   * Fused Linear: `out [m,n] = act(x [m,k] @ w [k,n] + bias[n]) · scale[n] + residual [m,n]`; `act` 0 linear, 1 relu,
   * 7 exact GELU; bias, scale, residual may be null.
   */
  linear(
    x: Float32Array, w: Float32Array | null, out: Float32Array, m: number, n: number, k: number,
    bias: Float32Array | null, act: number, scale: Float32Array | null, residual: Float32Array | null, packed?: Float32Array | null,
  ): void;
  /** Which algorithm `linear` uses with a packed weight: the direct kernel or the packed GEMM. */
  linearPath(m: number, n: number, k: number): 'direct' | 'gemm';
  /**
   * One single-threaded product through the addon's own SGEMM (the primitive under every kernel), for its tests:
   * `c[m,n] = op(a)·op(b)` with row-major leading dimensions `lda`, `ldb`, `ldc` (`op(a)` stored `[k,m]` when `transA`).
   */
  gemm(
    transA: number, transB: number, m: number, n: number, k: number,
    a: Float32Array, lda: number, b: Float32Array, ldb: number, c: Float32Array, ldc: number,
  ): void;
  /** Sets the kernels' instruction-set level (-1 auto, 0 portable, 1 AVX2+FMA, 2 AVX-512; capped at the CPU's); returns the level in effect. */
  setIsa(level: -1 | 0 | 1 | 2): number;
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
   * NHWC max pooling: `out [B, outH, outW, C]` = the max over each window's taps inside the image (padding is not a
   * value, as in TF), window fH×fW at strides sH, sW from (−padTop, −padLeft). NaN follows x86 `maxps` (as XNNPACK).
   */
  maxPool(
    x: Float32Array, out: Float32Array, B: number, inH: number, inW: number, C: number, outH: number, outW: number,
    fH: number, fW: number, sH: number, sW: number, padTop: number, padLeft: number,
  ): void;
  /**
   * Multi-head self-attention core: `qkv [B·N, 3C]` (q pre-scaled; columns q|k|v, each `heads` blocks of C/heads) →
   * `out [B·N, C]`, the heads' `softmax(q kᵀ) v` side by side.
   */
  attention(qkv: Float32Array, out: Float32Array, B: number, N: number, heads: number, C: number): void;
  /**
   * Which algorithm `conv2d` uses for this geometry (B, inH, inW, inC, outH, outW, outC, fH, fW, sH, sW, dH, dW,
   * padTop, padLeft) when the filter is packed for it; a 16th argument 0 says the epilogue is not fusable (anything
   * but per-channel bias, residual and linear/relu/relu6), which rules out Winograd. `winograd` is F(2×2,3×3),
   * `winograd4` F(4×4,3×3) (chosen for maps of at least 49 tiles of 4×4).
   */
  convPath(...geometry: number[]): 'direct' | 'im2col' | 'winograd' | 'winograd4' | 'im2col-direct';
  /**
   * Forces the conv algorithm: -1 auto, 0 im2col + sgemm, 1 direct kernel (no Winograd), 2 Winograd F(2×2,3×3) where
   * it applies, 3 Winograd F(4×4,3×3) where it applies.
   */
  setConvMode(mode: -1 | 0 | 1 | 2 | 3): void;
  /** Microseconds an idle worker of the addon's thread pool spins before sleeping. */
  setSpin(us: number): void;
  /** Sets the addon's thread count (1..1024; OpenBLAS runs single-threaded inside its tasks). */
  setThreads(n: number): void;
  /** What the addon reports about itself (see {@link NativeLibraryInfo}). */
  info(): NativeLibraryInfo;
}

/** Instruction-set levels of the addon's kernels, lowest first (index = the addon's level number). */
export const ISA_LEVELS = ['portable', 'avx2', 'avx512'] as const;

/** One of {@link ISA_LEVELS}. */
export type IsaLevel = (typeof ISA_LEVELS)[number];

/** What the addon reports about itself. */
export interface NativeLibraryInfo {
  /** `uol` (our own GEMM) or `openblas` (a build made with UOL_BLAS=openblas, kept to compare against). */
  blas?: 'uol' | 'openblas';
  /** The kernels' instruction-set level in effect, and the best this CPU runs. */
  isa?: IsaLevel;
  isaDetected?: IsaLevel;
  /** The GEMM's kernel family (OpenBLAS's core name in an OpenBLAS build). */
  corename: string;
  /** A one-line description of the GEMM. */
  config: string;
  /** Threads of the addon's pool. */
  threads: number;
  procs: number;
  /** 1 when the direct conv/linear kernels run (every ISA level of this addon). */
  directConv?: number;
}

// The activation codes live in the platform-neutral native-state.ts (the core's ops pass them to fused kernels).
export { ACTIVATION_CODES, GELU_CODE } from './native-state.js';

/** How `OPENBLAS_CORETYPE` was decided. */
export interface CoretypeChoice {
  /** The value in effect, or undefined when OpenBLAS detects the core itself. */
  value?: string;
  /** `env` (set by the user), `auto` (set here from the CPU flags) or `unset`. */
  source: 'env' | 'auto' | 'unset';
  /** Why, in a few words. */
  note: string;
}

/** Absolute path where node-gyp puts the addon (`UOL_NATIVE_ADDON` overrides it, e.g. to test the no-addon path). */
export function addonPath(): string {
  const override = settings().nativeAddon;
  if (override) return path.resolve(override);
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', 'native', 'build', 'Release', 'uol_blas.node');
}

/** Where `UOL_BLAS=openblas node tools/build-native.mjs` puts the OpenBLAS comparison build of the addon. */
export function openblasAddonPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', 'native', 'build-openblas', 'build', 'Release', 'uol_blas.node');
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

/** Every addon this module has loaded (the default build, the OpenBLAS comparison build). */
export const loadedAddons = new Set<UolBlasAddon>();

/** The addon loaded in this process (one path at a time). */
export let loaded: { addon: UolBlasAddon; path: string; coretype: CoretypeChoice } | undefined;

function errMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0] ?? m;
}

/** Every function this version calls on the addon: a stale build (older source) is refused, not half used. */
const ADDON_FUNCTIONS = ['matmul', 'linear', 'linearPath', 'gemm', 'setIsa', 'layerNorm', 'attention', 'batchNorm', 'maxPool', 'conv2d', 'convPath', 'packConvFilter', 'packWinogradFilter', 'packWinograd4Filter', 'repackInPlace', 'setConvMode', 'setSpin', 'setThreads', 'info'] as const;

/** The functions of {@link ADDON_FUNCTIONS} that `addon` (a loaded module) lacks. */
function missingFunctions(addon: unknown): string[] {
  return ADDON_FUNCTIONS.filter((f) => typeof (addon as Record<string, unknown>)[f] !== 'function');
}

/**
 * What running without the addon costs and how to get the fast path, in one line (for callers to show once; the
 * library does not print). Figures from docs/perf/bench.md (`uol bench --suite backbones`).
 */
export function fallbackHint(buildScript: string): string {
  return `plain wasm kernels: ViT, ResNet and VGG backbones run about 9–27× slower than with the native addon (ViT-S/16 2.7 vs 28.1 img/s, ResNet-50 4.4 vs 38.6, VGG16-BN 0.77 vs 20.6 in docs/perf/bench.md); to build it (needs only a C compiler: build-essential or Xcode command-line tools): node ${buildScript}`;
}

/**
 * Why the addon at `p` could not serve the native kernels (missing, failing to load, or built from an older source),
 * or undefined when it could. Loads nothing into the kernels (the bench checks its comparison builds with this).
 */
export function addonProblem(p: string): string | undefined {
  if (!existsSync(p)) return `${p} is missing`;
  try {
    const missing = missingFunctions(require(p));
    return missing.length ? `${p} was built from an older source (no ${missing.join(', ')}); rebuild it` : undefined;
  } catch (e) {
    return `${p} failed to load (${errMessage(e)})`;
  }
}

/** Loads the addon once (setting OPENBLAS_CORETYPE first); returns it or the reason it is unavailable. */
export function loadAddon(p: string): { addon: UolBlasAddon; coretype: CoretypeChoice } | { reason: string; hint?: string } {
  if (loaded && loaded.path === p) return loaded;
  if (!existsSync(p)) {
    const build = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'build-native.mjs');
    return { reason: `native addon not built (${p} missing): plain wasm kernels; to build it (needs only a C compiler: build-essential / Xcode command-line tools): node ${build}`, hint: fallbackHint(build) };
  }
  const coretype = applyCoretype();
  try {
    const addon = require(p) as UolBlasAddon;
    const missing = missingFunctions(addon);
    if (missing.length) {
      return { reason: `native addon at ${p} was built from an older source (no ${missing.join(', ')}): plain wasm kernels; rebuild it with \`node tools/build-native.mjs\` (or npm rebuild)` };
    }
    loaded = { addon, path: p, coretype };
    loadedAddons.add(addon);
    return loaded;
  } catch (e) {
    return { reason: `native addon failed to load (${errMessage(e)}): plain wasm kernels` };
  }
}

