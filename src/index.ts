/**
 * uol-rps — unsupervised object localization by representer point selection on TensorFlow.js.
 *
 * The public library API. Typical use:
 * ```ts
 * import { initEngine, loadBackbone, openDataset, fitOnRecords, localizeRecords, wholeProtocol } from 'uol-rps';
 * await initEngine();                                   // tfjs-node-gpu → webgpu → tfjs-node → wasm → cpu
 * const backbone = await loadBackbone('nsfwjs-mobilenetv2');
 * const ds = await openDataset('folder', { dataDir: 'photos/' });
 * const records = await ds.records(ds.splits[0]);
 * const { predictor } = await fitOnRecords({ backbone, records, sourceDescription: 'photos', listingHash: '', tool: 'me' });
 * const { results } = await localizeRecords({ backbone, predictor, records, protocol: wholeProtocol(224), threshold: 0.3 });
 * ```
 * Library functions return values and report progress through callbacks; they never print.
 */

// Engine
export { initEngine, engineInfo, BACKEND_CHOICES } from './engine/backend.js';
export type { BackendChoice, EngineInfo, EngineOptions, BackendAttempt } from './engine/backend.js';
export type { NativeStatus } from './engine/native.js';

// Backbones and weights
export * from './backbones/node/index.js';
export { checkInputSize } from './data/input-contract.js';
export { expandImageArgs, listImages, isImageFile, IMAGE_EXTENSIONS } from './data/image-list.js';
export type { ImageListing, StemmedImage } from './data/image-list.js';
export { extractToDir } from './pipeline/extract.js';
export type { ExtractOptions, ExtractResult } from './pipeline/extract.js';

// The method: statistics, closed form, maps, predictor file, optimisation and representers
export { FitStatistics, StatsBlock, batchSums, NORMALIZE_EPS } from './rps/statistics.js';
export type { BatchSums, StatisticsJSON } from './rps/statistics.js';
export { ExactSumVector } from './rps/exact-sum.js';
export { closedFormDirection, representerThreshold, directionFromBlock } from './rps/closed-form.js';
export { activationMaps, rawScores, caamScores, normalizeMaps, upsampleMaps, l2normalize } from './rps/activation.js';
export type { MapOptions } from './rps/activation.js';
export { predictorFromStatistics, encodePredictor, decodePredictor, assertCompatible, classRow, PREDICTOR_FORMAT, PREDICTOR_VERSION } from './rps/predictor.js';
export { savePredictor, loadPredictor } from './rps/node/predictor-file.js';
export type { Predictor, ClassInfo, ThresholdInfo, MethodInfo, CreationInfo, BlockSummary, FitOptions } from './rps/predictor.js';
export { saveStatistics, loadStatistics, mergeStatisticsFiles, parseShard, shardRange } from './rps/node/statistics-file.js';
export type { StatisticsFile, StatisticsMeta } from './rps/node/statistics-file.js';
export { fitOptimized, addRepresenters, OPTIMIZE_DEFAULTS } from './rps/optimize.js';
export type { OptimizeOptions, OptimizeResult, ClassFit, ClasswiseFit } from './rps/optimize.js';
export { featureDirSource, extractorSource } from './rps/node/sources.js';
export type { TrainingSource, TrainingItem } from './rps/point-source.js';
export { fitFromFeatures, localizeFromFeatures, statisticsFromFeatures } from './rps/node/features-pipeline.js';
export { explain, cellBox } from './rps/explain.js';
export { explainImage } from './rps/node/explain-image.js';
export type { ExplainOptions, ExplainResult, ExplainedPoint, ExplainedRegion } from './rps/explain.js';
export { imageTrainingSource } from './pipeline/feature-cache.js';
export { compareFits, scorePredictor } from './pipeline/compare-fits.js';

// Boxes and metrics
export { boxesFromMap, boxesAtThresholds } from './localize/boxes.js';
export type { CornerBox, EdgeBox, HalfOpenBox, XYWHBox, NormalizedBox } from './util/box.js';
/** The box `boxesFromMap` returns (cv2 corners): the name before util/box.ts gave each convention its own. */
export type { CornerBox as Box } from './util/box.js';
export { cornerToImageEdges, edgesToXYWH, normalizeBox, denormalizeBox } from './util/box.js';
export { BoxEvaluator } from './evaluate/box-metrics.js';
export type { BoxMetrics, BoxSample, BoxThresholdChoice, ImageBoxResult } from './evaluate/box-metrics.js';
export { MaskEvaluator } from './evaluate/mask-metrics.js';
export type { MaskMetrics, MaskSample } from './evaluate/mask-metrics.js';
export { readWsolMetadata } from './evaluate/node/wsol-metadata.js';
export type { WsolMetadata } from './evaluate/node/wsol-metadata.js';

