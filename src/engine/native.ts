/**
 * Optional native acceleration: an N-API addon (native/, built by node-gyp against OpenBLAS when libopenblas-dev is
 * present) that overrides matmul kernels on the wasm backend. When it is absent or fails to load, everything runs on
 * plain wasm and {@link NativeStatus.reason} says why.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Status of the native kernels, reported by `uol info`. */
export interface NativeStatus {
  /** True when native kernels are registered. */
  enabled: boolean;
  /** Why (not) enabled. */
  reason: string;
  /** Kernel names overridden. */
  kernels: string[];
  /** Path of the addon, when found. */
  addon?: string;
}

/** Absolute path where node-gyp puts the addon. */
export function addonPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', 'native', 'build', 'Release', 'uol_blas.node');
}

/**
 * Registers native kernels for `backend` when possible.
 * @param mode `off` disables; `auto` uses the addon when it exists and loads.
 */
export function installNativeKernels(backend: string, mode: 'auto' | 'off'): NativeStatus {
  if (mode === 'off') return { enabled: false, reason: 'disabled (--native off or UOL_NATIVE=0)', kernels: [] };
  if (backend !== 'wasm') return { enabled: false, reason: `native kernels apply to the wasm backend only (active: ${backend})`, kernels: [] };
  const p = addonPath();
  if (!existsSync(p)) return { enabled: false, reason: `native addon not built (${p} missing): plain wasm kernels`, kernels: [] };
  return { enabled: false, reason: 'native addon found but no kernels are registered by this version', kernels: [], addon: p };
}
