/**
 * The architecture table: presets (`vit_small`, `vit_base`, `dinov2_small`, `resnet50`, `vgg16_bn`) over three
 * families (ViT, ResNet, VGG). Each family knows the PyTorch keys and shapes it needs, how to complete a preset from a
 * checkpoint's shapes (patch size, position grid, registers), the PyTorch→TF weight layout, its input contract, and
 * how to build the tf-ops model. Conversion, loading and the golden tests all go through this table.
 */
import { UsageError } from '../util/errors.js';
import { ARCH_NAMES } from './arch-names.js';
import type { FeatureExtractor, InputContract } from './types.js';
import type { WeightMap } from './ops.js';
import { VisionTransformer, vitExpectedShapes, type AttentionMode, type VitConfig } from './vit.js';
import { ResNet, resnetExpectedShapes, type Downscale, type ResNetConfig } from './resnet.js';
import { Vgg, VGG16_LOC, vggExpectedShapes, vggStride, type VggConfig } from './vgg.js';

/** ImageNet normalisation used by every PyTorch backbone here. */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet std. */
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** One tensor an architecture expects. */
export interface ExpectedTensor {
  key: string;
  shape: number[];
  /** May be absent (e.g. DINOv2's mask_token in timm copies). */
  optional?: boolean;
  /** Present in checkpoints but not used for features (not stored when converting). */
  unused?: boolean;
}

/** Options when building a model. */
export interface BuildOptions {
  /** ResNet output stride. */
  downscale?: Downscale;
  /** ViT attention implementation. */
  attention?: AttentionMode;
  /** True when a native BatchMatMul kernel is registered (ViT picks batched attention then). */
  nativeBatchMatMul?: boolean;
}

/** Identity fields supplied by the loader (the rest comes from the model). */
export interface BuildIdentity {
  id: string;
  weightsSha256?: string;
}

/** A family of architectures. */
export interface ArchFamily<C> {
  family: string;
  /** Keys dropped from every checkpoint of this family before the strict check (BN step counters). */
  ignore: RegExp[];
  expected(cfg: C): ExpectedTensor[];
  /** Completes a preset from the checkpoint's tensor shapes and user options. @throws UsageError naming the key. */
  resolve(preset: C, shapes: Map<string, number[]>, opts: { patch?: number }): C;
  /** Input contract of a model with this config. */
  contract(cfg: C): InputContract;
  build(cfg: C, weights: WeightMap, id: BuildIdentity, arch: string, opts: BuildOptions): FeatureExtractor;
}

function shapeOf(shapes: Map<string, number[]>, key: string): number[] | undefined {
  return shapes.get(key);
}

const vitFamily: ArchFamily<VitConfig> = {
  family: 'vit',
  ignore: [],
  expected: (cfg) => vitExpectedShapes(cfg),
  resolve(preset, shapes, opts) {
    const cfg = { ...preset };
    const pe = shapeOf(shapes, 'patch_embed.proj.weight');
    if (pe && pe.length === 4) {
      if (opts.patch !== undefined && pe[2] !== opts.patch) throw new UsageError(`tensor "patch_embed.proj.weight" has shape [${pe.join(',')}]: patch size ${pe[2]}, but --patch ${opts.patch} was given`);
      cfg.patch = pe[2]!;
    } else if (opts.patch !== undefined) cfg.patch = opts.patch;
    const pos = shapeOf(shapes, 'pos_embed');
    if (pos && pos.length === 3) {
      const m = Math.round(Math.sqrt(pos[1]! - 1));
      if (m * m !== pos[1]! - 1) throw new UsageError(`tensor "pos_embed" has shape [${pos.join(',')}]: ${pos[1]! - 1} patch positions is not a square grid`);
      cfg.posGrid = m;
    }
    if (cfg.layerScale) {
      const reg = shapeOf(shapes, 'register_tokens');
      cfg.numRegisters = reg && reg.length === 3 ? reg[1]! : 0;
      // DINOv2 hub: models with registers interpolate with antialias and no offset; the others like DINO.
      cfg.posInterpolation = cfg.numRegisters > 0 ? 'bicubic-antialias' : 'bicubic-offset';
    }
    return cfg;
  },
  contract: (cfg) => ({ mean: IMAGENET_MEAN, std: IMAGENET_STD, interpolation: 'bicubic', sizeMultiple: cfg.patch, minSize: cfg.patch, defaultSize: 224 }),
  build(cfg, weights, id, arch, opts) {
    const o: ConstructorParameters<typeof VisionTransformer>[3] = { nativeBatchMatMul: !!opts.nativeBatchMatMul };
    if (opts.attention) o.attention = opts.attention;
    return new VisionTransformer(cfg, weights, { ...id, arch, input: this.contract(cfg) }, o);
  },
};

