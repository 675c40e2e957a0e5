/**
 * The experiments the authors' release (yeonghwansong/UOLwRPS, main.py) can run, as a registry: evaluation dataset ×
 * `--loc_network` × options (`--resnet_downscale`, `--classwise`, `--caam`, `--sampling_ratio`, `--base_dataset`), each
 * with the exact `python main.py …` command it corresponds to and whether the release's code actually runs it.
 *
 * Names: `<dataset>-<network>[-ds<8|16|32>][-classwise][-caam][-sr<ratio>][-base-<set>]`, lower case, e.g.
 * `cub-mocov1`, `cub-mocov1-ds16`, `aircraft-vgg-caam`, `cub-dinovit-sr0.5`, `cub-dinovit-base-cifar10`. The
 * stride suffix is only for ResNet networks and only when it differs from the dataset's README default.
 */
import { UsageError } from '../util/errors.js';
import { RELEASE_DATASETS, type Downscale, type ReleaseDataset } from '../data/protocol.js';

/** Evaluation datasets of the release (main.py `--dataset`, plus the README's CUBSEG and OPENIMAGES). */
export type ReleaseEvalDataset = 'CUB' | 'IMAGENET' | 'CARS' | 'DOGS' | 'AIRCRAFT' | 'CUBSEG' | 'OPENIMAGES';

/** A `--loc_network` of main.py: the checkpoint it loads and its architecture. */
export interface ReleaseNetwork {
  /** main.py's `--loc_network` value. */
  name: string;
  arch: 'resnet50' | 'vit_small' | 'vgg16_bn';
  /** What main.py loads (file in its working directory, or torch.hub). */
  loads: string;
}

/** Every `--loc_network` main.py knows (main.py:112-209), in its order. */
export const RELEASE_NETWORKS: readonly ReleaseNetwork[] = [
  { name: 'mocov1', arch: 'resnet50', loads: "moco_v1_200ep_pretrain.pth.tar ['state_dict'], module.encoder_q.*" },
  { name: 'mocov2', arch: 'resnet50', loads: "moco_r50_v2-e3b0c442.pth ['state_dict'] (OpenSelfSup)" },
  { name: 'mocov3', arch: 'resnet50', loads: "linear-1000ep.pth.tar ['state_dict'], module.*" },
  { name: 'detco', arch: 'resnet50', loads: "detco_200ep.pth ['state_dict'] (named DETCOAA by main.py)" },
  { name: 'detcoAA', arch: 'resnet50', loads: "detco_200ep_AA.pth ['state_dict'] (named DETCO by main.py)" },
  { name: 'dinor50', arch: 'resnet50', loads: 'dino_resnet50_pretrain.pth' },
  { name: 'dinovit', arch: 'vit_small', loads: "torch.hub dino_vits8 (= dino_deitsmall8_pretrain.pth)" },
  { name: 'densecl', arch: 'resnet50', loads: "densecl_r50_imagenet_200ep.pth ['state_dict']" },
  { name: 'byol', arch: 'resnet50', loads: 'byol.pth.tar (flat dict)' },
  { name: 'superr50', arch: 'resnet50', loads: 'torchvision resnet50(pretrained=True) (resnet50-19c8e357.pth)' },
  { name: 'vgg', arch: 'vgg16_bn', loads: 'torchvision vgg16_bn (vgg16_bn-6c64b313.pth), features.*' },
  { name: 'simsiam', arch: 'resnet50', loads: "simsiam256.pth.tar ['state_dict'], module.encoder.*" },
  { name: 'supcon', arch: 'resnet50', loads: "supcon.pth ['model'], module.encoder.*" },
  { name: 'ccam', arch: 'resnet50', loads: "current_epoch_5.pth ['state_dict'], backbone.* (layer3‖layer4 features)" },
  { name: 'daol', arch: 'resnet50', loads: "dawsol_ilsvrc_res.tar ['state_dict_extractor']" },
];

/** Base datasets for zero-shot transfer (`--base_dataset`). */
export const RELEASE_BASE_SETS: readonly ReleaseDataset[] = ['CIFAR10', 'CIFAR100', 'CIFAR100C', 'CUB', 'IMAGENET', 'CARS', 'DOGS', 'AIRCRAFT'];

