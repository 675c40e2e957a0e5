/**
 * The evaluation/fit protocol in one place: how images become network inputs (sizes, resize filter, resampler), which
 * ResNet stride, which split is read, which split picks τ, and where GT boxes get their scale from.
 *
 * Two presets:
 * - `release` — the authors' release (github yeonghwansong/UOLwRPS, main.py + validation.py + datasets/*.py): fit on
 *   every training image resized whole to 224×224; evaluate at `Resize((image_size, image_size))` →
 *   `CenterCrop(crop_size)`; every resize is torchvision's default BILINEAR on PIL images, for every backbone (ViT
 *   included), computed with the PIL-exact resampler; ResNet stride, sizes, eval split and τ rule per dataset from
 *   {@link RELEASE_DATASETS}; GT boxes scaled from the sizes the metadata states (image_sizes.txt,
 *   images_<split>_size.txt, …), not the decoded ones. The default for the paper's datasets.
 * - `wsoleval` — uol's general defaults (wsolevaluation-style): the backbone's own resize filter (bicubic for ViTs),
 *   the codec's resizer (sharp), ResNet stride 32 unless told, the dataset's test split with τ from its val split when
 *   it has one, GT boxes scaled from the decoded image size. The default for every other input (folders, CIFAR).
 */
import type { Interpolation } from './input-contract.js';
import { UsageError } from '../util/errors.js';
import type { Resizer } from './image-io.js';
import type { Dataset } from './datasets/types.js';

/** Protocol names (`--protocol`). */
export const PROTOCOL_NAMES = ['release', 'wsoleval'] as const;
/** A protocol name. */
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];

/** Dataset names of the release's `--dataset` / `--base_dataset` (main.py). */
export type ReleaseDataset = 'CUB' | 'IMAGENET' | 'OPENIMAGES' | 'CARS' | 'AIRCRAFT' | 'DOGS' | 'CIFAR10' | 'CIFAR100' | 'CIFAR100C';

/** ResNet output stride. */
export type Downscale = 8 | 16 | 32;

/** The release's defaults for one dataset (main.py, README, datasets/*.py, validation.py). */
export interface ReleaseDatasetDefaults {
  /** `--image_size` of the README's command (main.py's own default is 256). */
  imageSize: number;
  /** `--crop_size` of the README's command (main.py's own default is 224). */
  cropSize: number;
  /** `--resnet_downscale` of the README's command (main.py's own default is 16). */
  resnetDownscale: Downscale;
  /** The split the release reports (`resulttest.json`); Aircraft: `val` (datasetgetter.py `train='val'`). */
  evalSplit: string;
  /** Split that picks τ before `evalSplit` is read at it (`resultval.json`), or false: τ picked on `evalSplit` (oracle). */
  valSplit: string | false;
  /** Class count `nclass` of validation.py's class-wise fit; 0 where the release never sets it (`--classwise` crashes). */
  nclass: number;
  /** Where the release reads the image sizes that scale GT boxes. */
  sizesFrom: string;
}

/** One table of the release's per-dataset defaults. */
export const RELEASE_DATASETS: Readonly<Record<ReleaseDataset, ReleaseDatasetDefaults>> = Object.freeze({
  CUB: { imageSize: 480, cropSize: 448, resnetDownscale: 32, evalSplit: 'test', valSplit: 'val', nclass: 200, sizesFrom: 'metadata/CUB/<split>/image_sizes.txt' },
  IMAGENET: { imageSize: 256, cropSize: 224, resnetDownscale: 16, evalSplit: 'test', valSplit: 'val', nclass: 1000, sizesFrom: 'metadata/ILSVRC/<split>/image_sizes.txt' },
  OPENIMAGES: { imageSize: 256, cropSize: 224, resnetDownscale: 16, evalSplit: 'test', valSplit: false, nclass: 100, sizesFrom: 'metadata/OpenImages/<split>/image_sizes.txt' },
  CARS: { imageSize: 480, cropSize: 448, resnetDownscale: 32, evalSplit: 'test', valSplit: false, nclass: 0, sizesFrom: 'devkit/cars_<split>_size.txt' },
  AIRCRAFT: { imageSize: 480, cropSize: 448, resnetDownscale: 32, evalSplit: 'val', valSplit: false, nclass: 0, sizesFrom: 'data/images_<split>_size.txt' },
  DOGS: { imageSize: 480, cropSize: 448, resnetDownscale: 32, evalSplit: 'test', valSplit: false, nclass: 0, sizesFrom: 'Annotation XML <size>' },
  // Base sets of zero-shot transfer only: their stride follows the evaluation dataset (32 for the fine-grained sets).
  CIFAR10: { imageSize: 480, cropSize: 448, resnetDownscale: 32, evalSplit: 'test', valSplit: false, nclass: 10, sizesFrom: '32×32' },
  CIFAR100: { imageSize: 480, cropSize: 448, resnetDownscale: 32, evalSplit: 'test', valSplit: false, nclass: 100, sizesFrom: '32×32' },
  CIFAR100C: { imageSize: 480, cropSize: 448, resnetDownscale: 32, evalSplit: 'test', valSplit: false, nclass: 20, sizesFrom: '32×32' },
});

