/**
 * The two classifier heads of the authors' release, on the backbones of src/backbones:
 *
 * - {@link ResNetClassifier}: torchvision ResNet-50 classification — layer4 (output stride 32) → global average pool
 *   (`AdaptiveAvgPool2d((1,1))`) → `fc` (2048 → K). Used for torchvision's ImageNet ResNet-50 and the release's
 *   `models/cubresnet.py` (the same network with a 200-class fc).
 * - {@link DinoLinearClassifier}: the release's `models/vit_classifier.py` (DINO's `eval_linear`): the final-normed CLS
 *   token after each of the last `n` blocks (`get_intermediate_layers(x, n)`), concatenated in block order (n = 4 for
 *   ViT-S/8: 4·384 = 1536 features), then `linear` (→ K). DINO's `avgpool_patchtokens` variant (ViT-B, n = 1) is not
 *   used by the release and not implemented.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureExtractor } from '../backbones/types.js';
import type { VisionTransformer } from '../backbones/vit.js';
import type { WeightArray } from '../backbones/ops.js';
import { releaseClassifierTransform, type Classifier, type ClassifierDataset, type ClassifierIdentity } from './types.js';
import type { Protocol } from '../data/transforms.js';

/** A linear head in TF layout: weight `[D, K]`, bias `[K]`. */
export interface LinearHead {
  weight: WeightArray;
  bias: WeightArray;
}

abstract class HeadClassifier implements Classifier {
  protected readonly w: tf.Tensor2D;
  protected readonly b: tf.Tensor1D;
  private disposed = false;

  constructor(
    readonly identity: ClassifierIdentity,
    protected readonly trunk: FeatureExtractor,
    head: LinearHead,
  ) {
    this.w = tf.tensor2d(head.weight.data, head.weight.shape as [number, number]);
    this.b = tf.tensor1d(head.bias.data);
  }

  inputTransform(dataset: ClassifierDataset): Protocol {
    return releaseClassifierTransform(dataset);
  }

  /** Features `[B, D]` fed to the linear head. */
  protected abstract features(x: tf.Tensor4D): tf.Tensor2D;

  classify(x: tf.Tensor4D): tf.Tensor2D {
    if (this.disposed) throw new Error(`${this.identity.id}: classifier used after dispose()`);
    return tf.tidy(() => tf.fused.matMul({ a: this.features(x), b: this.w, bias: this.b }) as tf.Tensor2D);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.w.dispose();
    this.b.dispose();
    this.trunk.dispose();
  }
}

/** ResNet → global average pool → fc. `trunk` must be a stride-32 ResNet (layer4 features). */
export class ResNetClassifier extends HeadClassifier {
  protected features(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.mean(this.trunk.extract(x), [1, 2]) as tf.Tensor2D);
  }
}

/** How the DINO linear head reads the ViT. */
export interface DinoLinearConfig {
  /** Last blocks whose normed CLS tokens are concatenated (4 in the release and for DINO ViT-S). */
  nLastBlocks: number;
}

/** DINO ViT → CLS tokens of the last n blocks → linear. */
export class DinoLinearClassifier extends HeadClassifier {
  constructor(
    identity: ClassifierIdentity,
    private readonly vit: VisionTransformer,
    head: LinearHead,
    readonly readout: DinoLinearConfig,
  ) {
    super(identity, vit, head);
  }

  protected features(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const layers = this.vit.intermediateLayers(x, this.readout.nLastBlocks);
      const [B, , C] = layers[0]!.shape;
      return tf.concat(layers.map((l) => tf.reshape(tf.slice(l, [0, 0, 0], [B, 1, C]), [B, C]) as tf.Tensor2D), 1);
    });
  }
}
