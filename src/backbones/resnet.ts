/**
 * ResNet (bottleneck, torchvision naming: `conv1, bn1, layer1.0.conv1 …, layer4.2.bn3`) as tf ops, with the
 * release's `downscale` option: output stride 32 (standard), 16 (layer4 stride 1) or 8 (layer3 and layer4 stride 1) —
 * strides changed, no dilation, exactly as the authors' `resnet50(resnet_downscale=…)`.
 *
 * BatchNorm runs in inference mode and is folded into the preceding convolution at load
 * (`w·γ/√(var+eps)`, `β − mean·γ/√(var+eps)`, computed in float64), so every conv is one `tf.fused.conv2d`
 * (XNNPACK on wasm) with bias and ReLU. Padding is explicit and symmetric like PyTorch's (`pad: 3` / `pad: 1`).
 * Feature = layer4 output (post-ReLU), `[B, h, w, 4·8·width]`; with `ccam` (the release's CCAM variant) layer3 ‖ layer4.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import type { BackboneIdentity, FeatureExtractor } from './types.js';
import { weight, type WeightMap } from './ops.js';
import { bottleneckBlock, type BlockConv, type BottleneckConvs } from '../engine/fused.js';
import { holdOnce } from '../engine/native-state.js';

/** ResNet hyper-parameters (torchvision ResNet-50: layers [3,4,6,3], width 64). */
export interface ResNetConfig {
  /** Bottleneck blocks per stage. */
  layers: [number, number, number, number];
  /** Stem width; stage s has `width·2^s` inner planes and 4× that output channels. */
  width: number;
  /** BatchNorm epsilon (1e-5 in torchvision). */
  eps: number;
  /**
   * The release's CCAM variant (`resnet50(ccam=True)`): the feature is layer3 ‖ layer4 concatenated along channels
   * (`[B,h,w,16·width + 32·width]`, 1024 + 2048 for ResNet-50). Needs layer3 and layer4 at the same resolution, i.e.
   * layer4 at stride 1: downscale 16 or 8 (the release's `torch.concat` fails at 32). Absent = false.
   */
  ccam?: boolean;
}

/** Output stride choices. */
export type Downscale = 8 | 16 | 32;

/**
 * Whether the CCAM feature (layer3 ‖ layer4) exists at output stride `ds`: stage strides are
 * `[1, 2, 1+(ds≥16), 1+(ds=32)]` (the release's `resnet50`), so layer4 keeps layer3's size only for 16 and 8.
 */
export function ccamDownscaleOk(ds: Downscale): boolean {
  return ds !== 32;
}

const EXPANSION = 4;

function bnKeys(prefix: string, c: number): { key: string; shape: number[] }[] {
  return ['weight', 'bias', 'running_mean', 'running_var'].map((s) => ({ key: `${prefix}.${s}`, shape: [c] }));
}

/** Expected PyTorch keys and shapes of a ResNet with `cfg` (num_batches_tracked buffers are optional and ignored). */
export function resnetExpectedShapes(cfg: ResNetConfig): { key: string; shape: number[] }[] {
  const w = cfg.width;
  const out: { key: string; shape: number[] }[] = [{ key: 'conv1.weight', shape: [w, 3, 7, 7] }, ...bnKeys('bn1', w)];
  let inplanes = w;
  cfg.layers.forEach((n, s) => {
    const planes = w * 2 ** s;
    for (let b = 0; b < n; b++) {
      const p = `layer${s + 1}.${b}`;
      out.push({ key: `${p}.conv1.weight`, shape: [planes, inplanes, 1, 1] }, ...bnKeys(`${p}.bn1`, planes));
      out.push({ key: `${p}.conv2.weight`, shape: [planes, planes, 3, 3] }, ...bnKeys(`${p}.bn2`, planes));
      out.push({ key: `${p}.conv3.weight`, shape: [planes * EXPANSION, planes, 1, 1] }, ...bnKeys(`${p}.bn3`, planes * EXPANSION));
      // torchvision (and the release) give block 0 of every stage a projection: strides or widths differ there.
      if (b === 0) out.push({ key: `${p}.downsample.0.weight`, shape: [planes * EXPANSION, inplanes, 1, 1] }, ...bnKeys(`${p}.downsample.1`, planes * EXPANSION));
      inplanes = planes * EXPANSION;
    }
  });
  return out;
}

/** A BN-folded convolution (PyTorch-style symmetric padding). */
type Conv = BlockConv & { pad: number };

/** A bottleneck's convolutions, as {@link bottleneckBlock} takes them. */
interface Bottleneck extends BottleneckConvs {
  c1: Conv;
  c2: Conv;
  c3: Conv;
  down?: Conv;
}

/**
 * Folds an inference-mode BatchNorm into a bias-free (or biased) conv. `w` in TF layout `[kh,kw,in,out]`.
 * @returns folded filter and bias, float32.
 */
export function foldBatchNorm(
  w: Float32Array,
  outChannels: number,
  bn: { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array },
  eps: number,
  convBias?: Float32Array,
): { filter: Float32Array; bias: Float32Array } {
  const factor = new Float64Array(outChannels);
  const bias = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    factor[o] = bn.gamma[o]! / Math.sqrt(bn.variance[o]! + eps);
    bias[o] = bn.beta[o]! + ((convBias ? convBias[o]! : 0) - bn.mean[o]!) * factor[o]!;
  }
  const filter = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) filter[i] = w[i]! * factor[i % outChannels]!;
  return { filter, bias };
}

