/**
 * Resolves what a command reads images from — a dataset in one of the registered formats, a folder/glob, or a list of
 * image files — into an ordered record list with a description and a listing hash for manifests and fingerprints.
 */
import * as path from 'node:path';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { openDataset } from '../data/datasets/index.js';
import type { Dataset, DatasetOptions, DatasetRecord } from '../data/datasets/types.js';
import { IMAGE_EXTENSIONS } from '../data/datasets/folder.js';
import { hashListing, type InputHash } from '../report/manifest.js';

/** Where images come from. */
export interface InputSpec {
  /** Dataset format (registry name), with `dataDir`. */
  dataset?: string;
  dataDir?: string;
  metadata?: string;
  maskRoot?: string;
  /** Split; default per caller (`train` for fit, `test` for evaluate). */
  split?: string;
  /** Image files or folders/globs given directly. */
  images?: string[];
}

/** Resolved input. */
export interface ResolvedInput {
  records: DatasetRecord[];
  /** The opened dataset (absent for plain image lists). */
  dataset?: Dataset;
  split: string;
  /** e.g. `cub:train (5994 images)`. */
  description: string;
  classNames?: string[];
  /** Hash of the image listing (names + sizes). */
  listing: InputHash;
}

/** Splits of `ds` a caller may pick by default, first match wins. */
function pickSplit(ds: Dataset, wanted: string | undefined, preferred: string[]): string {
  if (wanted) {
    if (!ds.splits.includes(wanted)) throw new UsageError(`--split ${wanted}: ${ds.format} at ${ds.root} has splits ${ds.splits.join(', ')}`);
    return wanted;
  }
  return preferred.find((s) => ds.splits.includes(s)) ?? ds.splits[0]!;
}

/**
 * Opens the input.
 * @param preferredSplits default split order when `spec.split` is not given.
 * @throws UsageError for missing folders/files, unknown formats or splits.
 */
export async function resolveInput(spec: InputSpec, preferredSplits: string[]): Promise<ResolvedInput> {
  if (spec.images?.length) {
    if (spec.dataset) throw new UsageError('give either image files/folders or --dataset, not both');
    const records: DatasetRecord[] = [];
    const seen = new Set<string>();
    for (const item of spec.images) {
      if (/[*?[\]{}]/.test(item) || (existsSync(item) && statSync(item).isDirectory())) {
        const ds = await openDataset('folder', { dataDir: item });
        for (const r of await ds.records(ds.splits[0]!)) {
          const real = realpathSync(r.file!);
          if (!seen.has(real)) {
            seen.add(real);
            records.push({ ...r, id: path.relative(process.cwd(), r.file!) || r.id });
          }
        }
      } else {
        if (!existsSync(item)) throw new UsageError(`${item}: file not found`);
        if (!IMAGE_EXTENSIONS.includes(path.extname(item).toLowerCase())) {
          throw new UsageError(`${item}: not an image file name (${IMAGE_EXTENSIONS.join(' ')})`);
        }
        const file = path.resolve(item);
        const real = realpathSync(file);
        if (!seen.has(real)) {
          seen.add(real);
          records.push({ id: item, file });
        }
      }
    }
    if (!records.length) throw new UsageError('no images given');
    const listing = hashListing('images', process.cwd(), records.map((r) => r.file!));
    return { records, split: 'all', description: `${records.length} images`, listing };
  }
  if (!spec.dataset || !spec.dataDir) throw new UsageError('give images (files, folders or globs) or --dataset D --data-dir DIR');
  const o: DatasetOptions = { dataDir: spec.dataDir };
  if (spec.metadata) o.metadata = spec.metadata;
  if (spec.maskRoot) o.maskRoot = spec.maskRoot;
  const ds = await openDataset(spec.dataset, o);
  const split = pickSplit(ds, spec.split, preferredSplits);
  const records = await ds.records(split);
  if (!records.length) throw new UsageError(`${spec.dataset}:${split} at ${spec.dataDir} has no images`);
  const files = records.flatMap((r) => (r.file ? [r.file] : []));
  const listing = files.length
    ? hashListing(`${spec.dataset}:${split}`, path.resolve(spec.dataDir), files)
    : { role: `${spec.dataset}:${split}`, path: spec.dataDir, sha256: '', kind: 'listing' as const, count: records.length };
  const r: ResolvedInput = { records, dataset: ds, split, description: `${spec.dataset}:${split} (${records.length} images)`, listing };
  if (ds.classNames) r.classNames = ds.classNames;
  return r;
}
