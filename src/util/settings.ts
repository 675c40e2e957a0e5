/**
 * Every environment variable uol reads, typed, in one place. No other module reads `process.env`: they ask
 * {@link settings} (parsed once per process; {@link resetSettings} re-reads, for tests that change a variable), and
 * child processes get their environment from {@link childProcessEnv}. The one variable uol writes,
 * `OPENBLAS_CORETYPE`, is set through {@link exportToNativeLibraries} before the native addon loads OpenBLAS.
 */

/** What the environment says (undefined: not set). */
export interface Settings {
  /** UOL_BACKEND: the backend when `--backend`/`backend` is not given (auto, node-gpu, node, wasm, cpu, webgpu…). */
  backend?: string;
  /** UOL_NATIVE=0 turns the native kernels off (default on where built). */
  native: boolean;
  /** UOL_NATIVE_ADDON: path of the native addon (default native/build/Release/uol_blas.node). */
  nativeAddon?: string;
  /** UOL_NATIVE_THREADS: threads of the addon's pool (default: the cores the process may use). */
  nativeThreads?: number;
  /** UOL_ISA: instruction-set level of the native kernels (`avx512`, `avx2`, `portable`, or `auto`, the default). */
  isa?: 'avx512' | 'avx2' | 'portable' | 'auto';
  /** UOL_NATIVE_KERNELS: `default`, `all` or a comma-separated list of kernel names. */
  nativeKernels?: string;
  /** UOL_FOLD_LAYERS=0 keeps tfjs LayersModels unfolded. */
  foldLayers: boolean;
  /** UOL_IMAGE_CODEC: sharp or jimp. */
  imageCodec?: string;
  /** UOL_MODELS_DIR: the converted-models folder. */
  modelsDir?: string;
  /** UOL_REGISTRY: the registry JSON. */
  registry?: string;
  /** UOL_LIMIT_<NAME>: overrides of the reader caps (src/util/limits.ts), by variable name, unparsed. */
  limits: Readonly<Record<string, string>>;
  /** UOL_NO_HINTS=1 silences one-time hints (e.g. how to build the fast CPU path). */
  noHints: boolean;
  /** XDG_CACHE_HOME: where one-time hints remember they were shown. */
  cacheHome?: string;
  /** OPENBLAS_CORETYPE as the user set it (uol sets it from the CPU flags otherwise). */
  openblasCoretype?: string;
  /** Benchmark knobs (`uol bench`). */
  bench: {
    /** UOL_BENCH_LONG_RUN: images of the long localize run. */
    longRun?: number;
    /** UOL_BENCH_COLLECT=1: keep per-image results in memory during the long run. */
    collect: boolean;
    /** UOL_BENCH_TORCH_THREADS: threads of the PyTorch reference (default 2). */
    torchThreads?: number;
    /** UOL_BENCH_TORCH_TUNED=0 skips the passive-OpenMP PyTorch configuration. */
    torchTuned: boolean;
    /** UOL_TORCH_PYTHON: the Python with torch for references (default /usr/bin/python3). */
    torchPython?: string;
    /**
     * UOL_BENCH_NATIVE_CONFIGS: comma-separated native configurations the backbones/matmul suites time — `auto`,
     * `avx2`, `portable`, `openblas` (default: all this machine has).
     */
    nativeConfigs?: string[];
    /** UOL_BENCH_OPENBLAS_ADDON: the OpenBLAS comparison build (default native/build-openblas/build/Release/uol_blas.node). */
    openblasAddon?: string;
  };
}

const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));
const str = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

/** Parses an environment (default `process.env`; none in a browser, where every setting takes its default). */
export function settingsFromEnv(env: NodeJS.ProcessEnv = globalThis.process?.env ?? {}): Settings {
  const limits: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('UOL_LIMIT_') && v !== undefined) limits[k] = v;
  const s: Settings = {
    native: env.UOL_NATIVE !== '0',
    foldLayers: env.UOL_FOLD_LAYERS !== '0',
    limits,
    noHints: env.UOL_NO_HINTS === '1',
    bench: { collect: env.UOL_BENCH_COLLECT === '1', torchTuned: env.UOL_BENCH_TORCH_TUNED !== '0' },
  };
  const opt: [keyof Settings, string | undefined][] = [
    ['backend', str(env.UOL_BACKEND)],
    ['nativeAddon', str(env.UOL_NATIVE_ADDON)],
    ['nativeKernels', str(env.UOL_NATIVE_KERNELS)],
    ['imageCodec', str(env.UOL_IMAGE_CODEC)],
    ['modelsDir', str(env.UOL_MODELS_DIR)],
    ['registry', str(env.UOL_REGISTRY)],
    ['cacheHome', str(env.XDG_CACHE_HOME)],
    ['openblasCoretype', str(env.OPENBLAS_CORETYPE)],
  ];
  for (const [k, v] of opt) if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v;
  const isa = str(env.UOL_ISA);
  if (isa !== undefined) {
    if (isa !== 'avx512' && isa !== 'avx2' && isa !== 'portable' && isa !== 'auto') {
      throw new Error(`UOL_ISA must be avx512, avx2, portable or auto (got "${isa}")`);
    }
    s.isa = isa;
  }
  const threads = num(env.UOL_NATIVE_THREADS);
  if (threads !== undefined) s.nativeThreads = threads;
  const longRun = num(env.UOL_BENCH_LONG_RUN);
  if (longRun !== undefined) s.bench.longRun = longRun;
  const tt = num(env.UOL_BENCH_TORCH_THREADS);
  if (tt !== undefined) s.bench.torchThreads = tt;
  const cfgs = str(env.UOL_BENCH_NATIVE_CONFIGS);
  if (cfgs !== undefined) s.bench.nativeConfigs = cfgs.split(',').map((x) => x.trim()).filter(Boolean);
  const ob = str(env.UOL_BENCH_OPENBLAS_ADDON);
  if (ob !== undefined) s.bench.openblasAddon = ob;
  const py = str(env.UOL_TORCH_PYTHON);
  if (py !== undefined) s.bench.torchPython = py;
  return s;
}

let current: Settings | undefined;

/** The process's settings (read from the environment on first use). */
export function settings(): Settings {
  return (current ??= settingsFromEnv());
}

/** Forgets the parsed settings: the next {@link settings} reads the environment again (tests that change it). */
export function resetSettings(): void {
  current = undefined;
}

/** An environment for a child process: this process's, plus `extra`. */
export function childProcessEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra };
}

/**
 * Sets a variable that a native library loaded later in this process reads from the environment (OpenBLAS reads
 * OPENBLAS_CORETYPE when the addon loads it).
 */
export function exportToNativeLibraries(name: 'OPENBLAS_CORETYPE', value: string): void {
  process.env[name] = value;
  resetSettings();
}