/** Reads a BatchNorm's four arrays from `weights`. */
export function bnArrays(weights: WeightMap, prefix: string): { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array } {
  return {
    gamma: weight(weights, `${prefix}.weight`).data,
    beta: weight(weights, `${prefix}.bias`).data,
    mean: weight(weights, `${prefix}.running_mean`).data,
    variance: weight(weights, `${prefix}.running_var`).data,
  };
}

/** Options of {@link ResNet}. */
export interface ResNetOptions {
  /** Output stride (default 32). */
  downscale?: Downscale;
}

/** A torchvision-layout bottleneck ResNet feature extractor (layer4 output). */
export class ResNet implements FeatureExtractor {
  readonly identity: BackboneIdentity;
  readonly downscale: Downscale;
  private readonly stem: Conv;
  private readonly stages: Bottleneck[][] = [];
  private disposed = false;

  constructor(
    readonly config: ResNetConfig,
    weights: WeightMap,
    identity: Omit<BackboneIdentity, 'channels' | 'stride' | 'featureLayer'>,
    opts: ResNetOptions = {},
  ) {
    const ds = opts.downscale ?? 32;
    if (ds !== 8 && ds !== 16 && ds !== 32) throw new UsageError(`downscale must be 8, 16 or 32 (got ${String(ds)})`);
    if (config.ccam && !ccamDownscaleOk(ds))
      throw new UsageError(
        `downscale ${ds}: the CCAM feature concatenates layer3 and layer4, whose sizes agree only when layer4 keeps stride 1 (downscale 16 or 8; the release's torch.concat fails at 32); use \`downscale\` 16`,
        { options: ['downscale'] },
      );
    this.downscale = ds;
    const w = config.width;
    // The downscale changes the features, so it is part of the layer name (a predictor fitted at one stride is refused at another).
    const layer = config.ccam ? 'layer3+layer4' : 'layer4';
    const channels = config.ccam ? w * 4 * EXPANSION + w * 8 * EXPANSION : w * 8 * EXPANSION;
    this.identity = { ...identity, featureLayer: ds === 32 ? layer : `${layer}@stride${ds}`, channels, stride: ds };
    const conv = (key: string, bn: string, stride: number, pad: number): Conv => {
      const cw = weight(weights, key);
      const out = cw.shape[3]!;
      const { filter, bias } = foldBatchNorm(cw.data, out, bnArrays(weights, bn), config.eps);
      const f = tf.tensor4d(filter, cw.shape as [number, number, number, number]);
      holdOnce([f]); // held once: the native kernels may keep it packed in place (src/engine/native-kernels.ts)
      return { filter: f, bias: tf.tensor1d(bias), stride, pad };
    };
    this.stem = conv('conv1.weight', 'bn1', 2, 3);
    // Stage strides as in the release: [1, 2, 1+(ds>=16), 1+(ds==32)].
    const strides = [1, 2, ds >= 16 ? 2 : 1, ds === 32 ? 2 : 1];
    config.layers.forEach((n, s) => {
      const blocks: Bottleneck[] = [];
      for (let b = 0; b < n; b++) {
        const p = `layer${s + 1}.${b}`;
        const st = b === 0 ? strides[s]! : 1;
        const blk: Bottleneck = {
          c1: conv(`${p}.conv1.weight`, `${p}.bn1`, 1, 0),
          c2: conv(`${p}.conv2.weight`, `${p}.bn2`, st, 1),
          c3: conv(`${p}.conv3.weight`, `${p}.bn3`, 1, 0),
        };
        if (b === 0) blk.down = conv(`${p}.downsample.0.weight`, `${p}.downsample.1`, st, 0);
        blocks.push(blk);
      }
      this.stages.push(blocks);
    });
  }

  private run(x: tf.Tensor4D, c: Conv, relu: boolean): tf.Tensor4D {
    const args: Parameters<typeof tf.fused.conv2d>[0] = { x, filter: c.filter, strides: c.stride, pad: c.pad, bias: c.bias };
    if (relu) args.activation = 'relu';
    return tf.fused.conv2d(args) as tf.Tensor4D;
  }

  /**
   * One bottleneck: relu(conv3(relu(conv2(relu(conv1 x)))) + shortcut) (src/engine/fused.ts's bottleneckBlock: one
   * native kernel for the whole block when available, TF.js ops otherwise).
   */
  bottleneck(blk: Bottleneck, x: tf.Tensor4D): tf.Tensor4D {
    return bottleneckBlock(x, blk);
  }

  /**
   * layer4 features (CCAM variant: layer3 ‖ layer4 along channels, layer3 first as in the release's `torch.concat`).
   * @param x [B,H,W,3] normalised with ImageNet mean/std.
   * @returns [B, h, w, 2048] (for width 64; 3072 with ccam), h ≈ H/downscale (PyTorch's floor rules per stride-2 layer).
   */
  extract(x: tf.Tensor4D): tf.Tensor4D {
    if (this.disposed) throw new Error(`${this.identity.id}: backbone used after dispose()`);
    return tf.tidy(() => {
      let h = tf.maxPool(this.run(x, this.stem, true), 3, 2, 1) as tf.Tensor4D;
      let layer3: tf.Tensor4D | undefined;
      this.stages.forEach((stage, s) => {
        for (const blk of stage) h = this.bottleneck(blk, h);
        if (s === 2) layer3 = h;
      });
      return this.config.ccam ? tf.concat([layer3!, h], 3) : h;
    });
  }

  /** Releases all weight tensors. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const all = [this.stem, ...this.stages.flat().flatMap((b) => [b.c1, b.c2, b.c3, ...(b.down ? [b.down] : [])])];
    for (const c of all) {
      c.filter.dispose();
      c.bias.dispose();
    }
  }
}
