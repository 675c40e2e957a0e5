/**
 * What the platform-neutral core may know about the native kernels, without loading them: the activation codes shared
 * with the addon's C kernels, and the outcome of the last install. `native.ts` (Node only, reached from the Node
 * engine start) loads the addon and records its outcome here; in a browser nothing is ever recorded, so
 * {@link nativeStatus} stays undefined and the core takes its composed-ops paths.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { NativeStatus } from './native.js';

/** TF.js fused activations → the addon's codes (equal to tfjs-backend-wasm's FusableActivation enum). */
export const ACTIVATION_CODES: Readonly<Record<string, number>> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  prelu: 3,
  leakyrelu: 4,
  sigmoid: 5,
  elu: 6,
};

/** Activation code of exact (erf) GELU in the addon (our own kernels only; TF.js's fused ops have no GELU). */
export const GELU_CODE = 7;

let last: NativeStatus | undefined;

/** The outcome of the last {@link installNativeKernels} (with the reason when off), or undefined before it. */
export function nativeStatus(): NativeStatus | undefined {
  return last;
}

/** Records the outcome of an install or uninstall (called by `native.ts` only). */
export function recordNativeStatus(status: NativeStatus | undefined): NativeStatus | undefined {
  last = status;
  return status;
}

/** Weights their owner declared native-owned ({@link holdOnce}), by dataId: only these are packed in place. */
const heldOnce = new WeakSet<object>();

/**
 * Declares weights whose owner (a backbone built for inference) reads them only through native or TF.js conv/matmul
 * kernels, so the native kernels may keep them packed in place (held once: engine/native-kernels.ts). A host read
 * (`dataSync()`/`data()`) of such a weight still sees its own layout: the backend's readSync restores it first. Without
 * the native kernels (a browser, plain wasm) the declaration changes nothing.
 */
export function holdOnce(weights: readonly Tensor[]): void {
  for (const w of weights) heldOnce.add(w.dataId);
}

/** Whether a tensor's storage was declared held once ({@link holdOnce}). */
export function isHeldOnce(dataId: object): boolean {
  return heldOnce.has(dataId);
}
