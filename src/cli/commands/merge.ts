/**
 * `uol merge STATS... --out FILE`: combine partial statistics (shards of a fit) into a predictor, or into statistics
 * with `--statistics`.
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../util/errors.js';
import { TOOL } from '../../version.js';
import { emit, startEngine, type GlobalArgs } from '../context.js';
import { sharedDecls } from './shared-options.js';

interface MergeArgs extends GlobalArgs {
  stats: string[];
  out: string;
  statistics: boolean;
  classwise?: boolean;
}

export const mergeCommand: CommandModule<GlobalArgs, MergeArgs> = {
  command: 'merge <stats...>',
  describe: 'merge partial statistics (fit shards) into a predictor',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('stats', { type: 'string', array: true, demandOption: true, describe: 'statistics files written by `uol fit --shard`' })
      .option('out', { type: 'string', demandOption: true, describe: 'predictor (or statistics with --statistics) to write' })
      .option('statistics', { type: 'boolean', default: false, describe: 'write merged statistics instead of a predictor' })
      .options(sharedDecls({ classwise: { describe: 'fit class-wise w* too (default: as the shards were fitted)', default: undefined } })) as Argv<MergeArgs>,
  handler: async (a) => {
    const { predictorFromStatistics } = await import('../../rps/predictor.js');
    const { savePredictor } = await import('../../rps/node/predictor-file.js');
    const { loadStatistics, mergeStatisticsFiles, saveStatistics } = await import('../../rps/node/statistics-file.js');
    if (!a.stats.length) throw new UsageError('uol merge: give statistics files');
    await startEngine(a);
    const merged = mergeStatisticsFiles(a.stats.map((file) => ({ file, content: loadStatistics(file) })));
    if (a.statistics) {
      saveStatistics(a.out, merged);
      emit(a, { statistics: a.out, images: merged.statistics.global.images }, `wrote merged statistics ${a.out} (${merged.statistics.global.images} images)`);
      return;
    }
    const classwise = a.classwise ?? merged.meta.options?.classwise === true;
    const names = merged.meta.classNames ? new Map(Object.entries(merged.meta.classNames).map(([k, v]) => [Number(k), v])) : undefined;
    const opts: Parameters<typeof predictorFromStatistics>[1] = {
      backbone: merged.meta.backbone,
      classwise,
      tool: TOOL,
    };
    if (names) opts.classNames = names;
    if (merged.meta.source) opts.created = { source: merged.meta.source };
    const p = predictorFromStatistics(merged.statistics, opts);
    savePredictor(p, a.out);
    emit(a, { predictor: a.out, images: merged.statistics.global.images, shards: a.stats.length }, `wrote ${a.out} from ${a.stats.length} statistics files (${merged.statistics.global.images} images)`);
  },
};
