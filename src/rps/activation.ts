/**
 * Activation maps (docs/method.md §4), all tf ops on batches:
 * raw score A(p) = ⟨f̂(p), w⟩ → clamp at 0 → per-image min-max to [0,1] (a constant map becomes all zeros instead of
 * the release's NaN) → bilinear upsampling with align_corners=True to the input size. CAAM (the baseline) replaces the
 * score by the channel sum of the features.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NORMALIZE_EPS } from './statistics.js';

/**
 * L2-normalise along the last axis with the F.normalize guard (‖f‖ < 1e-12 → divide by 1e-12).
 * (sqrt(Σ f²) rather than tf.norm: the latter is ~16× slower on the wasm backend.)
 */
export function l2normalize<T extends tf.Tensor>(f: T): T {
  return tf.tidy(() => tf.div(f, tf.maximum(tf.sqrt(tf.sum(tf.square(f), -1, true)), NORMALIZE_EPS)) as T);
}

/**
 * Raw scores ⟨f̂(p), w⟩ before clamping.
 * @param features [B,h,w,C] float32.
 * @param weights [C] (one w for the batch) or [B,C] (one w per image, e.g. class-wise).
 * @returns [B,h,w] float32 in [−1,1] when ‖w‖ = 1.
 */
export function rawScores(features: tf.Tensor4D, weights: tf.Tensor1D | tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, h, w, c] = features.shape;
    const fhat = l2normalize(features);
    if (weights.rank === 1) {
      // One 2-D matmul [B·h·w, C] @ [C, 1] (XNNPACK fast path on wasm).
      return tf.reshape(tf.matMul(tf.reshape(fhat, [b * h * w, c]), tf.reshape(weights, [c, 1])), [b, h, w]);
    }
    return tf.sum(tf.mul(fhat, tf.reshape(weights, [b, 1, 1, c])), -1);
  });
}

/** CAAM score: channel sum of the features. [B,h,w,C] → [B,h,w]. */
export function caamScores(features: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => tf.sum(features, -1));
}

/**
 * Clamp at 0, then per-image min-max normalisation to [0,1]. Maps whose max equals their min (constant) become 0.
 * @param raw [B,h,w].
 */
export function normalizeMaps(raw: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const a = tf.relu(raw);
    const mn = tf.min(a, [1, 2], true);
    const mx = tf.max(a, [1, 2], true);
    const range = tf.sub(mx, mn);
    const safe = tf.where(tf.greater(range, 0), range, tf.onesLike(range));
    const scaled = tf.div(tf.sub(a, mn), safe);
    return tf.where(tf.greater(range, 0), scaled, tf.zerosLike(scaled)) as tf.Tensor3D;
  });
}

/**
 * Bilinear upsampling with align_corners=True (PyTorch F.interpolate semantics) to [H,W].
 * @param maps [B,h,w] → [B,H,W].
 */
export function upsampleMaps(maps: tf.Tensor3D, size: [number, number]): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, h, w] = maps.shape;
    if (h === size[0] && w === size[1]) return tf.clone(maps);
    const x = tf.reshape(maps, [b, h, w, 1]) as tf.Tensor4D;
    return tf.reshape(tf.image.resizeBilinear(x, size, true, false), [b, size[0], size[1]]);
  });
}

/** Options of {@link activationMaps}. */
export interface MapOptions {
  /** Output size [H,W]; omitted → feature grid size. */
  size?: [number, number];
  /** Use the CAAM baseline (channel sum) instead of w. */
  caam?: boolean;
}

/**
 * Full map pipeline: score → clamp → min-max → upsample.
 * @param features [B,h,w,C].
 * @param weights [C] or [B,C]; ignored with `caam`.
 * @returns [B,H,W] float32 in [0,1].
 */
export function activationMaps(
  features: tf.Tensor4D,
  weights: tf.Tensor1D | tf.Tensor2D | undefined,
  opts: MapOptions = {},
): tf.Tensor3D {
  return tf.tidy(() => {
    let raw: tf.Tensor3D;
    if (opts.caam) raw = caamScores(features);
    else {
      if (!weights) throw new Error('activationMaps: weights are required unless caam is set');
      raw = rawScores(features, weights);
    }
    const n = normalizeMaps(raw);
    return opts.size ? upsampleMaps(n, opts.size) : n;
  });
}
