/**
 * `uol data inspect --dataset D --data-dir DIR [--metadata DIR] [--split S] [--decode] [--json]`: what a dataset copy
 * holds and the first problems found. `uol data formats`: the on-disk layouts and line formats each reader parses.
 */
import type { Argv, CommandModule } from 'yargs';
import { DATASET_NAMES } from '../../data/datasets/names.js';
import type { InspectOptions, Range } from '../../data/inspect.js';
import type { Codec, DecodeOptions } from '../../data/image-io.js';
import { DEFAULT_MAX_PIXELS } from '../../data/limits.js';
import { withShared, type SharedArgs } from './shared-options.js';
import { emit, progressFor, type GlobalArgs } from '../context.js';
import type { DatasetOptions } from '../../data/datasets/types.js';

interface InspectArgs extends GlobalArgs, SharedArgs<'metadata' | 'mask-root' | 'split'> {
  dataset: string;
  'data-dir': string;
  decode: boolean;
  'max-problems': number;
  codec?: Codec;
  'max-pixels': number;
}

const r1 = (r: Range | undefined): string => (r ? `${r.min}–${r.max} (mean ${r.mean.toFixed(1)})` : '—');

const inspectCommand: CommandModule<GlobalArgs, InspectArgs> = {
  command: 'inspect',
  describe: 'counts per split, classes, boxes per image, image sizes, first problems found',
  builder: (y: Argv<GlobalArgs>) =>
    withShared(y, { dataset: { demandOption: true }, 'data-dir': { describe: "folder holding the format's own top files (e.g. CUB's images.txt), or a glob for folder", demandOption: true }, metadata: 'wsol: wsolevaluation metadata folder (e.g. metadata/CUB with train/ val/ test/)', 'mask-root': 'wsol: root of OpenImages mask files (default --data-dir)', split: 'only this split' })
      .option('decode', { type: 'boolean', default: false, describe: 'fully decode every image (finds truncated files); default reads headers only' })
      .option('max-problems', { type: 'number', default: 20, describe: 'problems listed per split' })
      .option('codec', { choices: ['sharp', 'jimp'] as const, describe: 'image codec (default sharp, jimp when sharp cannot load)' })
      .option('max-pixels', { type: 'number', default: DEFAULT_MAX_PIXELS, describe: 'refuse images with more pixels (decompression bombs)' }) as Argv<InspectArgs>,
  handler: async (a) => {
    const { openDataset } = await import('../../data/datasets/index.js');
    const { inspectDataset } = await import('../../data/inspect.js');
    const opts: DatasetOptions = { dataDir: a['data-dir'] };
    if (a.metadata) opts.metadata = a.metadata;
    if (a['mask-root']) opts.maskRoot = a['mask-root'];
    const ds = await openDataset(a.dataset, opts);
    const prog = progressFor(a);
    const decodeOptions: DecodeOptions = { maxPixels: a['max-pixels'] };
    if (a.codec) decodeOptions.codec = a.codec;
    const io: InspectOptions = { decode: a.decode, maxProblems: a['max-problems'], decodeOptions, onProgress: prog.callback };
    if (a.split) io.split = a.split;
    let report;
    try {
      report = await inspectDataset(ds, io);
    } finally {
      prog.stop();
    }
    const lines = [
      `${report.format} at ${report.root}`,
      `splits: ${report.splits.join(', ')}; classes: ${report.classes ?? 'unnamed'}${report.classNames ? ` (${report.classNames.slice(0, 5).join(', ')}${report.classNames.length > 5 ? ', …' : ''})` : ''}`,
      `boxes: ${report.boxConvention}`,
      `eval protocol (release): Resize((${report.evalProtocol.resize},${report.evalProtocol.resize})) → CenterCrop(${report.evalProtocol.crop})`,
    ];
    for (const r of report.reports) {
      lines.push('', `[${r.split}] ${r.images} images, ${r.labeled} labeled in ${r.classes} classes`);
      lines.push(`  boxes: ${r.boxes} on ${r.imagesWithBoxes} images, per image ${r1(r.boxesPerImage)}; masks: ${r.imagesWithMasks} images`);
      lines.push(`  sizes (${r.sizesChecked} ${a.decode ? 'decoded' : 'headers'}): width ${r1(r.width)}, height ${r1(r.height)}`);
      lines.push(`  problems: ${r.problemCount}${r.problemCount > r.problems.length ? ` (first ${r.problems.length})` : ''}`);
      for (const p of r.problems) lines.push(`    ${p.kind}: ${p.file ?? p.id}: ${p.detail}`);
    }
    emit(a, report, lines);
  },
};

const formatsCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'formats',
  describe: 'on-disk layouts and line formats of every --dataset reader',
  handler: async (a) => {
    const { datasetReaders } = await import('../../data/datasets/index.js');
    const list = DATASET_NAMES.map((n) => ({ name: n, description: datasetReaders[n]!.description, layout: datasetReaders[n]!.layout }));
    emit(a, { formats: list }, list.flatMap((f) => [`${f.name}: ${f.description}`, ...f.layout.split('\n').map((l) => `  ${l}`), '']));
  },
};

export const dataCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'data <command>',
  describe: 'dataset tools: inspect a dataset copy, list the supported formats',
  builder: (y: Argv<GlobalArgs>) => y.command(inspectCommand).command(formatsCommand).demandCommand(1) as Argv<GlobalArgs>,
  handler: () => undefined,
};
