/**
 * The classifier interface behind Top-1 / Top-5 Loc: a frozen network mapping a batch of prepared images to class
 * logits, with the input transform the authors' release gives classifiers on each dataset.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { InputContract } from '../backbones/types.js';
import type { Protocol } from '../data/transforms.js';

/**
 * Which `cls_transform` of the release applies: `cub` (datasets/cub200.py: Resize((448,448)), whole image) or
 * `imagenet` (datasets/ilsvrc.py: Resize((256,256)) → CenterCrop(224)).
 */
export type ClassifierDataset = 'cub' | 'imagenet';

/** The release's classifier input transform for a dataset (ToTensor + ImageNet Normalize follow, per the contract). */
export function releaseClassifierTransform(d: ClassifierDataset): Protocol {
  return d === 'cub' ? { kind: 'resize', width: 448, height: 448 } : { kind: 'resize-crop', resize: 256, crop: 224 };
}

/** What a classifier is. */
export interface ClassifierIdentity {
  /** Registry name, e.g. `cub_resnet50`. */
  id: string;
  /** Architecture preset of the trunk (`resnet50`, `vit_small`). */
  arch: string;
  /** Number of classes K (logits per image). */
  numClasses: number;
  /** The class space its indices refer to (`cub`: CUB-200 class_labels order; `imagenet`: the 1000 ILSVRC classes). */
  classSpace: ClassifierDataset;
  /** sha256 of the weights (the converted shards, or the source checkpoint files joined by `+`), hex. */
  weightsSha256?: string;
  /** Input contract (ImageNet mean/std; torchvision's default bilinear Resize). */
  input: InputContract;
}

/** A frozen image classifier. */
export interface Classifier {
  readonly identity: ClassifierIdentity;
  /** The release's `cls_transform` for images of `dataset` (see {@link releaseClassifierTransform}). */
  inputTransform(dataset: ClassifierDataset): Protocol;
  /**
   * Class logits.
   * @param x [B,H,W,3] float32 normalised per {@link ClassifierIdentity.input}; not disposed.
   * @returns [B,K] float32 logits (caller disposes).
   */
  classify(x: tf.Tensor4D): tf.Tensor2D;
  /** Releases weights. */
  dispose(): void;
}
