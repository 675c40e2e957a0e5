/**
 * `uol convert-classifier NAME FILE… --out DIR [--arch-config JSON] [--classes K]`: a classifier's checkpoint file(s)
 * (as the release loads them) → one folder usable as `--cls-weights DIR` (src/classify/registry.ts).
 */
import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../../util/errors.js';
import { CLASSIFIER_NAMES } from '../../classify/names.js';
import type { LoadClassifierOptions } from '../../classify/registry.js';
import { sharedDecls, withShared, type SharedArgs } from './shared-options.js';
import { emit, type GlobalArgs } from '../context.js';

interface ConvertClassifierArgs extends GlobalArgs, SharedArgs<'force' | 'arch-config'> {
  name: string;
  files: string[];
  out: string;
  classes?: number;
}

export const convertClassifierCommand: CommandModule<GlobalArgs, ConvertClassifierArgs> = {
  command: 'convert-classifier <name> <files..>',
  describe: 'convert a Top-1/Top-5 Loc classifier checkpoint (cub_resnet50, torchvision_resnet50, dino_vits8_linear) into one folder for --cls-weights',
  builder: (y: Argv<GlobalArgs>) =>
    withShared(y, { force: true })
      .positional('name', { type: 'string', demandOption: true, choices: CLASSIFIER_NAMES as string[], describe: 'classifier' })
      .positional('files', { type: 'string', array: true, demandOption: true, describe: 'checkpoint file(s), as the release loads them (dino_vits8_linear: backbone, then linear head)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output folder' })
      .options(sharedDecls({ 'arch-config': 'JSON overrides of the trunk config (non-standard widths/depths)' }))
      .option('classes', { type: 'number', describe: "number of classes (default the registry's)" }) as Argv<ConvertClassifierArgs>,
  handler: async (a) => {
    const { CLASSIFIERS, convertClassifier } = await import('../../classify/registry.js');
    const o: LoadClassifierOptions & { force?: boolean } = { force: a.force };
    if (a['arch-config'] !== undefined) {
      let c: unknown;
      try {
        c = JSON.parse(a['arch-config']);
      } catch (e) {
        throw new UsageError(`--arch-config: invalid JSON: ${(e as Error).message}`);
      }
      if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new UsageError('--arch-config: expected a JSON object');
      o.archConfig = c as Record<string, unknown>;
    }
    if (a.classes !== undefined) {
      if (!Number.isInteger(a.classes) || a.classes < 1) throw new UsageError(`--classes ${a.classes}: expected a positive integer`);
      o.numClasses = a.classes;
    }
    const r = await convertClassifier(a.name, a.files, a.out, o);
    emit(a, { out: r.dir, name: a.name, tensors: r.tensors, bytes: r.bytes, weightsSha256: r.weightsSha256 }, [
      `converted ${a.files.join(' + ')} → ${r.dir}`,
      `  ${a.name} (${CLASSIFIERS[a.name]!.description}): ${r.tensors} tensors, ${(r.bytes / 1e6).toFixed(1)} MB`,
      `use it with: --cls-network ${a.name} --cls-weights ${r.dir}`,
    ]);
  },
};
