/**
 * A whole closed-form fit on dataset records through a backbone (the release's protocol: every image resized whole to
 * size×size), resumable through a checkpoint file. Used by `uol fit` and `uol ablate`.
 */
import { createHash } from 'node:crypto';
import type { ProgressCallback } from '../util/progress.js';
import type { FeatureExtractor, Interpolation } from '../backbones/types.js';
import type { Resizer } from '../data/image-io.js';
import type { DatasetRecord } from '../data/datasets/types.js';
import type { SkippedImage } from '../data/loader.js';
import { trainProtocol } from '../data/transforms.js';
import { predictorFromStatistics, type Predictor } from '../rps/predictor.js';
import type { FitStatistics } from '../rps/statistics.js';
import { fitStatistics } from './fit.js';
import { recordSource } from './sources.js';

/** Options of {@link fitOnRecords}. */
export interface FitOnRecordsOptions {
  backbone: FeatureExtractor;
  records: readonly DatasetRecord[];
  /** Input side (default 224). */
  size?: number;
  /** Resize filter for every backbone instead of the backbone's own (the release: bilinear). */
  interpolation?: Interpolation;
  /** Resampler (`pil`: PIL-exact, the release; default the codec's). */
  resizer?: Resizer;
  batchSize?: number;
  skipBad?: boolean;
  classwise?: boolean;
  classNames?: string[];
  /** Human description recorded in the predictor (`created.source`). */
  sourceDescription: string;
  /** Hash of the record listing (part of the resume fingerprint). */
  listingHash: string;
  /** Checkpoint file; omitted → no checkpoints. */
  checkpointFile?: string;
  /** Checkpoint every N images (default 256). */
  checkpointEvery?: number;
  /** Extra options that must match for a resume (sampling ratio, seed, …). */
  fingerprintExtra?: Record<string, unknown>;
  tool: string;
  onProgress?: ProgressCallback;
}

/** Result of {@link fitOnRecords}. */
export interface FitOnRecordsResult {
  predictor: Predictor;
  statistics: FitStatistics;
  skipped: SkippedImage[];
  resumed: boolean;
  /** The resume fingerprint. */
  fingerprint: string;
}

/** Fingerprint of a fit: backbone identity, inputs and options. */
export function fitFingerprint(identity: unknown, listingHash: string, n: number, options: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify({ identity, listing: listingHash, n, options })).digest('hex');
}

/** Fits the closed-form predictor on `records`. */
export async function fitOnRecords(o: FitOnRecordsOptions): Promise<FitOnRecordsResult> {
  const size = o.size ?? 224;
  const batchSize = o.batchSize ?? 1;
  const identity = o.backbone.identity;
  const so: Parameters<typeof recordSource>[0] = { records: o.records, protocol: trainProtocol(size), contract: identity.input, batchSize, skipBad: !!o.skipBad };
  if (o.interpolation) so.interpolation = o.interpolation;
  if (o.resizer) so.decode = { resizer: o.resizer };
  const source = recordSource(so);
  const options = { classwise: !!o.classwise, size, batchSize, ...(o.interpolation ? { interpolation: o.interpolation } : {}), ...(o.resizer ? { resizer: o.resizer } : {}), ...o.fingerprintExtra };
  const fingerprint = fitFingerprint(identity, o.listingHash, o.records.length, options);
  const fo: Parameters<typeof fitStatistics>[0] = { backbone: o.backbone, source, classwise: !!o.classwise, fingerprint };
  if (o.checkpointFile) fo.checkpoint = { file: o.checkpointFile, everyBatches: Math.max(1, Math.ceil((o.checkpointEvery ?? 256) / batchSize)) };
  if (o.onProgress) fo.onProgress = o.onProgress;
  const fr = await fitStatistics(fo);
  const input = { ...(o.interpolation ? { interpolation: o.interpolation } : {}), ...(o.resizer && o.resizer !== 'codec' ? { resizer: o.resizer } : {}) };
  const po: Parameters<typeof predictorFromStatistics>[1] = { backbone: identity, classwise: !!o.classwise, tool: o.tool, created: { source: o.sourceDescription, ...(Object.keys(input).length ? { input } : {}) } };
  if (o.classNames) po.classNames = new Map(o.classNames.map((n, i) => [i, n] as [number, string]));
  return { predictor: predictorFromStatistics(fr.statistics, po), statistics: fr.statistics, skipped: source.skipped, resumed: fr.resumed, fingerprint };
}
