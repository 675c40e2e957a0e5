/**
 * Resolves what a command reads images from — a dataset in one of the registered formats, a folder/glob, or a list of
 * image files — into an ordered record list with a description and a listing hash for manifests and fingerprints.
 */
import * as path from 'node:path';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { openDataset } from '../data/datasets/index.js';
import type { Dataset, DatasetOptions, DatasetRecord } from '../data/datasets/types.js';
import { checkImageFile, isGlob } from '../data/image-list.js';
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
  /** What the caller should tell the user: duplicates merged, ids made unique. */
  notes?: string[];
}

/** The deepest folder holding every file (absolute). */
export function commonDir(files: readonly string[]): string {
  let parts = path.dirname(path.resolve(files[0]!)).split(path.sep);
  for (const f of files.slice(1)) {
    const q = path.dirname(path.resolve(f)).split(path.sep);
    let i = 0;
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(path.sep) || path.sep;
}

/**
 * Makes record ids unique in place: records whose ids collide (two `x.jpg` from different folders) get the shortest
 * tail of their absolute path that tells them apart (`a/x.jpg`, `b/x.jpg`). Returns the new ids.
 */
export function disambiguateIds(records: DatasetRecord[]): string[] {
  const groups = new Map<string, DatasetRecord[]>();
  for (const r of records) groups.set(r.id, [...(groups.get(r.id) ?? []), r]);
  const renamed: string[] = [];
  for (const [id, group] of groups) {
    if (group.length < 2) continue;
    const depth = id.split('/').length;
    const parts = group.map((r) => path.resolve(r.file!).split(path.sep));
    const max = Math.max(...parts.map((p) => p.length));
    for (let n = depth + 1; n <= max; n++) {
      const tails = parts.map((p) => p.slice(-n).join('/'));
      if (new Set(tails).size === tails.length || n === max) {
        group.forEach((r, i) => (r.id = tails[i]!));
        renamed.push(...tails);
        break;
      }
    }
  }
  return renamed;
}

/** Splits of `ds` a caller may pick by default, first match wins. */
function pickSplit(ds: Dataset, wanted: string | undefined, preferred: string[]): string {
  if (wanted) {
    if (!ds.splits.includes(wanted)) throw new UsageError(`\`split\` ${wanted}: ${ds.format} at ${ds.root} has splits ${ds.splits.join(', ')}`, { options: ['split'] });
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
    if (spec.dataset) throw new UsageError('give either image files/folders or `dataset`, not both', { options: ['dataset'] });
    // Ids: relative to the folder or glob base the user gave (sub-folders kept), or the file name of a file given
    // directly: the same whatever the working directory. The same file reached twice is read once (counted in notes).
    const records: DatasetRecord[] = [];
    const seen = new Map<string, string>();
    const merged: string[] = [];
    const add = (id: string, file: string, extra: Partial<DatasetRecord> = {}) => {
      const real = realpathSync(file);
      const first = seen.get(real);
      if (first !== undefined) {
        merged.push(`${file} = ${first}`);
        return;
      }
      seen.set(real, file);
      records.push({ ...extra, id, file });
    };
    for (const item of spec.images) {
      if (isGlob(item) || (existsSync(item) && statSync(item).isDirectory())) {
        const ds = await openDataset('folder', { dataDir: item });
        for (const r of await ds.records(ds.splits[0]!)) {
          const { id, file, ...extra } = r;
          add(id, path.resolve(file!), extra);
        }
      } else {
        checkImageFile(item);
        add(path.basename(item), path.resolve(item));
      }
    }
    if (!records.length) throw new UsageError('no images given');
    const notes: string[] = [];
    if (merged.length) notes.push(`${merged.length} duplicate input${merged.length > 1 ? 's' : ''} merged (the same file reached twice: ${merged.slice(0, 3).join('; ')}${merged.length > 3 ? '; …' : ''})`);
    const renamed = disambiguateIds(records);
    if (renamed.length) notes.push(`${renamed.length} inputs share a name; their ids keep parent folders: ${renamed.slice(0, 4).join(', ')}${renamed.length > 4 ? ', …' : ''}`);
    const files = records.map((r) => r.file!);
    const listing = hashListing('images', commonDir(files), files);
    const r: ResolvedInput = { records, split: 'all', description: `${records.length} images`, listing };
    if (notes.length) r.notes = notes;
    return r;
  }
  if (!spec.dataset || !spec.dataDir) throw new UsageError('give images (files, folders or globs) or `dataset` D `dataDir` DIR', { options: ['dataset', 'dataDir'] });
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