/** main.py's own defaults (`--image_size 256 --crop_size 224 --resnet_downscale 16`), used for inputs of no release dataset. */
export const RELEASE_MAIN_DEFAULTS = Object.freeze({ imageSize: 256, cropSize: 224, resnetDownscale: 16 as Downscale });

/** The release's fit input: `Resize((224, 224))`, whole image (validation.py). */
export const RELEASE_FIT_SIZE = 224;

/** Which release dataset an opened uol dataset is (undefined for folders and other inputs the release cannot read). */
export function releaseDatasetOf(ds: Pick<Dataset, 'format' | 'evalProtocol'> & { splits?: string[] }): ReleaseDataset | undefined {
  switch (ds.format) {
    case 'cub':
      return 'CUB';
    case 'wsol':
      // wsolevaluation layout: CUB ids ("001.Black_footed_Albatross/…") get 480/448 from the reader; ImageNet 256/224.
      return ds.evalProtocol.resize === 480 ? 'CUB' : 'IMAGENET';
    case 'cars':
      return 'CARS';
    case 'aircraft':
      return 'AIRCRAFT';
    case 'dogs':
      return 'DOGS';
    case 'cifar10':
      return 'CIFAR10';
    case 'cifar100':
      return 'CIFAR100';
    case 'cifar100c':
      return 'CIFAR100C';
    default:
      return undefined;
  }
}

/** Everything a command needs to know about how it reads images and picks τ. */
export interface RunProtocol {
  name: ProtocolName;
  /** The release dataset the input was recognised as, if any. */
  dataset?: ReleaseDataset;
  /** Fit input side (training images resized whole). */
  fitSize: number;
  /** Evaluation transform `Resize((resize, resize))` → `CenterCrop(crop)`. */
  eval: { resize: number; crop: number };
  /** Resize filter for every backbone, or undefined: the backbone's own (InputContract). */
  interpolation?: Interpolation;
  /** Resampler: `pil` (PIL-exact) or `codec` (sharp; ≈0.2 grey levels from PIL). */
  resizer: Resizer;
  /** ResNet stride, or undefined: the backbone's (predictor's) own. */
  downscale?: Downscale;
  /** Split evaluated and reported. */
  testSplit: string;
  /** Split that picks τ; false = oracle on `testSplit`; undefined = `val` when the dataset has one. */
  valSplit?: string | false;
  /** Scale GT boxes from the sizes the annotations state (`metadata`) or from the decoded image (`decoded`). */
  boxSizes: 'metadata' | 'decoded';
}

/** User overrides of a protocol (CLI flags). */
export interface ProtocolOverrides {
  /** `--image-size`: eval resize side. */
  imageSize?: number;
  /** `--crop-size`: eval crop side. */
  cropSize?: number;
  /** `--resnet-downscale` / `--downscale`. */
  downscale?: Downscale;
  /** `--split`. */
  split?: string;
  /** `--val-split`. */
  valSplit?: string;
  /** `--oracle`: τ on the test split. */
  oracle?: boolean;
}

/** The default protocol for an input: `release` for the paper's datasets, `wsoleval` otherwise. */
export function defaultProtocolName(ds: Parameters<typeof releaseDatasetOf>[0] | undefined): ProtocolName {
  return ds && releaseDatasetOf(ds) ? 'release' : 'wsoleval';
}

/** Parses `--protocol`. @throws UsageError for an unknown name. */
export function parseProtocolName(s: string): ProtocolName {
  if ((PROTOCOL_NAMES as readonly string[]).includes(s)) return s as ProtocolName;
  throw new UsageError(`\`protocol\` ${s}: expected one of ${PROTOCOL_NAMES.join(', ')}`, { options: ['protocol'] });
}

