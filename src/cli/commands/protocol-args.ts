/**
 * Options of the evaluation protocol (docs/method.md §7) shared by `uol fit`, `uol evaluate` and `uol ablate`, declared
 * once. Light module: the CLI declares options without loading models (src/data/protocol.ts imports types only).
 */
import type { Argv } from 'yargs';
import { withShared, type SharedArgs } from './shared-options.js';
import { parseProtocolName, PROTOCOL_NAMES, resolveProtocol, type RunProtocol } from '../../data/protocol.js';
import type { Dataset } from '../../data/datasets/types.js';
import type { DatasetSpec } from '../../pipeline/dataset-spec.js';

/** Parsed protocol options. */
export interface ProtocolArgs extends SharedArgs<'downscale' | 'image-size' | 'crop-size'> {
  protocol?: string;
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
  let r = withShared(y, { downscale: { alias: 'resnet-downscale', describe: `ResNet output stride (main.py --resnet_downscale; default ${o.downscaleDefault})` } })
    .option('protocol', {
      choices: PROTOCOL_NAMES,
      describe: "release (the authors' code: bilinear PIL-exact resizes for every backbone, per-dataset sizes, stride, split, τ rule and class-wise quota; default for cub/wsol/cars/aircraft/dogs/cifar*) or wsoleval (the backbone's own filter, sharp)",
    }) as Argv<T>;
  if (o.evalSizes) {
    r = withShared(r, { 'image-size': true, 'crop-size': true }) as Argv<T>;
  }
  return r;
}

/** Adds `--train-list` and `--release-batch-size` (which training images a fit takes). */
export function selectionOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('train-list', { type: 'string', describe: 'fit on exactly these training image ids (one per line, "id" or "id,label"), in this order (e.g. the order the release drew)' })
    .option('release-batch-size', { type: 'number', describe: "release protocol, --classwise: main.py --batch_size (default 64), where the release's per-class quota loop may stop" }) as Argv<T>;
}

/** Resolves `--protocol` (default: release for the paper's datasets) with `--image-size`, `--crop-size`, … */
export function protocolFromArgs(a: ProtocolArgs & { split?: string | undefined; 'val-split'?: string | undefined; oracle?: boolean | undefined }, ds: Dataset | undefined): RunProtocol {
  return resolveProtocol(a.protocol !== undefined ? parseProtocolName(a.protocol) : undefined, ds, {
    imageSize: a['image-size'],
    cropSize: a['crop-size'],
    downscale: a.downscale,
    split: a.split,
    valSplit: a['val-split'],
    oracle: a.oracle || undefined,
  });
}

/** The dataset named by `--dataset`, `--data-dir`, `--metadata`, `--mask-root` (opened by `openDatasetSpec`). */
export function datasetSpec(a: { dataset?: string | undefined; 'data-dir'?: string | undefined; metadata?: string | undefined; 'mask-root'?: string | undefined }): DatasetSpec {
  return { dataset: a.dataset, dataDir: a['data-dir'], metadata: a.metadata, maskRoot: a['mask-root'] };
}
