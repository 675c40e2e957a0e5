/**
 * Which training images a fit uses, and in which order: `--train-list FILE` (exactly these ids, in this order),
 * `--sampling-ratio r` and, under the release protocol, the release's class-wise per-class quota
 * (validation.py `load_param`, class-wise branch):
 *
 *     sample_per_class = floor(N·r / nclass)
 *     for i, batch in enumerate(loader):                     # batches of batch_size, loader order
 *         if i >= len(loader)·r and every class has ≥ sample_per_class images: break
 *         for each image n of the batch (class t):
 *             if sample_per_class < 10 and cnt[t] > sample_per_class: skip
 *             admit; cnt[t] += 1
 *
 * N is the number of training images, `nclass` the release's class count for the dataset (200 CUB, 1000 ImageNet,
 * 100 OpenImages, 10/100/20 CIFAR-10/100/100-coarse; the release never sets it for Cars, Dogs and Aircraft — its
 * `--classwise` crashes there — so uol uses the dataset's own class count). The release's loader order is an unseeded
 * shuffle; uol uses the `--train-list` order when given, else a permutation seeded by `--seed`.
 */
import { readTextBounded } from '../util/safe-read.js';
import { UsageError } from '../util/errors.js';
import { seededRandom, sampleRecords } from './loader.js';
import type { DatasetRecord } from './datasets/types.js';

/**
 * Reads `--train-list FILE` (one training image id per line, optionally `id,label`; blank lines ignored) and returns those records in that
 * order. @throws UsageError naming the file and line for an id the split does not have or a repeated id.
 */
export function orderByTrainList<T extends Pick<DatasetRecord, 'id'>>(records: readonly T[], file: string): T[] {
  const text = readTextBounded(file, 'textBytes', 'training list');
  const byId = new Map(records.map((r) => [r.id, r]));
  const seen = new Set<string>();
  const out: T[] = [];
  text.split('\n').forEach((raw, i) => {
    // "id" or "id,label" (the release oracle's train_order.txt); ids never contain commas in these layouts.
    const id = raw.replace(/\r$/, '').trim().replace(/,[^,]*$/, '');
    if (!id) return;
    const r = byId.get(id);
    if (!r) throw new UsageError(`${file}:${i + 1}: image id "${id}" is not in the training split (ids look like "${records[0]?.id ?? '?'}")`);
    if (seen.has(id)) throw new UsageError(`${file}:${i + 1}: image id "${id}" is listed twice`);
    seen.add(id);
    out.push(r);
  });
  if (!out.length) throw new UsageError(`${file}: the training list is empty`);
  return out;
}