/** One experiment. */
export interface ReleaseExperiment {
  name: string;
  dataset: ReleaseEvalDataset;
  network: ReleaseNetwork;
  imageSize: number;
  cropSize: number;
  resnetDownscale: Downscale;
  classwise: boolean;
  caam: boolean;
  samplingRatio: number;
  /** Fit set for zero-shot transfer (undefined: the evaluation dataset). */
  baseDataset?: ReleaseDataset;
  /** The exact command in the release's repository (`YOUR_DATAROOT` = `--data-dir`). */
  mainPy: string;
  /** Files the release writes in results/<exp>/. */
  releaseFiles: string[];
  /** Why the release's code as published cannot run it (undefined when it runs). */
  releaseCrashes?: string;
  /** Why uol cannot run it yet (undefined when it can). */
  uolMissing?: string;
}

const EVAL_DATASETS: readonly ReleaseEvalDataset[] = ['CUB', 'IMAGENET', 'CARS', 'DOGS', 'AIRCRAFT', 'CUBSEG', 'OPENIMAGES'];

function defaultsOf(d: ReleaseEvalDataset): { imageSize: number; cropSize: number; resnetDownscale: Downscale } {
  const k: ReleaseDataset = d === 'CUBSEG' ? 'CUB' : d;
  const t = RELEASE_DATASETS[k];
  return { imageSize: t.imageSize, cropSize: t.cropSize, resnetDownscale: t.resnetDownscale };
}

/** Builds an experiment (validates the combination). @throws UsageError naming what is wrong. */
export function makeExperiment(o: { dataset: ReleaseEvalDataset; network: string; resnetDownscale?: Downscale; classwise?: boolean; caam?: boolean; samplingRatio?: number; baseDataset?: ReleaseDataset }): ReleaseExperiment {
  const network = RELEASE_NETWORKS.find((n) => n.name.toLowerCase() === o.network.toLowerCase());
  if (!network) throw new UsageError(`network "${o.network}": not a --loc_network of the release (${RELEASE_NETWORKS.map((n) => n.name).join(', ')})`);
  const d = defaultsOf(o.dataset);
  const ds = o.resnetDownscale ?? d.resnetDownscale;
  if (o.resnetDownscale !== undefined && network.arch !== 'resnet50') throw new UsageError(`-ds${o.resnetDownscale}: ${network.name} is not a ResNet (the stride applies to ResNet networks only)`);
  const sr = o.samplingRatio ?? 1;
  if (!(sr > 0 && sr <= 1)) throw new UsageError(`-sr${sr}: the sampling ratio must be in (0, 1]`);
  const base = o.baseDataset && o.baseDataset !== (o.dataset === 'CUBSEG' ? 'CUB' : o.dataset) ? o.baseDataset : undefined;
  const parts = [o.dataset.toLowerCase(), network.name.toLowerCase()];
  if (ds !== d.resnetDownscale && network.arch === 'resnet50') parts.push(`ds${ds}`);
  if (o.classwise) parts.push('classwise');
  if (o.caam) parts.push('caam');
  if (sr < 1) parts.push(`sr${sr}`);
  if (base) parts.push(`base-${base.toLowerCase()}`);
  const fine = d.imageSize === 480;
  const args = [`python main.py --dataset ${o.dataset} --loc_network ${network.name} --data_dir YOUR_DATAROOT`];
  if (fine) args.push('--image_size 480 --crop_size 448');
  if (fine || ds !== 16) args.push(`--resnet_downscale ${ds}`);
  if (o.classwise) args.push('--classwise');
  if (o.caam) args.push('--caam');
  if (sr < 1) args.push(`--sampling_ratio ${sr}`);
  if (base) args.push(`--base_dataset ${base}`);
  const crashes: string[] = [];
  if (o.dataset === 'CUBSEG' || o.dataset === 'OPENIMAGES') crashes.push(`--dataset ${o.dataset} is not among main.py's choices (main.py:20-21)`);
  if (o.dataset === 'CUBSEG') crashes.push('CUBwithSEG joins str / str (cub200.py:123) and segmentation() calls W.shape on an int (validation.py:260)');
  if (o.dataset === 'OPENIMAGES') crashes.push('openimages.py reads args.mba, which main.py never defines (openimages.py:42)');
  const fitSet: ReleaseDataset = base ?? (o.dataset === 'CUBSEG' ? 'CUB' : o.dataset);
  if (o.classwise && RELEASE_DATASETS[fitSet].nclass === 0) crashes.push(`--classwise on ${fitSet}: validation.py never sets nclass for it (division by zero / empty parameter table)`);
  if (o.classwise && base) crashes.push(`--classwise with --base_dataset ${base}: the class-wise w* are indexed by the evaluation set's labels, which are other classes`);
  if (fitSet.startsWith('CIFAR')) crashes.push('CIFAR base sets: cifar.py reads the python pickles from the hard-coded /data1/cifar/ (edit it, or place them there)');
  const missing: string[] = [];
  if (network.name === 'ccam' || network.name === 'daol' || network.name === 'mocov3') missing.push(`the ${network.name} checkpoint layout (${network.loads}) needs \`uol convert --release ${network.name}\``);
  return {
    name: parts.join('-'),
    dataset: o.dataset,
    network,
    imageSize: d.imageSize,
    cropSize: d.cropSize,
    resnetDownscale: ds,
    classwise: !!o.classwise,
    caam: !!o.caam,
    samplingRatio: sr,
    ...(base ? { baseDataset: base } : {}),
    mainPy: args.join(' '),
    releaseFiles: o.dataset === 'CUB' || o.dataset === 'IMAGENET' ? ['resultval.json', 'resulttest.json'] : ['resulttest.json'],
    ...(crashes.length ? { releaseCrashes: crashes.join('; ') } : {}),
    ...(missing.length ? { uolMissing: missing.join('; ') } : {}),
  };
}

