// Shared pieces of the native-kernel parity specs: seeded random tensors and running a computation with the native
// kernels and again on plain wasm.
import * as tf from '@tensorflow/tfjs-core';
import { withoutNativeKernels } from '../../src/engine/native.js';

/** Parity bound for an inner dimension K: max|Δ| ≤ 1e-6 + 2e-7·K. */
export const tol = (k: number): number => 1e-6 + 2e-7 * k;

/** A seeded uniform tensor factory; each call uses the next seed. */
export function seededTensors(seed0: number): (shape: number[], lo?: number, hi?: number) => tf.Tensor {
  let seed = seed0;
  return (shape, lo = -1, hi = 1) => tf.randomUniform(shape, lo, hi, 'float32', seed++);
}

/** Runs `f` with native kernels and on plain wasm; returns both results' values and shapes (tensors disposed). */
export function both(f: () => tf.Tensor): { nat: Float32Array; ref: Float32Array; natShape: number[]; refShape: number[] } {
  const n = f();
  const r = withoutNativeKernels(f);
  const out = { nat: n.dataSync() as Float32Array, ref: r.dataSync() as Float32Array, natShape: n.shape, refShape: r.shape };
  tf.dispose([n, r]);
  return out;
}
