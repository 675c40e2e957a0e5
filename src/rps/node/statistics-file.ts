/**
 * Partial-statistics files (`uol fit --shard i/N`, fit checkpoints) and their merge. The exact accumulator state is
 * stored, so merging shards gives the same bytes as one pass.
 */
import { UsageError } from '../../util/errors.js';
import { writeFileAtomicSync } from '../../util/fs.js';
import { readJsonBounded } from '../../util/safe-read.js';
import type { BackboneIdentity } from '../../backbones/types.js';
import { FitStatistics, type StatisticsJSON } from '../statistics.js';
import { statisticsFromJSON, statisticsToJSON } from './statistics-json.js';

/** What a statistics file says about where its sums came from. */
export interface StatisticsMeta {
  /** Backbone the features came from. */
  backbone: BackboneIdentity;
  /** Shard `index` (1-based) of `count`, when sharded. */
  shard?: { index: number; count: number };
  /** Number of items (images) of the whole input, and the range [start,end) this file covers. */
  items?: { total: number; start: number; end: number };
  /** Free-form source description (dataset, directory). */
  source?: string;
  /** Fit options that must agree across shards (e.g. sampling ratio and seed). */
  options?: Record<string, string | number | boolean>;
  /** Class names by index when known. */
  classNames?: Record<string, string>;
}

/** A statistics file on disk. */
export interface StatisticsFile {
  meta: StatisticsMeta;
  statistics: FitStatistics;
}

/** Writes statistics with their metadata atomically. */
export function saveStatistics(file: string, s: StatisticsFile): void {
  const doc = { ...statisticsToJSON(s.statistics), meta: s.meta };
  writeFileAtomicSync(file, JSON.stringify(doc) + '\n');
}

/** Reads a statistics file. @throws UsageError naming the file. */
export function loadStatistics(file: string): StatisticsFile {
  const j = readJsonBounded(file, 'statistics file') as StatisticsJSON & { meta?: StatisticsMeta };
  const statistics = statisticsFromJSON(j, file);
  if (!j.meta || !j.meta.backbone) throw new UsageError(`${file}: statistics file without backbone metadata`);
  checkMeta(j.meta, file);
  return { meta: j.meta, statistics };
}

/** Validates the metadata of a statistics file as strictly as its sums. @throws UsageError naming file and key. */
function checkMeta(m: StatisticsMeta, file: string): void {
  const fail = (key: string, v: unknown, want: string): never => {
    throw new UsageError(`${file}: meta.${key} is ${JSON.stringify(v) ?? String(v)}: expected ${want}`);
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const int = (v: unknown, key: string, min: number): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= min ? v : fail(key, v, `an integer ≥ ${min}`));
  if (!isObj(m)) fail('', m, 'an object');
  if (!isObj(m.backbone) || typeof m.backbone.id !== 'string' || !m.backbone.id) fail('backbone.id', isObj(m.backbone) ? m.backbone.id : m.backbone, 'a non-empty string');
  if (m.backbone.featureLayer !== undefined && typeof m.backbone.featureLayer !== 'string') fail('backbone.featureLayer', m.backbone.featureLayer, 'a string');
  if (m.shard !== undefined) {
    if (!isObj(m.shard)) fail('shard', m.shard, 'an object {index, count}');
    const count = int(m.shard.count, 'shard.count', 1);
    const index = int(m.shard.index, 'shard.index', 1);
    if (index > count) fail('shard.index', index, `at most shard.count (${count})`);
  }
  if (m.items !== undefined) {
    if (!isObj(m.items)) fail('items', m.items, 'an object {total, start, end}');
    const total = int(m.items.total, 'items.total', 0);
    const start = int(m.items.start, 'items.start', 0);
    const end = int(m.items.end, 'items.end', start);
    if (end > total) fail('items.end', end, `at most items.total (${total})`);
  }
  if (m.source !== undefined && typeof m.source !== 'string') fail('source', m.source, 'a string');
  if (m.options !== undefined) {
    if (!isObj(m.options)) fail('options', m.options, 'an object');
    for (const [k, v] of Object.entries(m.options)) if (!['string', 'number', 'boolean'].includes(typeof v) || (typeof v === 'number' && !Number.isFinite(v))) fail(`options.${k}`, v, 'a string, finite number or boolean');
  }
  if (m.classNames !== undefined) {
    if (!isObj(m.classNames)) fail('classNames', m.classNames, 'an object');
    for (const [k, v] of Object.entries(m.classNames)) if (!/^\d+$/.test(k) || typeof v !== 'string') fail(`classNames.${k}`, v, 'a string under an integer key');
  }
}

