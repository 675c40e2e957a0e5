/**
 * Which dataset a run reads, as a caller names it (format, folder, metadata, mask root), opened through the dataset
 * registry (src/data/datasets/index.ts). The CLI fills it from `--dataset`, `--data-dir`, `--metadata`, `--mask-root`.
 */
import { UsageError } from '../util/errors.js';
import { openDataset } from '../data/datasets/index.js';
import type { Dataset, DatasetOptions } from '../data/datasets/types.js';

/** A dataset named by its format and folder. */
export interface DatasetSpec {
  /** Format name (src/data/datasets/names.ts: cub, wsol, cars, …). */
  dataset?: string | undefined;
  /** Folder holding the format's top files (the image root for wsol). */
  dataDir?: string | undefined;
  /** wsol: the metadata folder. */
  metadata?: string | undefined;
  /** Folder the mask paths of the metadata are relative to (mask metadata). */
  maskRoot?: string | undefined;
}

/**
 * Opens the dataset of `s`.
 * @throws UsageError naming the options `dataset` and `dataDir` when either is missing, or the dataset's own errors.
 */
export async function openDatasetSpec(s: DatasetSpec): Promise<Dataset> {
  if (!s.dataset || !s.dataDir) throw new UsageError('give `dataset` D `dataDir` DIR', { options: ['dataset', 'dataDir'] });
  const o: DatasetOptions = { dataDir: s.dataDir };
  if (s.metadata) o.metadata = s.metadata;
  if (s.maskRoot) o.maskRoot = s.maskRoot;
  return openDataset(s.dataset, o);
}
