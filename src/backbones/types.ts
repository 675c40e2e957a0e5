/**
 * The feature-extractor interface every backbone implements, and its input contract.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** Resampling filter used to resize images for a backbone (PIL/torchvision names). */
export type Interpolation = 'bilinear' | 'bicubic' | 'nearest';

/**
 * How images must be prepared for a backbone. Pixel values x ∈ [0,255] become (x/255 − mean[c]) / std[c].
 * (For a model that wants raw 0..255 input use mean 0 and std 1/255; for [0,1] input mean 0 and std 1.)
 */
export interface InputContract {
  /** Per-channel mean in [0,1] units, RGB order. */
  mean: [number, number, number];
  /** Per-channel std in [0,1] units, RGB order. */
  std: [number, number, number];
  /** Resize filter (torchvision `interpolation`). */
  interpolation: Interpolation;
  /** Input height and width must be multiples of this (patch size for ViTs; 1 when any size works). */
  sizeMultiple: number;
  /** Smallest accepted input side in pixels. */
  minSize: number;
  /** Training/inference side used by default (224 in the release). */
  defaultSize: number;
  /** True when only `defaultSize`×`defaultSize` inputs work (graph with a fixed input shape). */
  fixedSize?: boolean;
}

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
