/**
 * Backend selection for the TF.js engine.
 *
 * Order when `auto`: `tensorflow` via @tensorflow/tfjs-node-gpu (CUDA) → `webgpu` (TF.js's WebGPU backend on Dawn's
 * Node binding, npm `webgpu`: a Vulkan driver, no CUDA toolkit) → `tensorflow` via @tensorflow/tfjs-node (CPU) →
 * `wasm` (@tensorflow/tfjs-backend-wasm, SIMD) → `cpu` (pure JS). tfjs-node, tfjs-node-gpu and webgpu are optional
 * dependencies: their install downloads native code and is dropped by npm where that fails, so they are loaded with
 * try/require (or a dynamic import) and every feature works on wasm. See README, "GPUs".
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { UsageError } from '../util/errors.js';
import { installNativeKernels, type NativeStatus } from './native.js';

const require = createRequire(import.meta.url);

// Names accepted by `--backend` (`node-gpu` and `node` both run TF.js's `tensorflow` backend); declared in a module
// without TF.js so the CLI answers --help and usage errors without loading an engine.
import { BACKEND_CHOICES, type BackendChoice } from './choices.js';
import { settings } from '../util/settings.js';
export { BACKEND_CHOICES, type BackendChoice };

/** What happened when one backend was tried. */
export interface BackendAttempt {
  /** Choice name (`node-gpu`, `node`, `wasm`, `cpu`). */
  name: Exclude<BackendChoice, 'auto'>;
  /** True when this backend is the active one. */
  active: boolean;
  /** Why it was skipped, or `selected`/`available` (one line). */
  reason: string;
  /** What a user can do about a skip, when there is something (lines: requirements, how to check, what to run). */
  hint?: string[];
}

/** Result of {@link initEngine}: the active backend and why the others were skipped. */
export interface EngineInfo {
  /** The TF.js backend name now active (`tensorflow`, `wasm` or `cpu`). */
  backend: string;
  /** The choice that produced it. */
  choice: Exclude<BackendChoice, 'auto'>;
  /** Every backend considered, in order. */
  attempts: BackendAttempt[];
  /** Package versions of the engine. */
  versions: Record<string, string>;
  /** Native BLAS kernels on wasm (see engine/native.ts). */
  native: NativeStatus;
  /** For wasm: whether the SIMD binary is used. */
  wasmSimd?: boolean;
}

/** Options for {@link initEngine}. */
export interface EngineOptions {
  /** Backend to force; `auto` (default) takes the first that loads. Also read from env `UOL_BACKEND`. */
  backend?: BackendChoice;
  /** Native BLAS overrides on wasm: `auto` (default) or `off`; env `UOL_NATIVE=0` forces `off`. */
  native?: 'auto' | 'off';
}

let current: EngineInfo | undefined;

function errMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0] ?? m;
}

function pkgVersion(name: string): string | undefined {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** What tfjs-node-gpu needs, how to check it and what else works (`uol info` prints it under the skip). */
export const NODE_GPU_HINT: readonly string[] = [
  'tfjs-node-gpu 4.22 runs libtensorflow 2.9.1 built for CUDA 11.2 + cuDNN 8.1 (Linux x64, NVIDIA driver ≥ 450.80.02); npm installs it only when that download succeeds',
  "check: nvidia-smi (driver, GPU); ldconfig -p | grep -E 'libcudart.so.11.0|libcudnn.so.8' (CUDA 11 runtime, cuDNN 8); ls node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v8/tfjs_binding.node",
  'then: npm rebuild @tensorflow/tfjs-node-gpu — or, with only an NVIDIA driver, --backend webgpu (Vulkan, no CUDA); README, "GPUs"',
];

/** What the WebGPU route needs (`uol info` prints it under the skip). */
export const WEBGPU_HINT: readonly string[] = [
  'webgpu runs TF.js on Dawn (npm webgpu, an optional dependency) over Vulkan: it needs the GPU vendor\'s Vulkan driver (NVIDIA: the driver package with its Vulkan ICD), no CUDA',
  'check: vulkaninfo --summary lists the GPU (Debian: vulkan-tools); a software driver (Mesa lavapipe, SwiftShader) is no gain over wasm',
];

/** System folders where the Vulkan loader (libvulkan.so.1) lives on Linux. */
const VULKAN_LOADER_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];

/** Software WebGPU adapters: slower than wasm, so `auto` passes them by. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|software|cpu/i;

interface DawnModule {
  create(flags: string[]): { requestAdapter(o?: { powerPreference?: string }): Promise<{ info?: { vendor?: string; architecture?: string; device?: string; description?: string }; isFallbackAdapter?: boolean } | null> };
  globals: Record<string, unknown>;
}

/**
 * Starts TF.js's WebGPU backend in Node through Dawn's binding (npm `webgpu`). Returns why not in one line, or
 * undefined when `webgpu` is active. On Linux the Vulkan loader is looked for first (Dawn prints its own warnings to
 * stderr when it is missing); in the `auto` order a software adapter is passed by.
 */
