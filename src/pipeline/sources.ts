/**
 * Batch sources over dataset records: the streaming loader (decode in a worker, prefetch) re-grouped so that batch k
 * always holds records [k·B, (k+1)·B) of the list — also when images are skipped (`skipBad`) or a run starts in the
 * middle (resume, shards). See pipeline/fit.ts for why the grouping matters.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import type { InputContract, Interpolation } from '../backbones/types.js';
import type { DatasetRecord } from '../data/datasets/types.js';
import { loadBatches, type SkippedImage } from '../data/loader.js';
import type { DecodeOptions, ResizeOptions } from '../data/image-io.js';
import { outputSize, type Protocol } from '../data/transforms.js';
import type { BatchSource, InputBatch } from './fit.js';
import { runExtractor, type FeatureExtractor } from '../backbones/types.js';
import type { TrainingItem, TrainingSource } from '../rps/point-source.js';

/** Options of {@link recordSource}. */
export interface RecordSourceOptions {
  records: readonly DatasetRecord[];
  protocol: Protocol;
  contract: InputContract;
  batchSize: number;
  skipBad?: boolean;
  decode?: DecodeOptions & ResizeOptions;
  /** Resize filter instead of the contract's (the release: bilinear for every backbone). */
  interpolation?: Interpolation;
  /** Decode workers (default 1). */
  workers?: number;
  onSkip?: (s: SkippedImage) => void;
}

/** A {@link BatchSource} over dataset records; `skipped` lists images left out with `skipBad`. */
export interface RecordSource extends BatchSource {
  readonly skipped: SkippedImage[];
}

/** Creates a record-backed batch source. */
export function recordSource(o: RecordSourceOptions): RecordSource {
  const B = o.batchSize;
  const skipped: SkippedImage[] = [];
  const [H, W] = outputSize(o.protocol);
  return {
    total: o.records.length,
    batchSize: B,
    skipped,
    async *batches(start: number, end: number): AsyncIterable<InputBatch> {
      const slice = o.records.slice(start, end);
      const index = new Map<DatasetRecord, number>(slice.map((r, i) => [r, start + i]));
      const lo: Parameters<typeof loadBatches>[0] = {
        records: slice,
        protocol: o.protocol,
        contract: o.interpolation ? { ...o.contract, interpolation: o.interpolation } : o.contract,
        batchSize: 1,
        prefetch: 2 * B + 2,
        skipBad: !!o.skipBad,
        onSkip: (s) => {
          skipped.push(s);
          o.onSkip?.(s);
        },
      };
      if (o.decode) lo.decode = o.decode;
      if (o.workers !== undefined) lo.workers = o.workers;
      const loader = loadBatches(lo);
      let groupStart = start;
      let parts: { id: string; file: string | undefined; label: number | undefined; size: { width: number; height: number }; input: tf.Tensor4D }[] = [];
      const flush = (): InputBatch => {
        const count = Math.min(B, end - groupStart);
        const input = parts.length ? (parts.length === 1 ? parts[0]!.input : tf.concat(parts.map((p) => p.input), 0)) : tf.zeros([0, H, W, 3]);
        if (parts.length > 1) parts.forEach((p) => p.input.dispose());
        const b: InputBatch = { start: groupStart, count, ids: parts.map((p) => p.id), files: parts.map((p) => p.file), labels: parts.map((p) => p.label), originalSizes: parts.map((p) => p.size), input: input as tf.Tensor4D };
        parts = [];
        groupStart += count;
        return b;
      };
      try {
        for await (const b of loader) {
          const rec = b.records[0]!;
          const idx = index.get(rec)!;
          while (idx >= groupStart + B) yield flush();
          parts.push({ id: rec.id, file: rec.file, label: rec.label, size: b.originalSizes[0]!, input: b.input });
        }
        while (groupStart < end) yield flush();
      } finally {
        parts.forEach((p) => p.input.dispose());
      }
    },
  };
}

/**
 * A replayable {@link TrainingSource} (rps/point-source.ts) over a batch source through a backbone: each pass decodes
 * and extracts again (the point stream caches points in memory when they fit). Items carry the image file (made
 * absolute, so representer points stored in a predictor stay usable from another working directory), the original
 * image size and the input frame, for representer crops.
 */
export function trainingSourceFrom(backbone: FeatureExtractor, source: BatchSource, inputSize: [number, number]): TrainingSource {
  return async function* () {
    for await (const b of source.batches(0, source.total)) {
      let feats: tf.Tensor4D | undefined;
      try {
        if (b.ids.length === 0) continue;
        feats = await runExtractor(backbone, b.input);
        const [, h, w, c] = feats.shape;
        for (let i = 0; i < b.ids.length; i++) {
          const one = tf.slice(feats, [i, 0, 0, 0], [1, h, w, c]);
          try {
            const item: TrainingItem = { id: b.ids[i]!, features: one, inputSize };
            const f = b.files?.[i];
            if (f !== undefined) item.imageFile = path.resolve(f);
            const k = b.labels?.[i];
            if (k !== undefined) item.classIndex = k;
            const sz = b.originalSizes?.[i];
            if (sz) item.imageSize = [sz.height, sz.width];
            yield item;
          } finally {
            one.dispose();
          }
        }
      } finally {
        feats?.dispose();
        b.input.dispose();
      }
    }
  };
}
