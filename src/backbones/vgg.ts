/**
 * VGG with BatchNorm (torchvision `vgg16_bn` naming: `features.{i}.*`) in the authors' localization variant: the
 * last two 2×2/2 max-pools become 3×3 stride-1 pools with padding 1 ('N' in the config), so conv5_3 keeps output
 * stride 8. The feature is the output of the whole `features` stack (the final 3×3/1 pool included), as the release's
 * `VGGStep.forward` returns it. Conv + BN (inference) + ReLU are fused into one `tf.fused.conv2d` per layer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackboneIdentity, FeatureExtractor } from './types.js';
import { weight, type WeightMap } from './ops.js';
import { bnArrays, foldBatchNorm } from './resnet.js';
import { holdOnce } from '../engine/native-state.js';

/** One entry of a VGG config: conv width, 'M' (2×2/2 max-pool) or 'N' (3×3/1 max-pool, pad 1). */
export type VggItem = number | 'M' | 'N';

/** VGG hyper-parameters. */
export interface VggConfig {
  /** Layer sequence, e.g. vgg16 localization: 64,64,M,128,128,M,256×3,M,512×3,N,512×3,N. */
  cfg: VggItem[];
  /** BatchNorm epsilon (1e-5). */
  eps: number;
}

/** The localization VGG16-BN config of the release (`cfg['vgg16']` with 'N' pools). */
export const VGG16_LOC: VggItem[] = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'N', 512, 512, 512, 'N'];

/** Torch module index of every conv in `features` (conv, bn, relu → 3 indices; pools → 1). */
function layout(cfg: VggItem[]): { item: VggItem; index: number }[] {
  const out: { item: VggItem; index: number }[] = [];
  let i = 0;
  for (const item of cfg) {
    out.push({ item, index: i });
    i += typeof item === 'number' ? 3 : 1;
  }
  return out;
}

/** Expected PyTorch keys and shapes (`features.*` only; the classifier is not part of the backbone). */
export function vggExpectedShapes(cfg: VggConfig): { key: string; shape: number[] }[] {
  const out: { key: string; shape: number[] }[] = [];
  let inC = 3;
  for (const { item, index } of layout(cfg.cfg)) {
    if (typeof item !== 'number') continue;
    out.push({ key: `features.${index}.weight`, shape: [item, inC, 3, 3] }, { key: `features.${index}.bias`, shape: [item] });
    for (const s of ['weight', 'bias', 'running_mean', 'running_var']) out.push({ key: `features.${index + 1}.${s}`, shape: [item] });
    inC = item;
  }
  return out;
}

/** Output stride of a config (2 per 'M'). */
export function vggStride(cfg: VggItem[]): number {
  return 2 ** cfg.filter((c) => c === 'M').length;
}

type Layer = { kind: 'conv'; filter: tf.Tensor4D; bias: tf.Tensor1D } | { kind: 'M' | 'N' };

/** VGG-BN localization feature extractor. */
export class Vgg implements FeatureExtractor {
  readonly identity: BackboneIdentity;
  private readonly layers: Layer[] = [];
  private disposed = false;

  constructor(
    readonly config: VggConfig,
    weights: WeightMap,
    identity: Omit<BackboneIdentity, 'channels' | 'stride' | 'featureLayer'>,
  ) {
    const lay = layout(config.cfg);
    const convs = config.cfg.filter((c): c is number => typeof c === 'number');
    this.identity = { ...identity, featureLayer: `features.${lay[lay.length - 1]!.index}`, channels: convs[convs.length - 1]!, stride: vggStride(config.cfg) };
    for (const { item, index } of lay) {
      if (typeof item !== 'number') {
        this.layers.push({ kind: item });
        continue;
      }
      const w = weight(weights, `features.${index}.weight`);
      const { filter, bias } = foldBatchNorm(w.data, item, bnArrays(weights, `features.${index + 1}`), config.eps, weight(weights, `features.${index}.bias`).data);
      const f = tf.tensor4d(filter, w.shape as [number, number, number, number]);
      holdOnce([f]); // held once: the native kernels may keep it packed in place (src/engine/native-kernels.ts)
      this.layers.push({ kind: 'conv', filter: f, bias: tf.tensor1d(bias) });
    }
  }

  /**
   * Features of the last layer.
   * @param x [B,H,W,3] normalised with ImageNet mean/std.
   * @returns [B, ⌊H/8⌋, ⌊W/8⌋, 512] for the VGG16 localization config.
   */
  extract(x: tf.Tensor4D): tf.Tensor4D {
    if (this.disposed) throw new Error(`${this.identity.id}: backbone used after dispose()`);
    return tf.tidy(() => {
      let h = x;
      for (const l of this.layers) {
        if (l.kind === 'conv') h = tf.fused.conv2d({ x: h, filter: l.filter, bias: l.bias, strides: 1, pad: 1, activation: 'relu' });
        else if (l.kind === 'M') h = tf.maxPool(h, 2, 2, 'valid');
        else h = tf.maxPool(h, 3, 1, 1);
      }
      return h;
    });
  }

  /** Releases all weight tensors. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const l of this.layers)
      if (l.kind === 'conv') {
        l.filter.dispose();
        l.bias.dispose();
      }
  }
}
