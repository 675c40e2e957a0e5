/**
 * Backend selection for the TF.js engine.
 *
 * Order when `auto`: `tensorflow` via @tensorflow/tfjs-node-gpu (CUDA) → `tensorflow` via @tensorflow/tfjs-node (CPU)
 * → `wasm` (@tensorflow/tfjs-backend-wasm, SIMD) → `cpu` (pure JS). The two tfjs-node packages are optional
 * dependencies: their install downloads libtensorflow and is dropped by npm where that fails, so they are loaded with
 * try/require and every feature works on wasm.
 */
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
  /** Why it was skipped, or `selected`/`available`. */
  reason: string;
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
  const order: Exclude<BackendChoice, 'auto'>[] = choice === 'auto' ? ['node-gpu', 'node', 'wasm', 'cpu'] : [choice];
  const attempts: BackendAttempt[] = [];
  let chosen: Exclude<BackendChoice, 'auto'> | undefined;
  for (const name of order) {
    let reason: string | undefined;
    if (name === 'node-gpu') reason = await tryNode('@tensorflow/tfjs-node-gpu');
    else if (name === 'node') reason = await tryNode('@tensorflow/tfjs-node');
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
    attempts.push({ name, active: false, reason });
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
