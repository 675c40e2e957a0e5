/**
 * Public API of the backbones area: the registry (load by name or path, list, fetch), the feature-extractor interface,
 * conversion of PyTorch checkpoints, and feature extraction for image files.
 */
export type { BackboneIdentity, FeatureExtractor, InputContract, Interpolation } from '../types.js';
export { runExtractor } from '../types.js';
export { DEFAULT_BACKBONE, listBackbones, loadBackbone, fetchBackbone, embeddedArtifacts, readRegistry } from './registry.js';
export type { BackboneInfo, BackboneSource, LoadBackboneOptions, FetchOptions, FetchResult, KnownCheckpoint } from './registry.js';
export { convertCheckpoint, loadConvertedBackbone, prepareWeights, buildBackbone } from './convert.js';
export type { ConvertOptions, ConvertResult } from './convert.js';
export { ARCH_PRESETS, IMAGENET_MEAN, IMAGENET_STD } from '../archs.js';
export { extractToDir, expandImageArgs, checkInputSize } from '../extract.js';
export { tfjsBackboneFromArtifacts } from '../tfjs-model.js';
export { loadTfjsModelBackbone } from './tfjs-model-file.js';
export type { TfjsBackboneSpec } from '../tfjs-model.js';
export type { Downscale } from '../resnet.js';
export type { AttentionMode, VitConfig } from '../vit.js';