function checkSide(option: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new UsageError(`\`${option}\` ${String(v)}: expected a positive integer`, { options: [option] });
}

/**
 * Resolves a protocol for an input (evaluation dataset or fit input).
 * @param name `release` or `wsoleval`; undefined → {@link defaultProtocolName}.
 * @param ds the dataset (format, its eval sizes, splits); undefined for plain image lists.
 * @throws UsageError for a crop larger than the resize or non-positive sizes.
 */
export function resolveProtocol(name: ProtocolName | undefined, ds: (Parameters<typeof releaseDatasetOf>[0] & { splits?: string[] }) | undefined, o: ProtocolOverrides = {}): RunProtocol {
  checkSide('imageSize', o.imageSize);
  checkSide('cropSize', o.cropSize);
  const n = name ?? defaultProtocolName(ds);
  const rd = ds ? releaseDatasetOf(ds) : undefined;
  let p: RunProtocol;
  if (n === 'release') {
    const d = rd ? RELEASE_DATASETS[rd] : undefined;
    const base = d ?? { ...RELEASE_MAIN_DEFAULTS, evalSplit: 'test', valSplit: false as const };
    // The release's CUB is the wsolevaluation layout (val → test); the native layout has no val split: oracle on test.
    const valSplit = base.valSplit && ds?.splits && !ds.splits.includes(base.valSplit) ? false : base.valSplit;
    p = {
      name: n,
      fitSize: RELEASE_FIT_SIZE,
      eval: { resize: base.imageSize, crop: base.cropSize },
      interpolation: 'bilinear',
      resizer: 'pil',
      downscale: base.resnetDownscale,
      testSplit: base.evalSplit,
      valSplit,
      boxSizes: 'metadata',
    };
  } else {
    p = {
      name: n,
      fitSize: RELEASE_FIT_SIZE,
      eval: ds ? { ...ds.evalProtocol } : { resize: RELEASE_MAIN_DEFAULTS.imageSize, crop: RELEASE_MAIN_DEFAULTS.cropSize },
      resizer: 'codec',
      testSplit: 'test',
      boxSizes: 'decoded',
    };
  }
  if (rd) p.dataset = rd;
  if (o.imageSize !== undefined) p.eval.resize = o.imageSize;
  if (o.cropSize !== undefined) p.eval.crop = o.cropSize;
  if (p.eval.crop > p.eval.resize) throw new UsageError(`\`cropSize\` ${p.eval.crop} is larger than \`imageSize\` ${p.eval.resize}`, { options: ['cropSize', 'imageSize'] });
  if (o.downscale !== undefined) p.downscale = o.downscale;
  if (o.split !== undefined) p.testSplit = o.split;
  if (o.oracle) p.valSplit = false;
  else if (o.valSplit !== undefined) p.valSplit = o.valSplit;
  return p;
}

/** One line for reports and manifests, e.g. `release (CUB): Resize((480,480))→CenterCrop(448), bilinear, PIL, …`. */
export function describeRunProtocol(p: RunProtocol): string {
  const tau = p.valSplit === false ? `τ oracle on ${p.testSplit}` : `τ on ${p.valSplit ?? 'val (when present)'} → ${p.testSplit}`;
  return [
    `${p.name}${p.dataset ? ` (${p.dataset})` : ''}: fit Resize((${p.fitSize},${p.fitSize}))`,
    `eval Resize((${p.eval.resize},${p.eval.resize}))→CenterCrop(${p.eval.crop})`,
    `${p.interpolation ?? "backbone's"} filter`,
    p.resizer === 'pil' ? 'PIL-exact resampler' : 'codec resampler',
    `ResNet stride ${p.downscale ?? 'default'}`,
    tau,
    `GT boxes scaled from ${p.boxSizes === 'metadata' ? 'metadata sizes' : 'decoded sizes'}`,
  ].join(', ');
}

/** The protocol as a plain JSON object (manifests, results.json). */
export function protocolRecord(p: RunProtocol): Record<string, unknown> {
  return { ...p, eval: { ...p.eval }, description: describeRunProtocol(p) };
}

/** Rows of the release-defaults table (for `uol info` and docs). */
export function releaseDefaultsTable(): { dataset: ReleaseDataset; defaults: ReleaseDatasetDefaults }[] {
  return (Object.keys(RELEASE_DATASETS) as ReleaseDataset[]).map((k) => ({ dataset: k, defaults: RELEASE_DATASETS[k] }));
}