// Classifiers for Top-1 / Top-5 Loc (docs/classifiers.md)
export { CLASSIFIERS, CLASSIFIER_NAMES, classifierSpec, convertClassifier, loadClassifier, resolveClassifierName } from './classify/registry.js';
export type { ClassifierFileSpec, ClassifierSpec, ConvertClassifierResult, LoadClassifierOptions } from './classify/registry.js';
export { releaseClassifierTransform } from './classify/types.js';
export type { Classifier, ClassifierDataset, ClassifierIdentity } from './classify/types.js';
export { argmaxClass, classRank, classRanks, parsePredictions, predictedClass, predictedRank, readPredictions } from './classify/ranks.js';
export type { ImagePrediction, Predictions } from './classify/ranks.js';
export { classifierDatasetOf, classifierRankSource, classifyRecords, predictedClasses, predictionsRankSource } from './classify/run.js';
export type { ClassifiedImage, ClassifyRecordsOptions, ClassRankSource } from './classify/run.js';

// Images and datasets
export { readImageRGB, resizeRGB, toInputTensor, toInputBatch } from './data/image-io.js';
export type { RGBImage } from './data/image-io.js';
export { trainProtocol, wholeProtocol, evalProtocol, shorterSideProtocol, transformBoxes, describeProtocol } from './data/transforms.js';
export type { Protocol } from './data/transforms.js';
export { openDataset, DATASET_NAMES, datasetReaders } from './data/datasets/index.js';
export type { Dataset, DatasetRecord, DatasetOptions, DatasetReader } from './data/datasets/index.js';
export { loadBatches, sampleRecords, Loader } from './data/loader.js';
export type { Batch, LoaderOptions, SkippedImage } from './data/loader.js';
export { resolveProtocol, describeRunProtocol, releaseDatasetOf, RELEASE_DATASETS, PROTOCOL_NAMES } from './data/protocol.js';
export type { RunProtocol, ProtocolName, ReleaseDataset, ReleaseDatasetDefaults } from './data/protocol.js';
export { selectFitRecords, releaseClasswiseSelection, orderByTrainList } from './data/fit-selection.js';

// Whole jobs
export { fitStatistics, shardItemRange } from './pipeline/fit.js';
export type { BatchSource, InputBatch, FitStatisticsOptions, FitStatisticsResult } from './pipeline/fit.js';
export { fitOnRecords } from './pipeline/fit-run.js';
export type { FitOnRecordsOptions, FitOnRecordsResult } from './pipeline/fit-run.js';
export { recordSource, trainingSourceFrom } from './pipeline/sources.js';
export { localizeRecords, toOriginal } from './pipeline/localize.js';
export type { LocalizeOptions, LocalizeSummary, ImageResult, PredictedBox } from './pipeline/localize.js';
export { evaluateDataset } from './pipeline/evaluate.js';
export type { EvaluateOptions, EvaluateResult, SplitResult } from './pipeline/evaluate.js';
export { runAblation, ablationTable, ablationMarkdown, ablationCsv } from './pipeline/ablate.js';
export type { AblationOptions, AblationRow } from './pipeline/ablate.js';
export { releaseBoxResult, releaseMaskResult, pythonJsonDump } from './evaluate/release-results.js';
export type { ReleaseBoxResult, ReleaseMaskResult } from './evaluate/release-results.js';
export { listExperiments, parseExperimentName } from './reproduce/experiments.js';
export type { ReleaseExperiment } from './reproduce/experiments.js';
export { runReleaseExperiment, releaseLayout } from './reproduce/run.js';
export type { RunReleaseExperimentOptions, ReleaseExperimentResult } from './reproduce/run.js';
export { resolveReleaseBackbone, releaseSourceText } from './reproduce/weights.js';

// Files
export { readNpy, readNpySync, writeNpy, writeNpySync, decodeNpy, encodeNpy } from './io/npy.js';
export type { NpyArray, NpyDtype } from './io/npy.js';
export { toCoco } from './report/coco.js';
export { UsageError } from './util/errors.js';
export type { ProgressCallback, ProgressEvent } from './util/progress.js';
export { VERSION } from './version.js';

// The front door (createLocalizer: fit, localize, evaluate, explain in a few lines); the layers above stay for experts
export { createLocalizer, NodeLocalizer } from './api/node.js';
export type { NodeLocalizerOptions, NodeImageInput, ImageFileItem, SavedFiles } from './api/node.js';
export { Localizer, createLocalizer as createCoreLocalizer, pilResizer } from './api/localizer.js';
export type {
  ImageLike,
  ImageItem,
  ImageInput,
  ImageSource,
  PreparedImage,
  ResizeFunction,
  LocalizerOptions,
  FitOptions as LocalizerFitOptions,
  FitResult as LocalizerFitResult,
  LocalizeOptions as LocalizerLocalizeOptions,
  EvaluateOptions as LocalizerEvaluateOptions,
  ExplainOptions as LocalizerExplainOptions,
  LocalizeResult,
  LocalizedBox,
} from './api/localizer.js';
export { boxesDocument, encodeBoxesFile, cocoFromEntries, BOX_CONVENTION } from './report/boxes-file.js';
export type { BoxesFile, BoxesFileEntry } from './report/boxes-file.js';