const resnetFamily: ArchFamily<ResNetConfig> = {
  family: 'resnet',
  ignore: [/\.num_batches_tracked$/],
  expected: (cfg) => resnetExpectedShapes(cfg),
  resolve(preset) {
    if (preset.ccam !== undefined && typeof preset.ccam !== 'boolean') throw new UsageError(`--arch-config: "ccam" must be true or false (got ${JSON.stringify(preset.ccam)})`);
    return { ...preset };
  },
  contract: () => ({ mean: IMAGENET_MEAN, std: IMAGENET_STD, interpolation: 'bilinear', sizeMultiple: 1, minSize: 32, defaultSize: 224 }),
  build(cfg, weights, id, arch, opts) {
    const o: ConstructorParameters<typeof ResNet>[3] = {};
    if (opts.downscale) o.downscale = opts.downscale;
    return new ResNet(cfg, weights, { ...id, arch, input: this.contract(cfg) }, o);
  },
};

const vggFamily: ArchFamily<VggConfig> = {
  family: 'vgg',
  ignore: [/\.num_batches_tracked$/],
  expected: (cfg) => vggExpectedShapes(cfg),
  resolve: (preset) => ({ ...preset }),
  contract: (cfg) => ({ mean: IMAGENET_MEAN, std: IMAGENET_STD, interpolation: 'bilinear', sizeMultiple: 1, minSize: vggStride(cfg.cfg) * 4, defaultSize: 224 }),
  build(cfg, weights, id, arch) {
    return new Vgg(cfg, weights, { ...id, arch, input: this.contract(cfg) });
  },
};

/** Families by name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- configs differ per family; each entry is typed above
export const FAMILIES: Record<string, ArchFamily<any>> = { vit: vitFamily, resnet: resnetFamily, vgg: vggFamily };

/** A named preset: family + full default config. */
export interface ArchPreset {
  family: 'vit' | 'resnet' | 'vgg';
  description: string;
  config: VitConfig | ResNetConfig | VggConfig;
  /** Config keys that may be given although the preset leaves them out (options whose absence is the default). */
  options?: string[];
}

const vit = (embedDim: number, heads: number, patch: number): VitConfig => ({
  embedDim,
  depth: 12,
  heads,
  patch,
  mlpRatio: 4,
  posGrid: 224 / patch,
  numRegisters: 0,
  layerScale: false,
  posInterpolation: 'bicubic-offset',
  eps: 1e-6,
});

/** Architecture presets accepted by `uol convert --arch`. */
export const ARCH_PRESETS: Record<string, ArchPreset> = {
  vit_small: { family: 'vit', description: 'DINO ViT-S (384 wide, 12 blocks, 6 heads); --patch 16 or 8', config: vit(384, 6, 16) },
  vit_base: { family: 'vit', description: 'DINO ViT-B (768 wide, 12 blocks, 12 heads); --patch 16 or 8', config: vit(768, 12, 16) },
  dinov2_small: {
    family: 'vit',
    description: 'DINOv2 ViT-S/14 (LayerScale; registers detected from the checkpoint)',
    config: { ...vit(384, 6, 14), posGrid: 37, layerScale: true },
  },
  resnet50: {
    family: 'resnet',
    description: 'ResNet-50, torchvision naming; feature = layer4, downscale 32/16/8 (option ccam: layer3 ‖ layer4, downscale 16/8)',
    config: { layers: [3, 4, 6, 3], width: 64, eps: 1e-5 },
    options: ['ccam'],
  },
  vgg16_bn: { family: 'vgg', description: 'VGG16-BN, localization variant (last two max-pools 3×3 stride 1); feature = conv5_3 block, stride 8', config: { cfg: VGG16_LOC, eps: 1e-5 } },
};

// arch-names.ts (light, for the CLI) must name exactly these presets.
if (Object.keys(ARCH_PRESETS).join() !== ARCH_NAMES.join()) {
  throw new Error(`backbones/arch-names.ts lists ${ARCH_NAMES.join(', ')} but the presets are ${Object.keys(ARCH_PRESETS).join(', ')}`);
}

/**
 * Resolves an arch name plus optional config overrides (JSON object, for non-standard widths/depths) to a preset.
 * @throws UsageError for an unknown name or override key.
 */
export function resolvePreset(arch: string, overrides?: Record<string, unknown>): ArchPreset {
  const p = ARCH_PRESETS[arch];
  if (!p) throw new UsageError(`unknown --arch "${arch}"; known: ${Object.keys(ARCH_PRESETS).join(', ')}`);
  if (!overrides) return p;
  const base = p.config as unknown as Record<string, unknown>;
  const known = [...Object.keys(base), ...(p.options ?? [])];
  for (const k of Object.keys(overrides)) if (!known.includes(k)) throw new UsageError(`--arch-config: "${k}" is not a ${p.family} setting (known: ${known.join(', ')})`);
  return { ...p, config: { ...base, ...overrides } as unknown as ArchPreset['config'] };
}

/**
 * Builds the tf-ops model of a family from TF-layout weights.
 * @throws UsageError for an unknown family.
 */
export function buildBackbone(family: string, arch: string, config: Record<string, unknown>, weights: WeightMap, id: { id: string; weightsSha256?: string }, opts: BuildOptions = {}): FeatureExtractor {
  const fam = FAMILIES[family];
  if (!fam) throw new UsageError(`unknown architecture family "${family}"`);
  return fam.build(config, weights, id, arch, opts);
}
