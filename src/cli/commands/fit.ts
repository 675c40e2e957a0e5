/**
 * `uol fit`: fit the foreground predictor w*.
 * This module handles the bring-your-own-features path (`--from-features DIR`).
 */
import type { Argv, CommandModule } from 'yargs';
import * as path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { TOOL } from '../../version.js';
import { listFeatureFiles, readLabelsCsv } from '../../io/features-dir.js';
import { fitFromFeatures, externalIdentity, statisticsFromFeatures } from '../../rps/features-pipeline.js';
import { savePredictor } from '../../rps/predictor.js';
import { parseShard, saveStatistics, shardRange } from '../../rps/statistics-file.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';

interface FitArgs extends GlobalArgs {
  'from-features'?: string;
  labels?: string;
  classwise: boolean;
  out: string;
  'backbone-id'?: string;
  shard?: string;
  'stats-out'?: string;
}

export const fitCommand: CommandModule<GlobalArgs, FitArgs> = {
  command: 'fit',
  describe: 'fit the foreground predictor w* (closed form) on features or images',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('from-features', { type: 'string', describe: 'directory of <stem>.npy float32 [h,w,C] feature maps' })
      .option('labels', { type: 'string', describe: 'CSV of "stem,classIndex" lines (class-wise fits)' })
      .option('classwise', { type: 'boolean', default: false, describe: 'also fit one w* per class (needs labels)' })
      .option('out', { type: 'string', demandOption: true, describe: 'predictor file to write (or statistics file with --shard)' })
      .option('backbone-id', { type: 'string', describe: 'backbone id recorded for external features' })
      .option('shard', { type: 'string', describe: 'i/N: sum only shard i of N and write partial statistics to --out; combine with `uol merge`' })
      .option('stats-out', { type: 'string', describe: 'also write the exact statistics (mergeable) here' }) as Argv<FitArgs>,
  handler: async (a) => {
    if (!a['from-features']) throw new UsageError('uol fit: give --from-features DIR (image input arrives with the backbones)');
    await startEngine(a);
    const dir = a['from-features'];
    const labels = a.labels ? readLabelsCsv(a.labels) : undefined;
    const prog = progressFor(a);
    try {
      if (a.shard) {
        const shard = parseShard(a.shard);
        const all = listFeatureFiles(dir);
        const r = shardRange(all.length, shard);
        const files = all.slice(r.start, r.end);
        if (files.length === 0) throw new UsageError(`--shard ${a.shard}: shard is empty (${all.length} files)`);
        const opts: Parameters<typeof statisticsFromFeatures>[0] = { dir, files, requireLabels: a.classwise, onProgress: prog.callback };
        if (labels) opts.labels = labels;
        const statistics = await statisticsFromFeatures(opts);
        saveStatistics(a.out, {
          meta: {
            backbone: externalIdentity(statistics.channels, a['backbone-id']),
            shard,
            items: { total: all.length, start: r.start, end: r.end },
            source: `features ${path.resolve(dir)}`,
            options: { classwise: a.classwise },
          },
          statistics,
        });
        emit(a, { statistics: a.out, shard, images: statistics.global.images, points: statistics.global.points }, `wrote partial statistics ${a.out} (shard ${shard.index}/${shard.count}: ${statistics.global.images} images)`);
        return;
      }
      const opts: Parameters<typeof fitFromFeatures>[0] = {
        dir,
        classwise: a.classwise,
        tool: TOOL,
        onProgress: prog.callback,
      };
      if (labels) opts.labels = labels;
      if (a['backbone-id']) opts.backboneId = a['backbone-id'];
      const { predictor, statistics } = await fitFromFeatures(opts);
      if (a['stats-out']) {
        saveStatistics(a['stats-out'], {
          meta: { backbone: predictor.backbone, source: `features ${path.resolve(dir)}`, options: { classwise: a.classwise }, items: { total: statistics.global.images, start: 0, end: statistics.global.images } },
          statistics,
        });
      }
      savePredictor(predictor, a.out);
      emit(
        a,
        { predictor: a.out, images: statistics.global.images, points: statistics.global.points, channels: statistics.channels, classes: predictor.classes.length, c: predictor.statistics[0]!.c },
        `wrote ${a.out}: w* over ${statistics.global.images} images / ${statistics.global.points} points, C=${statistics.channels}${predictor.classwise ? `, ${predictor.classes.length} classes` : ''}`,
      );
    } finally {
      prog.stop();
    }
  },
};
