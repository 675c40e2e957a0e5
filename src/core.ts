/**
 * The platform-neutral core of uol-rps: everything the method computes, importable without Node built-ins (no fs, path,
 * os, worker_threads, child_process, zlib, crypto modules, sharp, jimp or the native addon), so that a browser bundle
 * or any other JavaScript runtime with TF.js can run it on whatever backend is registered (WebGPU, WebGL, wasm, cpu).
 *
 * What it holds: backbone forward passes (ViT, ResNet, VGG, tfjs-converter models) built from weights in memory, the
 * fit statistics, w* (closed form and optimised), activation maps, boxes (OpenCV semantics), the metrics, and the
 * predictor file format (encode/decode text). What it does not: reading files, decoding images, starting an engine —
 * that is the Node layer (`src/index.ts`, the `node/` sub-folders, `engine/backend.ts` + `engine/native.ts`, `data/`,
 * `io/`, `weights/`). See docs/architecture.md ("Platform-neutral core and the Node layer").
 *
 * Enforced twice: ESLint's `no-restricted-imports` on the core files (eslint.config.js) and spec/core-bundle.spec.ts,
 * which bundles this entry with esbuild for the browser platform and fails on any Node import it reaches.
 *
 * The caller registers and selects a TF.js backend (`@tensorflow/tfjs-backend-webgl` etc.) before using it.
 */

// Backbones: the interface, the families built from TF-layout weights, tfjs-converter models from artifacts.
export { runExtractor } from './backbones/types.js';
export type { BackboneIdentity, FeatureExtractor, InputContract, Interpolation } from './backbones/types.js';
export { ARCH_PRESETS, FAMILIES, IMAGENET_MEAN, IMAGENET_STD, buildBackbone, resolvePreset } from './backbones/archs.js';
export type { ArchPreset, BuildOptions } from './backbones/archs.js';
export { VisionTransformer } from './backbones/vit.js';
export type { AttentionMode, VitConfig } from './backbones/vit.js';
export { ResNet } from './backbones/resnet.js';
export type { Downscale, ResNetConfig } from './backbones/resnet.js';
export { Vgg } from './backbones/vgg.js';
export type { VggConfig } from './backbones/vgg.js';
export type { WeightMap } from './backbones/ops.js';
export { tfjsBackboneFromArtifacts } from './backbones/tfjs-model.js';
export type { TfjsBackboneSpec } from './backbones/tfjs-model.js';
export { syntheticTensor, syntheticWeights, syntheticSpecFor } from './backbones/synthetic.js';
export type { SyntheticTensorSpec } from './backbones/synthetic.js';

// The method: statistics, closed form, maps, the predictor format, optimisation, representers, explanations.
export { FitStatistics, StatsBlock, batchSums, NORMALIZE_EPS } from './rps/statistics.js';
export type { BatchSums, StatisticsJSON } from './rps/statistics.js';
export { ExactSumVector } from './rps/exact-sum.js';
export { closedFormDirection, representerThreshold, directionFromBlock } from './rps/closed-form.js';
export { activationMaps, rawScores, caamScores, normalizeMaps, upsampleMaps, l2normalize } from './rps/activation.js';
export type { MapOptions } from './rps/activation.js';
export {
  predictorFromStatistics,
  encodePredictor,
  decodePredictor,
  assertCompatible,
  classRow,
  PREDICTOR_FORMAT,
  PREDICTOR_VERSION,
} from './rps/predictor.js';
export type { Predictor, ClassInfo, ThresholdInfo, MethodInfo, CreationInfo, BlockSummary, FitOptions } from './rps/predictor.js';
export { DEFAULT_THRESHOLD, checkThreshold, resolveThreshold } from './rps/threshold.js';
export { fitOptimized, addRepresenters, OPTIMIZE_DEFAULTS } from './rps/optimize.js';
export type { OptimizeOptions, OptimizeResult, ClassFit, ClasswiseFit } from './rps/optimize.js';
export { PointStream, itemShape, itemTensor } from './rps/point-source.js';
export type { TrainingSource, TrainingItem, HostFeatureMap } from './rps/point-source.js';
export { explain, cellBox } from './rps/explain.js';
export type { ExplainOptions, ExplainResult, ExplainedPoint, ExplainedRegion } from './rps/explain.js';

// Boxes and metrics.
export { boxesFromMap, boxesAtThresholds } from './localize/boxes.js';
export type { Box } from './localize/boxes.js';
export { toGray, toGrayMax, grayCut, releaseThresholds, wsolThresholds } from './localize/gray.js';
export type { ScoreMap } from './localize/gray.js';
export { BoxEvaluator } from './evaluate/box-metrics.js';
export type { BoxMetrics, BoxSample, BoxThresholdChoice, ImageBoxResult } from './evaluate/box-metrics.js';
export { MaskEvaluator } from './evaluate/mask-metrics.js';
export type { MaskMetrics, MaskSample } from './evaluate/mask-metrics.js';
export { boxIoU, bestIoU } from './evaluate/iou.js';

// Errors the core throws for bad input.
export { UsageError } from './util/errors.js';
