/**
 * `uol extract [--backbone B] IMAGES... [--size S] --out DIR`: feature maps as `<stem>.npy` float32 `[h,w,C]`.
 */
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_BACKBONE } from '../../backbones/defaults.js';
import type { Downscale } from '../../backbones/resnet.js';
import { emit, progressFor, startEngine, type GlobalArgs } from '../context.js';

interface ExtractArgs extends GlobalArgs {
  images: string[];
  backbone: string;
  size?: number;
  downscale?: number;
  out: string;
  'models-dir'?: string;
}

export const extractCommand: CommandModule<GlobalArgs, ExtractArgs> = {
  command: 'extract <images..>',
  describe: 'write backbone feature maps <stem>.npy (float32 [h,w,C]) for images or directories of images',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'image files or directories' })
      .option('backbone', { type: 'string', default: DEFAULT_BACKBONE, describe: 'registry name (uol info lists them) or a model directory' })
      .option('size', { type: 'number', describe: 'resize the whole image to S×S (default: the backbone\'s size, 224 for most)' })
      .option('downscale', { type: 'number', choices: [8, 16, 32], describe: 'ResNet output stride' })
      .option('out', { type: 'string', demandOption: true, describe: 'output directory' })
      .option('models-dir', { type: 'string', describe: 'converted models directory (default $UOL_MODELS_DIR or converted-models/)' }) as Argv<ExtractArgs>,
  handler: async (a) => {
    const { loadBackbone } = await import('../../backbones/node/registry.js');
    const { expandImageArgs, extractToDir } = await import('../../backbones/extract.js');
    await startEngine(a);
    const images = expandImageArgs(a.images);
    const prog = progressFor(a);
    const opts: Parameters<typeof loadBackbone>[1] = { onProgress: prog.callback };
    if (a.downscale) opts.downscale = a.downscale as Downscale;
    if (a['models-dir']) opts.modelsDir = a['models-dir'];
    const fe = await loadBackbone(a.backbone, opts);
    try {
      const eo: Parameters<typeof extractToDir>[0] = { backbone: fe, images, outDir: a.out, onProgress: prog.callback };
      if (a.size !== undefined) eo.size = a.size;
      const r = await extractToDir(eo);
      emit(
        a,
        { backbone: fe.identity, images: r.files.length, out: a.out, shape: r.shape },
        `wrote ${r.files.length} feature maps [${r.shape.join(',')}] from ${fe.identity.id} to ${a.out}`,
      );
    } finally {
      fe.dispose();
      prog.stop();
    }
  },
};
