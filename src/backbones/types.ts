/**
 * The feature-extractor interface every backbone implements, and its input contract.
 */
import type * as tf from '@tensorflow/tfjs-core';

// The input contract lives with the images it describes (data/input-contract.ts): data decodes and normalises per it
// without importing backbones. Re-exported here because every backbone declares one.
export type { InputContract, Interpolation } from '../data/input-contract.js';
import type { InputContract } from '../data/input-contract.js';

/** Identity of a backbone as stored in a predictor file. */
export interface BackboneIdentity {
  /** Registry name or converted-model id, e.g. `dino_vits16`, `nsfwjs-mobilenetv2`. */
  id: string;
  /** Architecture family, e.g. `vit`, `resnet50`, `mobilenetv2`. */
  arch: string;
  /** Name of the node/layer the features come from. */
  featureLayer: string;
  /** Feature channels C. */
  channels: number;
  /** Output stride (input pixels per feature cell). */
  stride: number;
  /** sha256 over the weights (hex), when known: tells two weight sets with the same id apart. */
  weightsSha256?: string;
  /**
   * Absolute folder the backbone was loaded from when it was given by path (`--backbone DIR`), recorded so that a
   * predictor finds it again ({@link findPredictorBackbone} in backbones/registry.ts); absent for registry names.
   */
  location?: string;
  /** Input contract. */
  input: InputContract;
}

/** A frozen backbone that maps a batch of prepared images to a feature map. */
export interface FeatureExtractor {
  /** Identity (id, layer, channels, stride, input contract). */
  readonly identity: BackboneIdentity;
  /**
   * Runs the backbone.
   * @param x [B,H,W,3] float32, already normalised per {@link InputContract}; not disposed.
   * @returns [B,h,w,C] float32 features (caller disposes).
   */
  extract(x: tf.Tensor4D): tf.Tensor4D;
  /**
   * Asynchronous variant for graphs with control flow (tfjs GraphModels that need `executeAsync`); when present,
   * callers should prefer it (see {@link runExtractor}). Same contract as {@link FeatureExtractor.extract}.
   */
  extractAsync?(x: tf.Tensor4D): Promise<tf.Tensor4D>;
  /**
   * ViTs only: softmaxed self-attention of the last block, `[B, heads, N, N]`, tokens ordered CLS, registers, patches
   * (as DINO's `get_last_selfattention`).
   */
  lastSelfAttention?(x: tf.Tensor4D): tf.Tensor4D;
  /** Releases weights. */
  dispose(): void;
}

/** Runs `fe` on `x`, through `extractAsync` when the extractor has one. Returns [B,h,w,C] (caller disposes). */
export async function runExtractor(fe: FeatureExtractor, x: tf.Tensor4D): Promise<tf.Tensor4D> {
  return fe.extractAsync ? fe.extractAsync(x) : fe.extract(x);
}
