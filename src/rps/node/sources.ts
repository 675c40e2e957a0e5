/**
 * Training sources that read files (Node only): a directory of `<stem>.npy` float32 [h,w,C] maps (`--from-features`),
 * and image files through a {@link FeatureExtractor} (the integration point for the backbones; an on-disk feature cache
 * plugs in by writing a `featureDirSource`-compatible directory). The stream itself is platform-neutral
 * (`../point-source.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureExtractor } from '../../backbones/types.js';
import { listFeatureFiles, readFeatureMap, type FeatureFile } from '../../io/features-dir.js';
import { readImageRGB, resizeRGB, toInputTensor } from '../../data/image-io.js';
import type { TrainingItem, TrainingSource } from '../point-source.js';

/** Options of {@link featureDirSource}. */
export interface FeatureDirSourceOptions {
  /** Restrict to these files (default: every `<stem>.npy` of the directory, sorted by stem). */
  files?: FeatureFile[];
  /** Image file per stem (for crops). */
  images?: Map<string, string>;
  /** Class index per stem. */
  labels?: Map<string, number>;
  /** Input frame [H,W] the features were computed on (default: unknown). */
  inputSize?: [number, number];
}

/**
 * A source over a directory of `<stem>.npy` float32 [h,w,C] feature maps. Files are read one at a time and checked
 * (dtype, rank, finite values, one C for all files).
 * @throws UsageError (when iterated) naming the bad file.
 */
export function featureDirSource(dir: string, o: FeatureDirSourceOptions = {}): TrainingSource {
  const files = o.files ?? listFeatureFiles(dir);
  return async function* () {
    let channels: number | undefined;
    for (const f of files) {
      const m = await readFeatureMap(f, channels);
      channels = m.shape[2];
      const item: TrainingItem = { id: f.stem, features: { shape: m.shape, data: m.data } };
      const img = o.images?.get(f.stem);
      if (img !== undefined) item.imageFile = img;
      const k = o.labels?.get(f.stem);
      if (k !== undefined) item.classIndex = k;
      if (o.inputSize) item.inputSize = o.inputSize;
      yield item;
    }
  };
}

/** Options of {@link extractorSource}. */
export interface ExtractorSourceOptions {
  /** Network input size [H,W] every image is resized to (no crop; default: the backbone's default square size). */
  size?: [number, number];
  /** Image id per file (default: the file name without extension). */
  ids?: string[];
}

/**
 * Integration point for the image path: a source that decodes each image, resizes it to the input frame (no crop, as
 * the fit in docs/method.md §3), normalises it per the backbone's input contract and runs the backbone. The feature tensor
 * of an item is disposed when the consumer advances.
 */
export function extractorSource(extractor: FeatureExtractor, imageFiles: string[], o: ExtractorSourceOptions = {}): TrainingSource {
  const contract = extractor.identity.input;
  const size = o.size ?? [contract.defaultSize, contract.defaultSize];
  if (o.ids && o.ids.length !== imageFiles.length) throw new Error(`extractorSource: ${o.ids.length} ids for ${imageFiles.length} files`);
  return async function* () {
    for (let i = 0; i < imageFiles.length; i++) {
      const file = imageFiles[i]!;
      const img = await readImageRGB(file);
      const rgb = await resizeRGB(img, size[1], size[0], contract.interpolation);
      const feats = tf.tidy(() => {
        const x = toInputTensor(rgb, contract);
        return extractor.extract(x);
      });
      try {
        yield { id: o.ids?.[i] ?? stemOf(file), features: feats, imageFile: file, inputSize: size, imageSize: [img.height, img.width] };
      } finally {
        feats.dispose();
      }
    }
  };
}

function stemOf(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}
