/**
 * The native configurations the backbones and matmul suites time side by side: the addon at the ISA level the CPU
 * picks (`auto`), forced lower levels (`avx2`, `portable`; UOL_ISA in normal runs), and the OpenBLAS comparison build
 * (`UOL_BLAS=openblas node tools/build-native.mjs`) when it exists. `UOL_BENCH_NATIVE_CONFIGS` narrows the list.
 */
import { existsSync } from 'node:fs';
import { installNativeKernels, ISA_LEVELS, openblasAddonPath, type IsaLevel, type NativeStatus } from '../engine/native.js';
import { settings } from '../util/settings.js';

/** One configuration: a row label suffix and how to switch to it. */
export interface NativeConfig {
  /** `auto`, an ISA level or `openblas`. */
  id: string;
  /** Row label, e.g. `wasm+native` or `wasm+native avx2`. */
  label: string;
  /** Installs the native kernels in this configuration (the caller restores the saved status afterwards). */
  apply: () => void;
}

/**
 * The configurations available with the native status `before` (empty when native kernels are off). `kernels`: the
 * kernel names to install (default: those `before` had).
 */
export function nativeConfigs(before: NativeStatus | undefined, kernels?: string[]): NativeConfig[] {
  if (!before?.enabled) return [];
  const names = kernels ?? before.kernels;
  const want = settings().bench.nativeConfigs;
  const detected = (before.library?.isaDetected ?? before.library?.isa ?? 'avx512') as IsaLevel;
  const base = before.addon ? { addonPath: before.addon } : {};
  const out: NativeConfig[] = [{ id: 'auto', label: 'wasm+native', apply: () => installNativeKernels('wasm', 'auto', { ...base, kernels: names, isa: 'auto' }) }];
  for (const isa of [...ISA_LEVELS].reverse()) {
    if (ISA_LEVELS.indexOf(isa) >= ISA_LEVELS.indexOf(detected)) continue;
    out.push({ id: isa, label: `wasm+native ${isa}`, apply: () => installNativeKernels('wasm', 'auto', { ...base, kernels: names, isa }) });
  }
  const ob = settings().bench.openblasAddon ?? openblasAddonPath();
  if (before.library?.blas !== 'openblas' && existsSync(ob)) {
    out.push({ id: 'openblas', label: 'wasm+native OpenBLAS', apply: () => installNativeKernels('wasm', 'auto', { addonPath: ob, kernels: names, isa: 'auto' }) });
  }
  return out.filter((c) => !want || want.includes(c.id));
}
