/**
 * A directory of activation maps, so that a long evaluation killed at any point resumes where it stopped (and a
 * re-evaluation with another τ grid costs no backbone pass): `<dir>/<split>/<encodeURIComponent(id)>.npy`, float32
 * [H,W] in [0,1], each written atomically (temp file + rename) as soon as it is computed, plus `<dir>/map-cache.json`
 * naming what the maps were computed with (tool, predictor hash, backbone, transform, dataset). A cache of anything else
 * is refused by name. A cached map that cannot be read back (wrong shape, damaged) is recomputed and rewritten.
 */
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../util/errors.js';
import { writeFileAtomicSync } from '../util/fs.js';
import { readNpy, writeNpy } from '../io/npy.js';
import type { DatasetRecord } from '../data/datasets/types.js';
import type { MapCache } from './maps.js';
import { readJsonBounded } from '../util/safe-read.js';

/** Name of the identity file inside a cache directory. */
export const MAP_CACHE_FILE = 'map-cache.json';

/** What a cache's maps depend on (all values JSON-safe). */
export type MapCacheIdentity = Record<string, string | number | boolean | null>;

/** A {@link MapCache} over one split of a cache directory, with a counter. */
export interface SplitMapCache extends MapCache {
  /** Maps computed and stored in this run (the rest of the images were served from the cache). */
  readonly stored: number;
}

/**
 * Opens (or creates) the cache directory for `identity`.
 * @throws UsageError when `dir` holds a cache with another identity (the message lists the differing keys) or a
 *   malformed identity file.
 */
export function openMapCacheDir(dir: string, identity: MapCacheIdentity): { split(name: string): SplitMapCache } {
  const file = path.join(dir, MAP_CACHE_FILE);
  if (existsSync(file)) {
    let have: { format?: unknown; identity?: Record<string, unknown> };
    try {
      have = readJsonBounded(file, 'map cache identity') as typeof have;
    } catch (e) {
      throw new UsageError(`${file}: not a map cache identity file (${(e as Error).message})`);
    }
    if (have.format !== 'uol-map-cache' || !have.identity || typeof have.identity !== 'object') throw new UsageError(`${file}: not a uol map cache identity file`);
    const keys = [...new Set([...Object.keys(have.identity), ...Object.keys(identity)])].sort();
    const diff = keys.filter((k) => JSON.stringify(have.identity![k]) !== JSON.stringify(identity[k]));
    if (diff.length) {
      throw new UsageError(
        `${file}: the maps in ${dir} were computed with another ${diff.map((k) => `${k} (${JSON.stringify(have.identity![k])}, now ${JSON.stringify(identity[k])})`).join(', ')}; use another \`mapCache\` directory or remove this one`,
        { options: ['mapCache'] },
      );
    }
  } else {
    mkdirSync(dir, { recursive: true });
    writeFileAtomicSync(file, JSON.stringify({ format: 'uol-map-cache', version: 1, identity }, null, 1) + '\n');
  }
  return {
    split(name: string): SplitMapCache {
      const sub = path.join(dir, encodeURIComponent(name));
      mkdirSync(sub, { recursive: true });
      const fileOf = (r: DatasetRecord) => path.join(sub, `${encodeURIComponent(r.id)}.npy`);
      let stored = 0;
      return {
        get stored() {
          return stored;
        },
        async load(r, [H, W]) {
          const f = fileOf(r);
          if (!existsSync(f)) return undefined;
          try {
            const a = await readNpy(f);
            if (a.dtype !== 'float32' || a.shape.length !== 2 || a.shape[0] !== H || a.shape[1] !== W) return undefined;
            return a.data as Float32Array;
          } catch {
            return undefined;
          }
        },
        async store(r, map, [H, W]) {
          await writeNpy(fileOf(r), map.slice(), [H, W]);
          stored++;
        },
      };
    },
  };
}
