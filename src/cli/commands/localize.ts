/**
 * `uol localize`: maps, boxes and overlays for images or datasets (localize-images.ts), or maps for feature files
 * (`--from-features DIR --size H,W`).
 */
import type { Argv, CommandModule } from 'yargs';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { sha256FileSync, sha256Hex } from '../../util/fs.js';
import { claimOutDir } from '../../util/run-owner.js';
import { TOOL } from '../../version.js';
import { UsageError } from '../../util/errors.js';
import { sharedDecls, withShared, type SharedArgs } from './shared-options.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';
import type { LocalizeImagesArgs } from './localize-images.js';

interface LocalizeArgs extends GlobalArgs, LocalizeImagesArgs, SharedArgs<'from-features' | 'labels'> {}

/** Parses `H,W` (positive integers). @throws UsageError. */
export function parseSize(s: string, flag = '--size'): [number, number] {
  const m = /^\s*(\d+)\s*[,x]\s*(\d+)\s*$/.exec(s);
  if (!m || Number(m[1]) <= 0 || Number(m[2]) <= 0) throw new UsageError(`${flag} "${s}": expected H,W (positive integers)`);
  return [Number(m[1]), Number(m[2])];
}

export const localizeCommand: CommandModule<GlobalArgs, LocalizeArgs> = {
  command: 'localize [images..]',
  describe: 'boxes, maps and overlays for images (resized whole) or a dataset; or maps for feature files',
  builder: (y: Argv<GlobalArgs>) =>
    withShared(y, { threshold: true, predictor: true, backbone: true, dataset: 'a dataset instead of images (its eval transform)', 'data-dir': true, metadata: true, split: 'dataset split (default test)', 'batch-size': true, 'skip-bad': 'skip unreadable images (listed in boxes.json)', downscale: true, caam: true, resizer: true })
      .positional('images', { type: 'string', array: true, describe: 'image files, folders or globs' })
      .option('all-boxes', { type: 'boolean', default: false, describe: 'also list every component above τ' })
      .option('coco', { type: 'boolean', default: false, describe: 'also write coco.json (pseudo-labels for detectors)' })
      .option('overlays', { type: 'boolean', default: false, describe: 'write overlays/<id>.png (heatmap + box) and report.html' })
      .option('maps', { type: 'boolean', default: true, describe: 'write maps/<id>.npy float32 [H,W] in [0,1] (--no-maps to skip)' })
      .option('class-wise', { type: 'boolean', default: true, describe: 'class-wise predictors: pick w by the dataset label' })
      .options(sharedDecls({ 'from-features': true }))
      .option('size', { type: 'string', describe: 'images: input side S (resized whole to S×S; default the backbone\'s); features: output map size H,W' })
      .option('out', { type: 'string', demandOption: true, describe: 'output directory' })
      .options(sharedDecls({ labels: 'CSV "stem,classIndex": use the class-wise w of a class-wise predictor' })) as Argv<LocalizeArgs>,
  handler: async (a) => {
    const { readLabelsCsv } = await import('../../io/features-dir.js');
    const { localizeFromFeatures } = await import('../../rps/node/features-pipeline.js');
    const { loadPredictor } = await import('../../rps/node/predictor-file.js');
    const { runLocalizeImages } = await import('./localize-images.js');
    if (!a['from-features']) {
      const engine = await startEngine(a);
      const prog = progressFor(a);
      try {
        const r = await runLocalizeImages(a, engine, prog.callback);
        prog.stop();
        emit(a, r.json, r.text);
      } finally {
        prog.stop();
      }
      return;
    }
    if (!a.size) throw new UsageError('uol localize --from-features needs --size H,W');
    if (!a.predictor && !a.caam) throw new UsageError('uol localize: give --predictor FILE (or --caam)');
    const size = parseSize(a.size);
    await startEngine(a);
    const opts: Parameters<typeof localizeFromFeatures>[0] = { dir: a['from-features'], size, outDir: a.out, caam: a.caam };
    if (a.predictor) {
      opts.predictor = loadPredictor(a.predictor);
      opts.predictorFile = a.predictor;
    }
    if (a.labels) opts.labels = readLabelsCsv(a.labels);
    const fingerprint = sha256Hex(JSON.stringify({ tool: TOOL, predictor: a.predictor ? sha256FileSync(a.predictor) : null, caam: a.caam, size, features: path.resolve(a['from-features']), labels: a.labels ? sha256FileSync(a.labels) : null }));
    mkdirSync(a.out, { recursive: true });
    claimOutDir(path.resolve(a.out), 'localize', fingerprint, ['maps']);
    const prog = progressFor(a);
    try {
      opts.onProgress = prog.callback;
      const r = await localizeFromFeatures(opts);
      emit(a, { out: a.out, maps: r.maps.length, classwise: r.classwiseCount, size }, `wrote ${r.maps.length} maps [${size.join('×')}] to ${a.out}`);
    } finally {
      prog.stop();
    }
  },
};
