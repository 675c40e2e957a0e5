/**
 * Soft labels from feature norms and the per-point losses of the foreground classifier (docs/method.md §3).
 *
 * Every point gets a *norm margin* m_i = ‖f_i‖/c − 1 (c the threshold, default ‖v‖/‖u‖ from the statistics): positive
 * above the threshold (likely foreground), negative below. The model's score is ŷ_i = ⟨w, f̂_i⟩ and the loss sees
 * z_i = t·ŷ_i (t the *scale*, a temperature: since ‖w‖ is regularised, t sets how large a logit the model can afford).
 *
 * | loss       | soft label                         | L_i(ŷ)                                 | ∂L_i/∂ŷ            |
 * |------------|------------------------------------|----------------------------------------|--------------------|
 * | `linear`   | s_i = m_i                          | −s_i·t·ŷ                               | −t·s_i             |
 * | `logistic` | y_i = σ(κ·m_i) ∈ (0,1)             | BCE(σ(z_i), y_i) = softplus(z_i) − y_i z_i | t·(σ(z_i) − y_i) |
 *
 * The linear loss reproduces the closed form (see optimize.ts); the logistic loss is the smooth, bounded alternative.
 * All functions are tf ops on batches; the derivative is written out (and checked against tf.grad in the tests)
 * because α needs it at every point.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';

import { LOSS_NAMES, type LossName } from './loss-names.js';

// Names of the supported losses (declared without TF.js for the CLI).
export { LOSS_NAMES, type LossName };

/** Parameters of the soft labels and the loss. */
export interface LossParams {
  /** Soft-label threshold c > 0 (points with ‖f‖ > c lean foreground). */
  c: number;
  /** Soft-label steepness κ > 0 (logistic only). */
  kappa: number;
  /** Logit scale t > 0: the loss sees t·ŷ. */
  scale: number;
}

/** A per-point loss of ŷ against soft labels derived from the norms. */
export interface PointLoss {
  readonly name: LossName;
  /** One line for help texts and reports. */
  readonly description: string;
  /** Soft labels from norms: [B,1] → [B,1]. */
  labels(norms: tf.Tensor2D, p: LossParams): tf.Tensor2D;
  /** L_i(ŷ_i): [B,1] (scores), [B,1] (labels) → [B,1]. */
  value(yhat: tf.Tensor2D, labels: tf.Tensor2D, p: LossParams): tf.Tensor2D;
  /** ∂L_i/∂ŷ_i: [B,1] → [B,1]. */
  derivative(yhat: tf.Tensor2D, labels: tf.Tensor2D, p: LossParams): tf.Tensor2D;
  /** An upper bound of ∂²L_i/∂ŷ_i² (used to size the first optimisation step). */
  curvature(p: LossParams): number;
}

/** Norm margin m = ‖f‖/c − 1. [B,1] → [B,1]. */
export function normMargin(norms: tf.Tensor2D, c: number): tf.Tensor2D {
  return tf.tidy(() => tf.sub(tf.div(norms, c), 1) as tf.Tensor2D);
}

const linear: PointLoss = {
  name: 'linear',
  description: 'L = −s·t·ŷ with s = ‖f‖/c − 1 (reproduces the closed form)',
  labels: (norms, p) => normMargin(norms, p.c),
  value: (yhat, s, p) => tf.tidy(() => tf.neg(tf.mul(s, tf.mul(yhat, p.scale))) as tf.Tensor2D),
  derivative: (_yhat, s, p) => tf.tidy(() => tf.mul(s, -p.scale) as tf.Tensor2D),
  curvature: () => 0,
};

const logistic: PointLoss = {
  name: 'logistic',
  description: 'L = BCE(σ(t·ŷ), y) with y = σ(κ(‖f‖/c − 1))',
  labels: (norms, p) => tf.tidy(() => tf.sigmoid(tf.mul(normMargin(norms, p.c), p.kappa)) as tf.Tensor2D),
  value: (yhat, y, p) =>
    tf.tidy(() => {
      const z = tf.mul(yhat, p.scale);
      return tf.sub(tf.softplus(z), tf.mul(y, z)) as tf.Tensor2D;
    }),
  derivative: (yhat, y, p) => tf.tidy(() => tf.mul(tf.sub(tf.sigmoid(tf.mul(yhat, p.scale)), y), p.scale) as tf.Tensor2D),
  curvature: (p) => (p.scale * p.scale) / 4,
};

const REGISTRY: Record<LossName, PointLoss> = { linear, logistic };

/** The loss named `name`. @throws UsageError for an unknown name. */
export function getLoss(name: string): PointLoss {
  if (!(LOSS_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`unknown loss "${name}"; expected one of ${LOSS_NAMES.join(', ')}`);
  }
  return REGISTRY[name as LossName];
}

/** Checks loss parameters. @throws UsageError naming the bad value. */
export function checkLossParams(p: LossParams): void {
  if (!(p.c > 0) || !Number.isFinite(p.c)) throw new UsageError(`soft-label threshold c = ${p.c} must be a finite number > 0`);
  if (!(p.kappa > 0) || !Number.isFinite(p.kappa)) throw new UsageError(`kappa = ${p.kappa} must be a finite number > 0`);
  if (!(p.scale > 0) || !Number.isFinite(p.scale)) throw new UsageError(`scale = ${p.scale} must be a finite number > 0`);
}
