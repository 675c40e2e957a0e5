/**
 * The JSON form of {@link FitStatistics} (statistics files, fit checkpoints): exact bins deflated with node:zlib and
 * base64-encoded (Node only; the statistics themselves are platform-neutral, `../statistics.ts`).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { UsageError } from '../../util/errors.js';
import { ExactSumVector } from '../exact-sum.js';
import { FitStatistics, StatsBlock, type StatisticsJSON } from '../statistics.js';

/** Exact, JSON-safe serialisation of `stats` (deterministic bytes for equal contents). */
export function statisticsToJSON(stats: FitStatistics): StatisticsJSON {
  const enc = (blk: StatsBlock, key: string) => {
    const parts = [blk.sumF.snapshot(), blk.sumFhat.snapshot(), blk.sumNorm.snapshot()];
    const all = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    const bytes = deflateRawSync(new Uint8Array(all.buffer), { level: 6 });
    return { key, images: blk.images, points: blk.points, bins: bytes.toString('base64') };
  };
  const blocks = [enc(stats.global, 'global'), ...stats.classes().map((k) => enc(stats.perClass.get(k)!, String(k)))];
  return { format: 'uol-rps-statistics', version: 1, channels: stats.channels, imageCount: stats.global.images, blocks };
}

/** Inverse of {@link statisticsToJSON}. @throws UsageError on malformed input (`source` names the file). */
export function statisticsFromJSON(j: unknown, source = '<statistics>'): FitStatistics {
  const o = j as Partial<StatisticsJSON>;
  if (!o || o.format !== 'uol-rps-statistics') throw new UsageError(`${source}: not a uol-rps statistics file`);
  if (o.version !== 1) throw new UsageError(`${source}: statistics version ${String(o.version)} is not supported (expected 1)`);
  const c = o.channels;
  if (typeof c !== 'number' || !Number.isInteger(c) || c <= 0) throw new UsageError(`${source}: bad channels ${String(c)}`);
  if (!Array.isArray(o.blocks)) throw new UsageError(`${source}: missing blocks`);
  const s = new FitStatistics(c);
  const NB = ExactSumVector.BINS;
  if (o.imageCount !== undefined && (typeof o.imageCount !== 'number' || !Number.isSafeInteger(o.imageCount) || o.imageCount < 0)) {
    throw new UsageError(`${source}: imageCount is ${JSON.stringify(o.imageCount)}: expected an integer ≥ 0`);
  }
  if (c > 1 << 20) throw new UsageError(`${source}: channels ${c} is implausibly large (at most ${1 << 20})`);
  const keys = new Set<string>();
  for (const [i, b] of (o.blocks as unknown[]).entries()) {
    if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new UsageError(`${source}: blocks[${i}] is not an object`);
    const r = b as Partial<StatisticsJSON['blocks'][number]>;
    if (typeof r.key !== 'string' || keys.has(r.key)) throw new UsageError(`${source}: blocks[${i}].key ${JSON.stringify(r.key)} is not a unique string`);
    keys.add(r.key);
    for (const k of ['images', 'points'] as const) {
      const v = r[k];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new UsageError(`${source}: block ${r.key}: ${k} is ${JSON.stringify(v)}: expected an integer ≥ 0`);
    }
    if (typeof r.bins !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.bins)) throw new UsageError(`${source}: block ${r.key}: bins is not a base64 string`);
  }
  for (const b of o.blocks) {
    let all: Float64Array;
    const want = (2 * c + 2) * NB * 8;
    try {
      // The exact inflated size is known: cap the output there, so a deflate bomb stops at `want` + 1 bytes.
      const raw = inflateRawSync(Buffer.from(b.bins, 'base64'), { maxOutputLength: want + 1 });
      all = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength - (raw.byteLength % 8)));
      if (raw.byteLength !== want) throw new Error(`inflates to ${raw.byteLength > want ? `more than ${want}` : raw.byteLength} bytes, expected ${want}`);
    } catch (e) {
      const m = (e as Error).message;
      throw new UsageError(`${source}: block ${b.key}: corrupt bins (${/buffer|maxOutputLength|larger than/i.test(m) ? `inflates to more than the ${want} bytes ${c} channels need` : m})`);
    }
    if (all.some((v) => !Number.isFinite(v))) throw new UsageError(`${source}: block ${b.key}: bins hold non-finite values`);
    const blk = new StatsBlock(c);
    blk.images = b.images;
    blk.points = b.points;
    blk.sumF.merge(new ExactSumVector(c, all.slice(0, c * NB)));
    blk.sumFhat.merge(new ExactSumVector(c, all.slice(c * NB, 2 * c * NB)));
    blk.sumNorm.merge(new ExactSumVector(2, all.slice(2 * c * NB)));
    if (b.key === 'global') s.global.merge(blk);
    else {
      const k = Number(b.key);
      if (!Number.isInteger(k) || k < 0) throw new UsageError(`${source}: bad class key "${b.key}"`);
      s.perClass.set(k, blk);
    }
  }
  return s;
}