/** A permutation of `records` drawn by forward Fisher–Yates with mulberry32(seed) (its first k = `sampleRecords`' set). */
export function seededOrder<T>(records: readonly T[], seed: number): T[] {
  const a = [...records];
  const rnd = seededRandom(seed);
  for (let i = 0; i < a.length - 1; i++) {
    const j = i + Math.floor(rnd() * (a.length - i));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Options of {@link releaseClasswiseSelection}. */
export interface ClasswiseQuotaOptions {
  /** The release's class count (see module doc); labels must be in [0, nclass). */
  nclass: number;
  /** `--sampling_ratio` in (0, 1]. */
  ratio: number;
  /** The release's `--batch_size` (default 64): the quota loop stops only at batch boundaries. */
  batchSize?: number;
  /**
   * N = len(train_dataset) (default `ordered.length`): `ordered` may be the shorter prefix the release's loader
   * actually fetched before it stopped.
   */
  total?: number;
}

/**
 * The images the release's class-wise fit admits from `ordered` (its loader order), in that order.
 * @throws UsageError for a record without a label or a label outside [0, nclass).
 */
export function releaseClasswiseSelection<T extends Pick<DatasetRecord, 'id' | 'label' | 'file'>>(ordered: readonly T[], o: ClasswiseQuotaOptions): T[] {
  const bs = o.batchSize ?? 64;
  if (!(Number.isInteger(bs) && bs >= 1)) throw new UsageError(`\`releaseBatchSize\` ${bs}: expected a positive integer`, { options: ['releaseBatchSize'] });
  if (!(o.ratio > 0 && o.ratio <= 1)) throw new UsageError(`\`samplingRatio\` ${o.ratio}: must be in (0, 1]`, { options: ['samplingRatio'] });
  if (!(Number.isInteger(o.nclass) && o.nclass >= 1)) throw new Error(`class-wise quota: nclass ${o.nclass}`);
  const n = o.total ?? ordered.length;
  const quota = Math.floor((n * o.ratio) / o.nclass);
  const batches = Math.ceil(n / bs);
  const cnt = new Int32Array(o.nclass);
  const out: T[] = [];
  const full = (): boolean => cnt.every((c) => c >= quota);
  for (let i = 0; i < batches; i++) {
    if (i >= batches * o.ratio && full()) break;
    for (const r of ordered.slice(i * bs, (i + 1) * bs)) {
      const t = r.label;
      if (t === undefined) throw new UsageError(`${r.file ?? r.id}: no class label (\`classwise\` needs a dataset with labels)`, { options: ['classwise'] });
      if (!(t >= 0 && t < o.nclass)) throw new UsageError(`${r.file ?? r.id}: class ${t} is outside the ${o.nclass} classes of the release's class-wise fit`);
      if (quota < 10 && cnt[t]! > quota) continue;
      out.push(r);
      cnt[t]!++;
    }
  }
  return out;
}

/** Options of {@link selectFitRecords}. */
export interface FitSelectionOptions {
  /** `--train-list FILE`. */
  trainList?: string;
  samplingRatio: number;
  seed: number;
  classwise: boolean;
  /** Apply the release's rules (class-wise quota; a sampled subset is the first floor(N·r) of the order). */
  release: boolean;
  /** Class count for the class-wise quota (see module doc). */
  nclass?: number;
  /** The release's batch size for the quota loop (default 64). */
  releaseBatchSize?: number;
}

/**
 * The fit's training records: ordered by `--train-list` when given; then, under the release protocol with
 * `--classwise`, the release's per-class quota over that order (or a seeded permutation); otherwise a sampling ratio
 * < 1 keeps the first floor(N·r) of the list order, or uol's seeded subset (`sampleRecords`) without a list. N is
 * always the split's size: a list may be the prefix the release's loader fetched (it stops after ⌈⌊N·r⌋/batch⌉ batches).
 * @throws UsageError when the list is shorter than the floor(N·r) images a ratio asks for.
 */
export function selectFitRecords<T extends Pick<DatasetRecord, 'id' | 'label' | 'file'>>(records: readonly T[], o: FitSelectionOptions): T[] {
  if (!(o.samplingRatio > 0 && o.samplingRatio <= 1)) throw new UsageError(`\`samplingRatio\` ${o.samplingRatio}: must be in (0, 1]`, { options: ['samplingRatio'] });
  const listed = o.trainList ? orderByTrainList(records, o.trainList) : undefined;
  if (o.release && o.classwise) {
    const ordered = listed ?? (o.samplingRatio < 1 ? seededOrder(records, o.seed) : [...records]);
    let nclass = o.nclass ?? 0;
    if (!nclass) for (const r of ordered) nclass = Math.max(nclass, (r.label ?? -1) + 1);
    return releaseClasswiseSelection(ordered, { nclass, ratio: o.samplingRatio, total: records.length, ...(o.releaseBatchSize ? { batchSize: o.releaseBatchSize } : {}) });
  }
  if (o.samplingRatio >= 1) return listed ?? [...records];
  if (listed) {
    const k = Math.floor(records.length * o.samplingRatio);
    if (listed.length < k) throw new UsageError(`${o.trainList}: lists ${listed.length} images; \`samplingRatio\` ${o.samplingRatio} of the split's ${records.length} needs the first ${k}`, { options: ['samplingRatio'] });
    return listed.slice(0, k);
  }
  return sampleRecords(records, o.samplingRatio, o.seed);
}

/**
 * Whether a fit applies the release's selection rules (class-wise quota; a listed order's first floor(N·r)): under the
 * release protocol when it was asked for explicitly (`--protocol release`) or a sampling ratio < 1 is given. At ratio 1
 * the quota only drops images when N/nclass < 10 (tiny sets: e.g. one image per class for fewer than 2000 CUB images);
 * on the full datasets it keeps every image, so the implicit default keeps every image too.
 */
export function releaseQuota(run: { name: string }, explicitProtocol: string | undefined, samplingRatio: number): boolean {
  return run.name === 'release' && (explicitProtocol === 'release' || samplingRatio < 1);
}
