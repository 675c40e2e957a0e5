/**
 * The bring-your-own-features path: fit statistics/predictors from, and write maps for, directories of `<stem>.npy`
 * feature maps [h,w,C]. This is also the interface the independent numpy reference checks go through.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import type { ProgressCallback } from '../../util/progress.js';
import type { BackboneIdentity } from '../../backbones/types.js';
import { listFeatureFiles, readFeatureMap, type FeatureFile } from '../../io/features-dir.js';
import { writeNpy } from '../../io/npy.js';
import { FitStatistics } from '../statistics.js';
import { activationMaps } from '../activation.js';
import { assertCompatible, classRow, predictorFromStatistics, type Predictor } from '../predictor.js';

/** Identity used for features that came from outside (`--from-features`). */
export function externalIdentity(channels: number, id = 'external-features'): BackboneIdentity {
  return {
    id,
    arch: 'external',
    featureLayer: 'external',
    channels,
    stride: 1,
    input: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], interpolation: 'bilinear', sizeMultiple: 1, minSize: 1, defaultSize: 224 },
  };
}

/** Options of {@link statisticsFromFeatures}. */
export interface FeatureStatsOptions {
  /** Feature directory. */
  dir: string;
  /** Labels by stem; required for class-wise statistics. */
  labels?: Map<string, number>;
  /** Require a label for every file. */
  requireLabels?: boolean;
  /** Restrict to these files (e.g. one shard). */
  files?: FeatureFile[];
  onProgress?: ProgressCallback;
}

/**
 * Sums the statistics of every feature file (one tf batch per file).
 * @throws UsageError for bad files (shape, dtype, mixed C, corrupt) or a missing label, naming the file.
 */
export async function statisticsFromFeatures(o: FeatureStatsOptions): Promise<FitStatistics> {
  const files = o.files ?? listFeatureFiles(o.dir);
  let stats: FitStatistics | undefined;
  let done = 0;
  for (const f of files) {
    let cls: number[] | undefined;
    if (o.labels) {
      const k = o.labels.get(f.stem);
      if (k === undefined) {
        if (o.requireLabels) throw new UsageError(`${f.file}: no label for stem "${f.stem}" in the labels CSV`);
      } else cls = [k];
    }
    const m = await readFeatureMap(f, stats?.channels);
    stats ??= new FitStatistics(m.shape[2]);
    const t = tf.tensor4d(m.data, [1, ...m.shape]);
    try {
      await stats.addBatch(t, cls);
    } finally {
      t.dispose();
    }
    o.onProgress?.({ stage: 'fit', done: ++done, total: files.length, unit: 'img', detail: f.stem });
  }
  if (!stats) throw new UsageError(`${o.dir}: no .npy feature files`);
  return stats;
}

/** Options of {@link fitFromFeatures}. */
export interface FitFromFeaturesOptions extends FeatureStatsOptions {
  classwise?: boolean;
  /** Backbone id to record (default `external-features`). */
  backboneId?: string;
  tool?: string;
}

/** Fits a closed-form predictor on a feature directory. */
export async function fitFromFeatures(o: FitFromFeaturesOptions): Promise<{ predictor: Predictor; statistics: FitStatistics }> {
  if (o.classwise && !o.labels) throw new UsageError('--classwise needs --labels CSV (stem,classIndex)');
  const statistics = await statisticsFromFeatures({ ...o, requireLabels: !!o.classwise });
  const created = { source: `features ${path.resolve(o.dir)}` };
  const fitOpts: Parameters<typeof predictorFromStatistics>[1] = {
    backbone: externalIdentity(statistics.channels, o.backboneId),
    classwise: !!o.classwise,
    created,
  };
  if (o.tool) fitOpts.tool = o.tool;
  return { predictor: predictorFromStatistics(statistics, fitOpts), statistics };
}

/** Options of {@link localizeFromFeatures}. */
export interface LocalizeFromFeaturesOptions {
  predictor?: Predictor;
  /** Predictor file name for messages. */
  predictorFile?: string;
  dir: string;
  /** Output map size [H,W]. */
  size: [number, number];
  outDir: string;
  caam?: boolean;
  /** Labels by stem: pick the class-wise w of a class-wise predictor. */
  labels?: Map<string, number>;
  onProgress?: ProgressCallback;
}

/** Result of {@link localizeFromFeatures}. */
export interface LocalizeFromFeaturesResult {
  /** Written map files. */
  maps: string[];
  /** How many images used a class-wise w (the rest used the global w). */
  classwiseCount: number;
}

/**
 * Writes `<outDir>/<stem>.npy` float32 [H,W] maps in [0,1] for every feature file.
 * @throws UsageError for bad files or a predictor fitted on other channels.
 */
export async function localizeFromFeatures(o: LocalizeFromFeaturesOptions): Promise<LocalizeFromFeaturesResult> {
  if (!o.caam && !o.predictor) throw new UsageError('a predictor is required (or --caam)');
  const files = listFeatureFiles(o.dir);
  mkdirSync(o.outDir, { recursive: true });
  const p = o.predictor;
  const c0 = p?.backbone.channels;
  const global = p ? tf.tensor1d(p.weights) : undefined;
  const maps: string[] = [];
  let classwiseCount = 0;
  try {
    let done = 0;
    for (const f of files) {
      const m = await readFeatureMap(f, c0);
      if (p) assertCompatible(p, { ...p.backbone, channels: m.shape[2] }, o.predictorFile);
      let row = -1;
      if (p?.classwise && p.perClassWeights && o.labels) {
        const k = o.labels.get(f.stem);
        if (k === undefined) throw new UsageError(`${f.file}: no label for stem "${f.stem}" (class-wise predictor)`);
        row = classRow(p, k);
        if (row < 0) throw new UsageError(`${f.file}: class ${k} has no w in the predictor (classes: ${p.classes.map((c) => c.index).join(',')})`);
        classwiseCount++;
      }
      const map = tf.tidy(() => {
        const feats = tf.tensor4d(m.data, [1, ...m.shape]);
        let w: tf.Tensor1D | undefined = global;
        if (row >= 0) w = tf.tensor1d(p!.perClassWeights!.subarray(row * c0!, (row + 1) * c0!));
        return activationMaps(feats, w, { size: o.size, caam: !!o.caam });
      });
      const data = (await map.data()) as Float32Array;
      map.dispose();
      const out = path.join(o.outDir, `${f.stem}.npy`);
      await writeNpy(out, data, o.size);
      maps.push(out);
      o.onProgress?.({ stage: 'localize', done: ++done, total: files.length, unit: 'img', detail: f.stem });
    }
  } finally {
    global?.dispose();
  }
  return { maps, classwiseCount };
}
