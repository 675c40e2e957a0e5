/**
 * Closed form vs loss optimisation on real photos: fits both predictors on the same images through a backbone (one
 * fit: the optimisation path sums the closed form's statistics in its first pass), computes each photo's maps at its
 * original size and scores them against ground-truth boxes (evaluate/map-vs-boxes.ts). This is the check behind
 * "the logistic maps localise the sample photos at least as well as the closed form"; it takes any
 * {@link FeatureExtractor}, so the integrator runs it with the embedded backbone.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ProgressCallback } from '../util/progress.js';
import type { FeatureExtractor } from '../backbones/types.js';
import { readImageRGB, resizeRGB, toInputTensor } from '../data/image-io.js';
import { summarizeLocalization, type Box, type LocalizationSummary } from '../evaluate/map-vs-boxes.js';
import { activationMaps } from './activation.js';
import { extractorSource } from './point-source.js';
import { fitOptimized, type OptimizeOptions, type OptimizeResult } from './optimize.js';
import { predictorFromStatistics, type Predictor } from './predictor.js';

/** A photo with its ground-truth boxes (inclusive pixel boxes in the photo's own pixels). */
export interface PhotoWithBoxes {
  file: string;
  boxes: Box[];
}

/** Options of {@link compareFitMethods}. */
export interface CompareOptions {
  /** Images to fit on (default: the evaluated photos themselves — the method is unsupervised). */
  training?: string[];
  /** Network input size [H,W] (default: the backbone's default square). */
  size?: [number, number];
  /** Options of the optimised fit (default: logistic loss with the defaults). */
  optimize?: Omit<OptimizeOptions, 'backbone'>;
  onProgress?: ProgressCallback;
}

/** Result of {@link compareFitMethods}. */
export interface CompareResult {
  closedForm: LocalizationSummary;
  optimized: LocalizationSummary;
  predictors: { closedForm: Predictor; optimized: Predictor };
  fit: Pick<OptimizeResult, 'converged' | 'stop' | 'passes' | 'iterations' | 'residual' | 'cosineToClosedForm'>;
}

/** Fits both predictors and scores their maps on `photos`. */
export async function compareFitMethods(extractor: FeatureExtractor, photos: PhotoWithBoxes[], o: CompareOptions = {}): Promise<CompareResult> {
  const contract = extractor.identity.input;
  const size = o.size ?? [contract.defaultSize, contract.defaultSize];
  const training = o.training ?? photos.map((p) => p.file);
  const fitOpts: OptimizeOptions = { ...(o.optimize ?? {}), backbone: extractor.identity };
  if (o.onProgress) fitOpts.onProgress = o.onProgress;
  const fit = await fitOptimized(extractorSource(extractor, training, { size }), fitOpts);
  const closedForm = predictorFromStatistics(fit.statistics, { backbone: extractor.identity });
  const wCF = tf.tensor1d(closedForm.weights);
  const wOpt = tf.tensor1d(fit.predictor.weights);
  const items: { cf: { map: { width: number; height: number; data: Float32Array }; boxes: Box[] }; opt: { map: { width: number; height: number; data: Float32Array }; boxes: Box[] } }[] = [];
  try {
    for (const p of photos) {
      const img = await readImageRGB(p.file);
      const rgb = await resizeRGB(img, size[1], size[0], contract.interpolation);
      const [a, b] = tf.tidy(() => {
        const f = extractor.extract(toInputTensor(rgb, contract));
        const out: [number, number] = [img.height, img.width];
        return [activationMaps(f, wCF, { size: out }), activationMaps(f, wOpt, { size: out })];
      });
      try {
        const [da, db] = (await Promise.all([a.data(), b.data()])) as [Float32Array, Float32Array];
        items.push({
          cf: { map: { width: img.width, height: img.height, data: da }, boxes: p.boxes },
          opt: { map: { width: img.width, height: img.height, data: db }, boxes: p.boxes },
        });
      } finally {
        tf.dispose([a, b]);
      }
    }
  } finally {
    tf.dispose([wCF, wOpt]);
  }
  return {
    closedForm: summarizeLocalization(items.map((i) => i.cf)),
    optimized: summarizeLocalization(items.map((i) => i.opt)),
    predictors: { closedForm, optimized: fit.predictor },
    fit: { converged: fit.converged, stop: fit.stop, passes: fit.passes, iterations: fit.iterations, residual: fit.residual, cosineToClosedForm: fit.cosineToClosedForm },
  };
}
