/**
 * Closed form vs loss optimisation on the same images (issue 7: "the logistic maps localise at least as well as the
 * closed form"). Both predictors come from one streamed fit through a backbone (the optimisation path sums the closed
 * form's statistics in its first pass, so the closed form is fitted on exactly the same points), then every test image
 * goes through `localizeRecords` as `uol localize IMAGES` runs it (resized whole to S×S) and is scored with the repo's
 * evaluators in the input frame:
 * - **pointing game**: the map's peak pixel (first maximum, row-major) lies inside a GT box (inclusive);
 * - **MaxBoxAcc / MaxBoxAccV2 / BoxAcc(τ)** from evaluate/box-metrics.ts (wsolevaluation semantics, τ grid 0.01…0.99);
 * - **mean IoU at the best τ**: for each τ of the grid, the mean over images of the best IoU between the largest
 *   contour's box (clipped, as the evaluator's MaxBoxAcc) and a GT box (no box → the box [0,0,0,0], as wsolevaluation);
 *   the best τ and its mean.
 */
import type { ProgressCallback } from '../util/progress.js';
import { UsageError } from '../util/errors.js';
import type { FeatureExtractor } from '../backbones/types.js';
import type { DatasetRecord } from '../data/datasets/types.js';
import { trainProtocol, wholeProtocol } from '../data/transforms.js';
import { BoxEvaluator } from '../evaluate/box-metrics.js';
import { bestIoU } from '../evaluate/iou.js';
import { releaseThresholds } from '../localize/gray.js';
import { boxesFromMap } from '../localize/boxes.js';
import { fitOptimized, type OptimizeOptions, type OptimizeResult } from '../rps/optimize.js';
import { predictorFromStatistics, type Predictor } from '../rps/predictor.js';
import { streamMaps } from './maps.js';
import { DEFAULT_THRESHOLD } from '../rps/threshold.js';
import { recordSource, trainingSourceFrom } from './sources.js';

/** Localization scores of one predictor on the test images. */
export interface FitScore {
  images: number;
  /** Images whose map peak lies inside a GT box. */
  pointingHits: number;
  /** wsolevaluation MaxBoxAcc (%, largest contour, IoU ≥ 0.5) and its τ. */
  maxBoxAcc: number;
  maxBoxAccTau: number;
  /** wsolevaluation MaxBoxAccV2 (%). */
  maxBoxAccV2: number;
  /** BoxAcc (%, largest contour, IoU ≥ 0.5) at `fixedTau`. */
  boxAccAtFixedTau: number;
  fixedTau: number;
  /** Best mean IoU over the τ grid and its τ. */
  meanIoU: number;
  meanIoUTau: number;
  /** Per image: peak inside a box, IoU at `meanIoUTau`. */
  perImage: { id: string; pointing: boolean; iou: number }[];
}

/** Options of {@link compareFits}. */
export interface CompareFitsOptions {
  /** Images to fit on (no labels used). */
  training: readonly DatasetRecord[];
  /** Images to score; each needs `boxes` (original pixels). */
  test: readonly DatasetRecord[];
  /** Input side S (default: the backbone's default). */
  size?: number;
  /** Options of the optimised fit (default: logistic loss with the defaults, no representer points). */
  optimize?: Omit<OptimizeOptions, 'backbone'>;
  /** τ of `boxAccAtFixedTau` (default `uol localize`'s, DEFAULT_THRESHOLD of rps/threshold.ts). */
  fixedTau?: number;
  onProgress?: ProgressCallback;
}

/** Result of {@link compareFits}. */
export interface CompareFitsResult {
  closedForm: FitScore;
  optimized: FitScore;
  predictors: { closedForm: Predictor; optimized: Predictor };
  fit: Pick<OptimizeResult, 'converged' | 'stop' | 'passes' | 'iterations' | 'residual' | 'cosineToClosedForm' | 'objective'>;
}

/** Scores one predictor's maps on `test` (see the module doc). */
export async function scorePredictor(backbone: FeatureExtractor, predictor: Predictor, test: readonly DatasetRecord[], size: number, fixedTau = DEFAULT_THRESHOLD): Promise<FitScore> {
  const taus = Array.from(releaseThresholds());
  const kFixed = taus.findIndex((t) => Math.abs(t - fixedTau) < 1e-9);
  if (kFixed < 0) throw new UsageError(`τ ${fixedTau} is not on the grid 0.01…0.99`);
  const ev = new BoxEvaluator();
  const iouSum = new Float64Array(taus.length);
  const perImage: { id: string; pointing: boolean; ious: Float64Array }[] = [];
  const stream = streamMaps({ backbone, predictor, records: test, protocol: wholeProtocol(size) });
  const [H, W] = stream.size;
  for await (const { record: r, map, gtInput: gts } of stream) {
    if (!gts?.length) throw new UsageError(`${r.file ?? r.id}: no ground-truth box to score against`);
    let best = 0;
    for (let i = 1; i < map.length; i++) if (map[i]! > map[best]!) best = i;
    const x = best % W;
    const y = Math.floor(best / W);
    const pointing = gts.some(([a, b, c, d]) => x >= a && x <= c && y >= b && y <= d);
    ev.accumulate({ map, height: H, width: W, gtBoxes: gts, id: r.id });
    const ious = new Float64Array(taus.length);
    taus.forEach((t, k) => {
      const b = boxesFromMap(map, H, W, t, { clip: true })[0] ?? [0, 0, 0, 0];
      ious[k] = bestIoU(b, gts);
      iouSum[k]! += ious[k]!;
    });
    perImage.push({ id: r.id, pointing, ious });
  }
  const m = ev.compute();
  let kBest = 0;
  for (let k = 1; k < taus.length; k++) if (iouSum[k]! > iouSum[kBest]!) kBest = k;
  const n = perImage.length;
  return {
    images: n,
    pointingHits: perImage.filter((p) => p.pointing).length,
    maxBoxAcc: m.MaxBoxAcc,
    maxBoxAccTau: m.chosen.maxBoxAcc,
    maxBoxAccV2: m.MaxBoxAccV2,
    boxAccAtFixedTau: m.curves.boxAcc['50']![kFixed]!,
    fixedTau,
    meanIoU: iouSum[kBest]! / n,
    meanIoUTau: taus[kBest]!,
    perImage: perImage.map((p) => ({ id: p.id, pointing: p.pointing, iou: p.ious[kBest]! })),
  };
}

/** Fits both predictors on `training` and scores both on `test`. */
export async function compareFits(backbone: FeatureExtractor, o: CompareFitsOptions): Promise<CompareFitsResult> {
  const identity = backbone.identity;
  const size = o.size ?? identity.input.defaultSize;
  const source = recordSource({ records: o.training, protocol: trainProtocol(size), contract: identity.input, batchSize: 1 });
  const fo: OptimizeOptions = { topK: 0, ...(o.optimize ?? {}), backbone: identity };
  if (o.onProgress) fo.onProgress = o.onProgress;
  const fit = await fitOptimized(trainingSourceFrom(backbone, source, [size, size]), fo);
  const closedForm = predictorFromStatistics(fit.statistics, { backbone: identity });
  return {
    closedForm: await scorePredictor(backbone, closedForm, o.test, size, o.fixedTau),
    optimized: await scorePredictor(backbone, fit.predictor, o.test, size, o.fixedTau),
    predictors: { closedForm, optimized: fit.predictor },
    fit: { converged: fit.converged, stop: fit.stop, passes: fit.passes, iterations: fit.iterations, residual: fit.residual, cosineToClosedForm: fit.cosineToClosedForm, objective: fit.objective },
  };
}
