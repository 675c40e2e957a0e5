/**
 * The options several commands share, declared once: what a flag is (type, choices, default) lives here; a command picks
 * the ones it takes with {@link withShared}, with its own help text (or default, `demandOption`, alias) where its use
 * differs. Parsed argument types come from these declarations ({@link SharedArgs}), not from hand-written interfaces.
 *
 * Light module (see src/cli/context.ts): yargs types and constant name lists only, so `uol --help` loads no TF.js.
 */
import type { Argv, InferredOptionTypes, Options } from 'yargs';
import { DATASET_NAMES } from '../../data/datasets/names.js';

const MODELS_DIR = 'converted models directory (default $UOL_MODELS_DIR or converted-models/)';

/** Every shared option by flag name, with its default help text. */
export const SHARED_OPTIONS = {
  predictor: { type: 'string', describe: 'predictor file from `uol fit`' },
  caam: { type: 'boolean', default: false, describe: 'CAAM baseline: channel sum of the features, no w*' },
  backbone: { type: 'string', describe: "backbone (default: the predictor's)" },
  downscale: { choices: [8, 16, 32] as const, describe: "ResNet output stride (default: the predictor's)" },
  dataset: { type: 'string', choices: DATASET_NAMES as string[], describe: 'dataset format' },
  'data-dir': { type: 'string', describe: "folder holding the format's top files" },
  metadata: { type: 'string', describe: 'wsol: metadata folder' },
  'mask-root': { type: 'string', describe: 'wsol: root of OpenImages mask files' },
  split: { type: 'string', describe: 'dataset split' },
  'batch-size': { type: 'number', default: 1, describe: 'images per forward pass' },
  'skip-bad': { type: 'boolean', default: false, describe: 'skip unreadable images instead of stopping' },
  'map-cache': { type: 'string', describe: 'keep every map here as it is computed and reuse those found: a killed run resumes' },
  'models-dir': { type: 'string', describe: MODELS_DIR },
  seed: { type: 'number', default: 0, describe: 'seed of --sampling-ratio' },
  force: { type: 'boolean', default: false, describe: 'overwrite an existing converted model' },
  threshold: { type: 'number', describe: 'τ for boxes (default: the one `uol evaluate` stored in the predictor)' },
  'sampling-ratio': { type: 'number', default: 1, describe: 'fit on a seeded subset of floor(N·r) images' },
  'image-size': { type: 'number', describe: "eval Resize((S,S)) side (main.py --image_size; default the protocol's: 480 fine-grained, 256 ImageNet)" },
  'crop-size': { type: 'number', describe: "eval CenterCrop side (main.py --crop_size; default the protocol's: 448 / 224)" },
  'from-features': { type: 'string', describe: 'directory of <stem>.npy float32 [h,w,C] feature maps' },
  labels: { type: 'string', describe: 'CSV of "stem,classIndex" lines' },
  classwise: { type: 'boolean', default: false, describe: 'class-wise w* (one w per class)' },
  predictions: { type: 'string', describe: 'CSV of class scores or top-5 classes per image (docs/classifiers.md)' },
  'feature-cache': { type: 'string', describe: 'directory of cached training features' },
  'base-dataset': { type: 'string', choices: DATASET_NAMES as string[], describe: 'fit on another dataset (zero-shot transfer, e.g. cifar10)' },
  'arch-config': { type: 'string', describe: 'JSON overrides of the architecture config (non-standard widths/depths)' },
  'train-images': { type: 'string', describe: 'the training images of a fit' },
  list: { type: 'boolean', default: false, describe: 'list what is available and exit' },
  filter: { type: 'string', describe: 'only names containing this' },
  resizer: { choices: ['codec', 'pil'] as const, describe: "image resampling: the codec's (sharp/libvips, the default) or PIL-exact (bit-identical to PIL, as the browser app does)" },
} as const satisfies Record<string, Options>;

/** Names of the shared options. */
export type SharedName = keyof typeof SHARED_OPTIONS;

/**
 * Parsed values of a record of yargs option declarations, typed from it: an option with a default is always there, one
 * without may be absent (an optional key).
 */
export type ArgsOf<O extends Record<string, Options>> = { [k in keyof O as undefined extends InferredOptionTypes<O>[k] ? never : k]: InferredOptionTypes<O>[k] } & {
  [k in keyof O as undefined extends InferredOptionTypes<O>[k] ? k : never]?: InferredOptionTypes<O>[k];
};

/** Parsed values of the shared options `K`, typed from {@link SHARED_OPTIONS}. */
export type SharedArgs<K extends SharedName> = ArgsOf<Pick<typeof SHARED_OPTIONS, K>>;

/** How a command takes a shared option: as declared (`true`), with its own help text, or with changed fields. */
export type SharedUse = true | string | Partial<Options>;

/**
 * Adds the shared options named in `use` (in that order) to a command's yargs.
 * @example withShared(y, { predictor: true, backbone: "backbone (default: the predictor's)", 'batch-size': true })
 */
export function withShared<T, K extends SharedName>(y: Argv<T>, use: { readonly [k in K]: SharedUse }): Argv<T & SharedArgs<K>> {
  let r = y as Argv<unknown>;
  for (const [name, how] of Object.entries(use) as [K, SharedUse][]) {
    const base: Options = SHARED_OPTIONS[name];
    r = r.option(name, how === true ? base : typeof how === 'string' ? { ...base, describe: how } : { ...base, ...how });
  }
  return r as Argv<T & SharedArgs<K>>;
}

/**
 * The declarations of the shared options named in `use`, for yargs' `.options(…)` (types flow from them): the same
 * declarations {@link withShared} adds, for the middle of an option chain.
 * @example y.options(sharedDecls({ labels: 'CSV "stem,classIndex": the class of each feature file' }))
 */
export function sharedDecls<K extends SharedName>(use: { readonly [k in K]: SharedUse }): Pick<typeof SHARED_OPTIONS, K> {
  const out: Record<string, Options> = {};
  for (const [name, how] of Object.entries(use) as [K, SharedUse][]) {
    const base: Options = SHARED_OPTIONS[name];
    out[name] = how === true ? base : typeof how === 'string' ? { ...base, describe: how } : { ...base, ...how };
  }
  return out as Pick<typeof SHARED_OPTIONS, K>;
}
