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
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';
import type { LocalizeImagesArgs } from './localize-images.js';
import { DATASET_NAMES } from '../../data/datasets/names.js';

interface LocalizeArgs extends GlobalArgs, LocalizeImagesArgs {
  'from-features'?: string;
  labels?: string;
}

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
    y
      .positional('images', { type: 'string', array: true, describe: 'image files, folders or globs' })
      .option('predictor', { type: 'string', describe: 'predictor file from `uol fit`' })
      .option('backbone', { type: 'string', describe: "backbone (default: the predictor's)" })
      .option('dataset', { type: 'string', choices: DATASET_NAMES as string[], describe: 'a dataset instead of images (its eval transform)' })
      .option('data-dir', { type: 'string', describe: "folder holding the format's top files" })
      .option('metadata', { type: 'string', describe: 'wsol: metadata folder' })
      .option('split', { type: 'string', describe: 'dataset split (default test)' })
      .option('threshold', { type: 'number', describe: 'τ for boxes (default: the one `uol evaluate` stored in the predictor)' })
      .option('all-boxes', { type: 'boolean', default: false, describe: 'also list every component above τ' })
      .option('coco', { type: 'boolean', default: false, describe: 'also write coco.json (pseudo-labels for detectors)' })
      .option('overlays', { type: 'boolean', default: false, describe: 'write overlays/<id>.png (heatmap + box) and report.html' })
      .option('maps', { type: 'boolean', default: true, describe: 'write maps/<id>.npy float32 [H,W] in [0,1] (--no-maps to skip)' })
      .option('batch-size', { type: 'number', default: 1, describe: 'images per forward pass' })
      .option('skip-bad', { type: 'boolean', default: false, describe: 'skip unreadable images (listed in boxes.json)' })
      .option('downscale', { choices: [8, 16, 32] as const, describe: "ResNet output stride (default: the predictor's)" })
      .option('class-wise', { type: 'boolean', default: true, describe: 'class-wise predictors: pick w by the dataset label' })
      .option('from-features', { type: 'string', describe: 'directory of <stem>.npy float32 [h,w,C] feature maps' })
      .option('size', { type: 'string', describe: 'images: input side S (resized whole to S×S; default the backbone\'s); features: output map size H,W' })
      .option('out', { type: 'string', demandOption: true, describe: 'output directory' })
      .option('caam', { type: 'boolean', default: false, describe: 'CAAM baseline: channel sum of the features, no w*' })
      .option('labels', { type: 'string', describe: 'CSV "stem,classIndex": use the class-wise w of a class-wise predictor' }) as Argv<LocalizeArgs>,
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
