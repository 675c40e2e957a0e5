/**
 * Optional native acceleration: an N-API addon (native/, built by node-gyp; our own packed SGEMM and convolution kernels,
 * chosen per CPU: AVX-512, AVX2+FMA or portable C; OpenBLAS only in the UOL_BLAS=openblas comparison build) that
 * overrides kernels on the wasm backend and adds a few of its own. The kernels read their inputs and
 * write their output in place on the wasm heap (`typedArrayFromHeap` views handed straight to C), so they cost no
 * copies. When the addon is absent or fails to load, everything runs on plain wasm and {@link NativeStatus.reason}
 * says why; nothing is printed.
 *
 * - Overrides of TF.js kernels: BatchMatMul/_FusedMatMul (our sgemm), Conv2D/FusedConv2D (direct and Winograd
 *   kernels at every ISA level on filters packed once, or im2col + sgemm), FusedBatchNorm. Each falls back to the original wasm kernel for
 *   inputs it does not handle (non-float32, NCHW, bias ranks TF.js itself rejects), so registering it never narrows
 *   what works.
 * - Kernels of our own (`custom`: UolFusedLinear, UolLayerNorm, UolAttention, UolFusedConv2D, UolBottleneck), called through
 *   src/engine/fused.ts, which composes TF.js ops instead wherever they are not registered.
 * - Threads: the addon's own pool (native/src/pool.c; short spin, then sleep), single-threaded kernels inside its
 *   tasks; `UOL_NATIVE_THREADS` sets the count (default: the cores this process may use).
 *
 * Kernels are listed in {@link NATIVE_KERNELS} (one entry per kernel name).
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { settings } from '../util/settings.js';
import { addonPath, ISA_LEVELS, loadAddon, loaded, loadedAddons, type CoretypeChoice, type IsaLevel, type NativeLibraryInfo, type UolBlasAddon } from './native-addon.js';
import { NATIVE_KERNELS, unpackAll } from './native-kernels.js';
import { nativeStatus, recordNativeStatus } from './native-state.js';

export { ISA_LEVELS, addonPath, openblasAddonPath, chooseCoretype, cpuFlags, type CoretypeChoice, type IsaLevel, type NativeLibraryInfo, type UolBlasAddon } from './native-addon.js';
export { CUSTOM_KERNELS, NATIVE_KERNELS, broadcastStrides, type NativeKernelContext, type NativeKernelSpec } from './native-kernels.js';

/** Status of the native kernels, reported by `uol info`. */
export interface NativeStatus {
  /** True when native kernels are registered. */
  enabled: boolean;
  /** What was asked for: `off` (--native off / UOL_NATIVE=0) or `auto`. */
  requested: 'auto' | 'off';
  /** Why (not) enabled. */
  reason: string;
  /**
   * When the addon is not built: one line saying what plain wasm costs and how to build the fast path — for the caller
   * to show once (the CLI prints it on stderr the first time; the library prints nothing).
   */
  hint?: string;
  /** Kernel names overridden. */
  kernels: string[];
  /** Path of the addon, when found. */
  addon?: string;
  /** The addon as it reports itself (GEMM, ISA level in effect, thread pool). */
  library?: NativeLibraryInfo;
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
  /** Instruction-set level of the kernels (default: env `UOL_ISA`, else `auto`, the best the CPU runs); a level above the CPU's is lowered to it. */
  isa?: IsaLevel | 'auto';
}

/** The loaded addon (after a successful {@link installNativeKernels}), for code that calls it directly. */
export function nativeAddon(): UolBlasAddon | undefined {
  return installed ? loaded?.addon : undefined;
}

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
  unpackAll(); // weights packed in place go back to their TF.js layout before plain wasm kernels read them
  unregisterAll();
  // A level forced for one configuration (a benchmark) must not outlive it: the process-wide default comes back.
  for (const a of loadedAddons) a.setIsa(isaLevel());
}

/** The addon's ISA level number for `isa` (default: UOL_ISA, else auto = -1). */
function isaLevel(isa?: IsaLevel | 'auto'): -1 | 0 | 1 | 2 {
  const v = isa ?? settings().isa ?? 'auto';
  return v === 'auto' ? -1 : (ISA_LEVELS.indexOf(v) as 0 | 1 | 2);
}

/** Unregisters our kernels and puts the original wasm ones back (weights packed in place stay packed). */
function unregisterAll(): void {
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

// The codes, the last install's outcome and the held-once weights live in a platform-neutral module the core imports.
export { ACTIVATION_CODES, GELU_CODE, holdOnce, nativeStatus } from './native-state.js';

/**
 * Registers native kernels for `backend` when possible (wasm only), replacing any set registered before.
 * Never throws for a missing or broken addon: the status says why the kernels are off.
 * @param mode `off` disables (and restores plain wasm kernels); `auto` uses the addon when it exists and loads.
 */
export function installNativeKernels(backend: string, mode: 'auto' | 'off', opts: NativeOptions = {}): NativeStatus {
  return recordNativeStatus(tryInstall(backend, mode, opts))!;
}

function tryInstall(backend: string, mode: 'auto' | 'off', opts: NativeOptions): NativeStatus {
  const r = tryInstallKernels(backend, mode, opts);
  // Weights packed in place stay packed across native configurations (the layout is the same for every build and
  // ISA level); only plain wasm needs them back in their own layout.
  if (!r.enabled) unpackAll();
  return r;
}

function tryInstallKernels(backend: string, mode: 'auto' | 'off', opts: NativeOptions): NativeStatus {
  unregisterAll();
  if (mode === 'off') return { enabled: false, requested: 'off', reason: 'disabled (--native off or UOL_NATIVE=0)', kernels: [] };
  if (backend !== 'wasm') return { enabled: false, requested: 'auto', reason: `native kernels apply to the wasm backend only (active: ${backend})`, kernels: [] };
  const p = opts.addonPath ?? addonPath();
  const names = pickKernels(opts);
  if (typeof names === 'string') return { enabled: false, requested: 'auto', reason: names, kernels: [] };
  const r = loadAddon(p);
  if ('reason' in r) return { enabled: false, requested: 'auto', reason: r.reason, kernels: [], ...(r.hint ? { hint: r.hint } : {}) };
  const threads = opts.threads ?? settings().nativeThreads;
  if (threads !== undefined && Number.isInteger(threads) && threads >= 1) r.addon.setThreads(threads);
  r.addon.setIsa(isaLevel(opts.isa));
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
    reason: done.length > 0 ? `${library.blas === 'openblas' ? `OpenBLAS ${library.corename}` : `own kernels, ${library.isa ?? library.corename}`}${library.isa && library.isaDetected && library.isa !== library.isaDetected ? ` (CPU: ${library.isaDetected})` : ''} via ${path.basename(p)}` : 'no kernels selected',
    kernels: done,
    addon: p,
    library,
    coretype: r.coretype,
  };
  return installed;
}