async function tryWebGpu(auto: boolean): Promise<string | undefined> {
  if (process.platform === 'linux' && !VULKAN_LOADER_DIRS.some((d) => existsSync(`${d}/libvulkan.so.1`))) {
    return `no Vulkan loader (libvulkan.so.1 in ${VULKAN_LOADER_DIRS.join(', ')}): Dawn needs the GPU's Vulkan driver`;
  }
  let dawn: DawnModule;
  try {
    const name = 'webgpu'; // optional dependency: resolved at run time only
    dawn = (await import(name)) as DawnModule;
  } catch (e) {
    return `the optional package webgpu (Dawn) is not loadable: ${errMessage(e)}`;
  }
  let adapter: Awaited<ReturnType<ReturnType<DawnModule['create']>['requestAdapter']>>;
  const gpu = dawn.create([]);
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return `Dawn's requestAdapter() failed: ${errMessage(e)}`;
  }
  if (!adapter) return 'Dawn (npm webgpu) found no WebGPU adapter: no Vulkan driver with the features Dawn requires (Mesa lavapipe lacks one)';
  const name = [adapter.info?.vendor, adapter.info?.architecture, adapter.info?.device, adapter.info?.description].filter(Boolean).join(' ');
  if (auto && (adapter.isFallbackAdapter || SOFTWARE_ADAPTER.test(name))) return `the WebGPU adapter is a software renderer (${name}), slower than wasm; --backend webgpu uses it anyway`;
  // TF.js's WebGPU backend registers itself at import when `navigator.gpu` exists, and uses the WebGPU globals.
  Object.assign(globalThis, dawn.globals);
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
    const ok = await tf.setBackend('webgpu');
    return ok ? undefined : `the webgpu backend failed to initialise on ${name || 'the Dawn adapter'}`;
  } catch (e) {
    return `webgpu on ${name || 'the Dawn adapter'}: ${errMessage(e)}`;
  }
}

async function tryNode(pkg: string): Promise<string | undefined> {
  try {
    require(pkg);
  } catch (e) {
    return `${pkg} not loadable: ${errMessage(e)}`;
  }
  try {
    const ok = await tf.setBackend('tensorflow');
    return ok ? undefined : `${pkg} loaded but the tensorflow backend failed to initialise`;
  } catch (e) {
    return `${pkg}: ${errMessage(e)}`;
  }
}

/**
 * Selects and initialises the TF.js backend. Idempotent: a second call with the same choice returns the same info;
 * a different explicit choice switches backend.
 * @throws UsageError for an unknown backend name or a forced backend that cannot load.
 */
export async function initEngine(opts: EngineOptions = {}): Promise<EngineInfo> {
  const envChoice = settings().backend as BackendChoice | undefined;
  const choice: BackendChoice = opts.backend ?? envChoice ?? 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new UsageError(`unknown backend "${choice}"; expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  const nativeMode: 'auto' | 'off' = opts.native === 'off' || !settings().native ? 'off' : 'auto';
  if (current && (choice === 'auto' || choice === current.choice)) {
    if (current.native.requested !== nativeMode) current.native = installNativeKernels(current.backend, nativeMode);
    return current;
  }
  tf.enableProdMode();
  const order: Exclude<BackendChoice, 'auto'>[] = choice === 'auto' ? ['node-gpu', 'webgpu', 'node', 'wasm', 'cpu'] : [choice];
  const attempts: BackendAttempt[] = [];
  let chosen: Exclude<BackendChoice, 'auto'> | undefined;
  for (const name of order) {
    let reason: string | undefined;
    let hint: readonly string[] | undefined;
    if (name === 'node-gpu') {
      reason = await tryNode('@tensorflow/tfjs-node-gpu');
      hint = NODE_GPU_HINT;
    } else if (name === 'webgpu') {
      reason = await tryWebGpu(choice === 'auto');
      hint = WEBGPU_HINT;
    } else if (name === 'node') reason = await tryNode('@tensorflow/tfjs-node');
    else {
      try {
        const ok = await tf.setBackend(name);
        if (!ok) reason = `${name} backend failed to initialise`;
      } catch (e) {
        reason = `${name}: ${errMessage(e)}`;
      }
    }
    if (reason === undefined) {
      attempts.push({ name, active: true, reason: 'selected' });
      chosen = name;
      break;
    }
    attempts.push(hint ? { name, active: false, reason, hint: [...hint] } : { name, active: false, reason });
  }
  if (!chosen) {
    const why = attempts.map((a) => `${a.name}: ${a.reason}`).join('; ');
    throw new UsageError(`backend "${choice}" is not available (${why})`);
  }
  await tf.ready();
  const backend = tf.getBackend();
  const native = installNativeKernels(backend, nativeMode);
  const versions: Record<string, string> = { node: process.versions.node };
  for (const p of [
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-backend-cpu',
    '@tensorflow/tfjs-converter',
    '@tensorflow/tfjs-layers',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
    ...(backend === 'webgpu' ? ['@tensorflow/tfjs-backend-webgpu', 'webgpu'] : []),
  ]) {
    const v = pkgVersion(p);
    if (v) versions[p] = v;
  }
  current = { backend, choice: chosen, attempts, versions, native };
  if (backend === 'wasm') current.wasmSimd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  return current;
}

/** The engine info of the last {@link initEngine}, or undefined before it. */
export function engineInfo(): EngineInfo | undefined {
  return current;
}
