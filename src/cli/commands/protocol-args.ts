/**
 * Options of the evaluation protocol (docs/method.md §7) shared by `uol fit`, `uol evaluate` and `uol ablate`, declared
 * once. Light module: the CLI declares options without loading models (src/data/protocol.ts imports types only).
 */
import type { Argv } from 'yargs';
import { PROTOCOL_NAMES } from '../../data/protocol.js';

/** Parsed protocol options. */
export interface ProtocolArgs {
  protocol?: string;
  'image-size'?: number;
  'crop-size'?: number;
  downscale?: 8 | 16 | 32;
}

/** Parsed fit-selection options. */
export interface SelectionArgs {
  'train-list'?: string;
  'release-batch-size'?: number;
}

/**
 * Adds `--protocol`, `--downscale` (alias `--resnet-downscale`) and, with `evalSizes`, `--image-size` / `--crop-size`.
 * @param downscaleDefault what the stride defaults to for this command, in words.
 */
export function protocolOptions<T>(y: Argv<T>, o: { downscaleDefault: string; evalSizes: boolean }): Argv<T> {
  let r = y
    .option('downscale', { choices: [8, 16, 32] as const, alias: 'resnet-downscale', describe: `ResNet output stride (main.py --resnet_downscale; default ${o.downscaleDefault})` })
    .option('protocol', {
      choices: PROTOCOL_NAMES,
      describe: "release (the authors' code: bilinear PIL-exact resizes for every backbone, per-dataset sizes, stride, split, τ rule and class-wise quota; default for cub/wsol/cars/aircraft/dogs/cifar*) or wsoleval (the backbone's own filter, sharp)",
    }) as Argv<T>;
  if (o.evalSizes) {
    r = r
      .option('image-size', { type: 'number', describe: "eval Resize((S,S)) side (main.py --image_size; default the protocol's: 480 fine-grained, 256 ImageNet)" })
      .option('crop-size', { type: 'number', describe: "eval CenterCrop side (main.py --crop_size; default the protocol's: 448 / 224)" }) as Argv<T>;
  }
  return r;
}

/** Adds `--train-list` and `--release-batch-size` (which training images a fit takes). */
export function selectionOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('train-list', { type: 'string', describe: 'fit on exactly these training image ids (one per line, "id" or "id,label"), in this order (e.g. the order the release drew)' })
    .option('release-batch-size', { type: 'number', describe: "release protocol, --classwise: main.py --batch_size (default 64), where the release's per-class quota loop may stop" }) as Argv<T>;
}
