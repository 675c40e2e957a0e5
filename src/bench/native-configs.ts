/**
 * The native configurations the backbones and matmul suites time side by side: the addon at the ISA level the CPU
 * picks (`auto`), forced lower levels (`avx2`, `portable`; UOL_ISA in normal runs), and the OpenBLAS comparison build
 * (`UOL_BLAS=openblas node tools/build-native.mjs`) when it exists. `UOL_BENCH_NATIVE_CONFIGS` narrows the list.
 */
import { existsSync } from 'node:fs';
import { installNativeKernels, ISA_LEVELS, openblasAddonPath, type IsaLevel, type NativeOptions, type NativeStatus } from '../engine/native.js';
import { addonProblem } from '../engine/native-addon.js';
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
 * Installs the native kernels with `opts` for the configuration `label`, and throws unless they are on as asked: a row
 * must never carry a configuration's label while measuring another (e.g. plain wasm after a stale build was refused).
 */
function install(label: string, opts: NativeOptions, check: (s: NativeStatus) => boolean): void {
  const s = installNativeKernels('wasm', 'auto', opts);
  if (!s.enabled || !check(s)) throw new Error(`bench configuration ${label}: native kernels not installed as asked (${s.reason ?? `isa ${s.library?.isa}, blas ${s.library?.blas}`})`);
}

/**
 * The configurations available with the native status `before` (empty when native kernels are off). `kernels`: the
 * kernel names to install (default: those `before` had). A comparison build that exists but cannot run (e.g. built
 * from an older source) is left out, with the reason pushed to `skipped`.
 */
export function nativeConfigs(before: NativeStatus | undefined, kernels?: string[], skipped?: string[]): NativeConfig[] {
  if (!before?.enabled) return [];
  const names = kernels ?? before.kernels;
  const want = settings().bench.nativeConfigs;
  const detected = (before.library?.isaDetected ?? before.library?.isa ?? 'avx512') as IsaLevel;
  const base = before.addon ? { addonPath: before.addon } : {};
  const out: NativeConfig[] = [{ id: 'auto', label: 'wasm+native', apply: () => install('wasm+native', { ...base, kernels: names, isa: 'auto' }, () => true) }];
  for (const isa of [...ISA_LEVELS].reverse()) {
    if (ISA_LEVELS.indexOf(isa) >= ISA_LEVELS.indexOf(detected)) continue;
    const label = `wasm+native ${isa}`;
    out.push({ id: isa, label, apply: () => install(label, { ...base, kernels: names, isa }, (s) => s.library?.isa === isa) });
  }
  const ob = settings().bench.openblasAddon ?? openblasAddonPath();
  if (before.library?.blas !== 'openblas' && existsSync(ob) && (!want || want.includes('openblas'))) {
    const problem = addonProblem(ob);
    const label = 'wasm+native OpenBLAS';
    if (problem) skipped?.push(`${label}: ${problem} (\`UOL_BLAS=openblas node tools/build-native.mjs\`)`);
    else out.push({ id: 'openblas', label, apply: () => install(label, { addonPath: ob, kernels: names, isa: 'auto' }, (s) => s.library?.blas === 'openblas') });
  }
  return out.filter((c) => !want || want.includes(c.id));
}
