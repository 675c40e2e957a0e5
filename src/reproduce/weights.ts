/**
 * The release's `--loc_network` → the checkpoint file main.py loads (in a weights folder W) → a converted uol backbone
 * (cached under a models folder). The table is the one of src/weights/release-layouts.ts (file, container, nesting,
 * arch options); conversion is `convertReleaseCheckpoint`, strict, as `uol convert FILE --release NAME`.
 */
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { sha256File } from '../util/fs.js';
import { readJsonBounded } from '../util/safe-read.js';
import type { ProgressCallback } from '../util/progress.js';
import { convertReleaseCheckpoint } from '../backbones/node/convert.js';
import { listReleaseNetworks, resolveReleaseNetwork, type ReleaseNetwork } from '../weights/release-layouts.js';

/** Options of {@link resolveReleaseBackbone}. */
export interface ResolveReleaseBackboneOptions {
  /** The release's `--loc_network` (resolved by substring as main.py does). */
  network: string;
  /** Folder holding the checkpoint files main.py loads. */
  weightsDir: string;
  /** Folder for converted models (one sub-folder per network and checkpoint content). */
  modelsDir: string;
  onProgress?: ProgressCallback;
}

/** Where to get a release network's file, in words. */
export function releaseSourceText(net: ReleaseNetwork): string {
  return net.source.kind === 'public' ? net.source.url : `the authors' download folder (${net.source.note})`;
}

/**
 * Converts W/<file> of a release network (once; reused while the file's sha256 is unchanged) and returns the converted
 * model directory (load it with `loadBackbone(dir, { downscale })`).
 * @throws UsageError for a name main.py does not implement, a missing file (naming it and where it comes from), or a
 *   file whose keys do not load as the release loads them.
 */
export async function resolveReleaseBackbone(o: ResolveReleaseBackboneOptions): Promise<string> {
  const net = resolveReleaseNetwork(o.network);
  if (!net) throw new UsageError(`--loc_network ${o.network}: main.py resolves it to no network ("NOT IMPLEMENTED"; known: ${listReleaseNetworks().map((n) => n.name).join(', ')})`);
  const file = path.join(o.weightsDir, net.file);
  if (!existsSync(file)) throw new UsageError(`${file}: not found — the checkpoint main.py loads for --loc_network ${o.network} (from ${releaseSourceText(net)})`);
  const sha = await sha256File(file);
  const dir = path.join(o.modelsDir, `release-${net.name}-${sha.slice(0, 12)}`);
  const mj = path.join(dir, 'model.json');
  if (existsSync(mj)) {
    try {
      const j = readJsonBounded(mj, 'converted model') as { provenance?: { sourceSha256?: string } };
      if (j.provenance?.sourceSha256 === sha) return dir;
    } catch {
      /* reconvert below */
    }
  }
  await convertReleaseCheckpoint({ name: net.name, file, outDir: dir, modelName: `release-${net.name}`, force: true, ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
  return dir;
}
