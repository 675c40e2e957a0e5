/**
 * `uol localize`: activation maps (and, later, boxes) for images or feature files.
 * This module handles the bring-your-own-features path (`--from-features DIR --size H,W`).
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../util/errors.js';
import { readLabelsCsv } from '../../io/features-dir.js';
import { localizeFromFeatures } from '../../rps/features-pipeline.js';
import { loadPredictor } from '../../rps/predictor.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';

interface LocalizeArgs extends GlobalArgs {
  predictor?: string;
  'from-features'?: string;
  size?: string;
  out: string;
  caam: boolean;
  labels?: string;
}

/** Parses `H,W` (positive integers). @throws UsageError. */
export function parseSize(s: string, flag = '--size'): [number, number] {
  const m = /^\s*(\d+)\s*[,x]\s*(\d+)\s*$/.exec(s);
  if (!m || Number(m[1]) <= 0 || Number(m[2]) <= 0) throw new UsageError(`${flag} "${s}": expected H,W (positive integers)`);
  return [Number(m[1]), Number(m[2])];
}

export const localizeCommand: CommandModule<GlobalArgs, LocalizeArgs> = {
  command: 'localize',
  describe: 'write activation maps in [0,1] for feature files',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('predictor', { type: 'string', describe: 'predictor file from `uol fit`' })
      .option('from-features', { type: 'string', describe: 'directory of <stem>.npy float32 [h,w,C] feature maps' })
      .option('size', { type: 'string', describe: 'output map size H,W' })
      .option('out', { type: 'string', demandOption: true, describe: 'output directory for <stem>.npy maps' })
      .option('caam', { type: 'boolean', default: false, describe: 'CAAM baseline: channel sum of the features, no w*' })
      .option('labels', { type: 'string', describe: 'CSV "stem,classIndex": use the class-wise w of a class-wise predictor' }) as Argv<LocalizeArgs>,
  handler: async (a) => {
    if (!a['from-features']) throw new UsageError('uol localize: give --from-features DIR');
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
