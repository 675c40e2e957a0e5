// Tensor-leak check: run `fn` and assert the number of live tensors is unchanged.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';

/** Runs `fn` (sync or async) and fails when it leaves tensors alive. Returns fn's result. */
export async function expectNoLeak<T>(fn: () => T | Promise<T>, what = 'call'): Promise<T> {
  const before = tf.memory().numTensors;
  const r = await fn();
  const after = tf.memory().numTensors;
  expect(after, `${what} leaked ${after - before} tensors`).to.equal(before);
  return r;
}