function sameJSON(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Merges statistics files (e.g. shards 1..N of one fit). Checks they share the backbone and options, and that shard
 * ranges do not overlap; when all shards of a split are present, also that they cover it.
 * @throws UsageError naming the offending file.
 */
export function mergeStatisticsFiles(files: { file: string; content: StatisticsFile }[]): StatisticsFile {
  if (files.length === 0) throw new UsageError('merge needs at least one statistics file');
  const first = files[0]!;
  const out = new FitStatistics(first.content.statistics.channels);
  const ranges: { file: string; start: number; end: number }[] = [];
  const classNames: Record<string, string> = {};
  for (const { file, content } of files) {
    const m = content.meta;
    if (m.backbone.id !== first.content.meta.backbone.id || m.backbone.featureLayer !== first.content.meta.backbone.featureLayer) {
      throw new UsageError(`${file}: backbone ${m.backbone.id}/${m.backbone.featureLayer} differs from ${first.file}'s ${first.content.meta.backbone.id}/${first.content.meta.backbone.featureLayer}`);
    }
    if (!sameJSON(m.options ?? {}, first.content.meta.options ?? {})) {
      throw new UsageError(`${file}: fit options ${JSON.stringify(m.options)} differ from ${first.file}'s ${JSON.stringify(first.content.meta.options)}`);
    }
    if (m.items) {
      if (first.content.meta.items && m.items.total !== first.content.meta.items.total) {
        throw new UsageError(`${file}: covers a split of ${m.items.total} items, ${first.file} one of ${first.content.meta.items.total}`);
      }
      for (const r of ranges) {
        if (m.items.start < r.end && r.start < m.items.end) {
          throw new UsageError(`${file}: items [${m.items.start},${m.items.end}) overlap ${r.file}'s [${r.start},${r.end})`);
        }
      }
      ranges.push({ file, start: m.items.start, end: m.items.end });
    }
    Object.assign(classNames, m.classNames ?? {});
    out.merge(content.statistics);
  }
  const meta: StatisticsMeta = { backbone: first.content.meta.backbone };
  if (first.content.meta.options) meta.options = first.content.meta.options;
  if (first.content.meta.source) meta.source = first.content.meta.source;
  if (Object.keys(classNames).length) meta.classNames = classNames;
  if (ranges.length === files.length && first.content.meta.items) {
    ranges.sort((a, b) => a.start - b.start);
    meta.items = { total: first.content.meta.items.total, start: ranges[0]!.start, end: ranges[ranges.length - 1]!.end };
    let cursor = ranges[0]!.start;
    const contiguous = ranges.every((r) => {
      const ok = r.start === cursor;
      cursor = r.end;
      return ok;
    });
    if (!contiguous) meta.items = undefined as never;
  }
  if (!meta.items) delete meta.items;
  return { meta, statistics: out };
}

/** Parses `i/N` (1 ≤ i ≤ N). @throws UsageError. */
export function parseShard(s: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) throw new UsageError(`--shard "${s}": expected i/N, e.g. 2/8`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw new UsageError(`--shard "${s}": need 1 ≤ i ≤ N`);
  return { index, count };
}

/** The [start,end) item range of shard `index` of `count` over `total` items (contiguous, balanced). */
export function shardRange(total: number, shard: { index: number; count: number }): { start: number; end: number } {
  return { start: Math.floor(((shard.index - 1) * total) / shard.count), end: Math.floor((shard.index * total) / shard.count) };
}