/**
 * Parses an experiment name (see module doc). @throws UsageError for an unknown dataset, network or suffix.
 */
export function parseExperimentName(name: string): ReleaseExperiment {
  const toks = name.toLowerCase().split('-');
  const dataset = EVAL_DATASETS.find((d) => d.toLowerCase() === toks[0]);
  if (!dataset) throw new UsageError(`experiment "${name}": unknown dataset "${toks[0]}" (${EVAL_DATASETS.map((d) => d.toLowerCase()).join(', ')}); see \`uol reproduce --list\``);
  const o: Parameters<typeof makeExperiment>[0] = { dataset, network: toks[1] ?? '' };
  for (let i = 2; i < toks.length; i++) {
    const t = toks[i]!;
    let m: RegExpExecArray | null;
    if ((m = /^ds(8|16|32)$/.exec(t))) o.resnetDownscale = Number(m[1]) as Downscale;
    else if (t === 'classwise') o.classwise = true;
    else if (t === 'caam') o.caam = true;
    else if ((m = /^sr(\d*\.?\d+)$/.exec(t))) o.samplingRatio = Number(m[1]);
    else if (t === 'base' && toks[i + 1]) {
      const b = RELEASE_BASE_SETS.find((s) => s.toLowerCase() === toks[i + 1]);
      if (!b) throw new UsageError(`experiment "${name}": unknown base dataset "${toks[i + 1]}" (${RELEASE_BASE_SETS.map((s) => s.toLowerCase()).join(', ')})`);
      o.baseDataset = b;
      i++;
    } else throw new UsageError(`experiment "${name}": unknown part "${t}" (expected ds8|ds16|ds32, classwise, caam, sr<ratio>, base-<set>)`);
  }
  const e = makeExperiment(o);
  if (e.name !== name.toLowerCase()) throw new UsageError(`experiment "${name}": write it as "${e.name}" (canonical order, default stride omitted)`);
  return e;
}

/**
 * Every experiment of the registry: each dataset × network with no option, `-classwise`, `-caam`, `-sr0.1`, each
 * CIFAR base set, and for ResNet networks the two non-default strides.
 */
export function listExperiments(): ReleaseExperiment[] {
  const out: ReleaseExperiment[] = [];
  for (const dataset of EVAL_DATASETS) {
    const d = defaultsOf(dataset);
    for (const n of RELEASE_NETWORKS) {
      const base = { dataset, network: n.name };
      out.push(makeExperiment(base));
      if (n.arch === 'resnet50') for (const ds of [8, 16, 32] as const) if (ds !== d.resnetDownscale) out.push(makeExperiment({ ...base, resnetDownscale: ds }));
      out.push(makeExperiment({ ...base, classwise: true }), makeExperiment({ ...base, caam: true }), makeExperiment({ ...base, samplingRatio: 0.1 }));
      for (const b of ['CIFAR10', 'CIFAR100', 'CIFAR100C'] as const) out.push(makeExperiment({ ...base, baseDataset: b }));
    }
  }
  return out;
}
