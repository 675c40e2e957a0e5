/**
 * The authors' release (UOLwRPS @991b975, `main.py`): which checkpoint file each `--loc_network` loads, where the
 * backbone sits in it, and the module nesting it is loaded into with `load_state_dict(strict=False)`.
 *
 * One table ({@link RELEASE_NETWORKS}) in the order of main.py's `elif` chain, and the same resolution main.py performs
 * ({@link resolveReleaseNetwork}): the first branch whose substring occurs in the name (case-sensitive, Python `in`)
 * wins; inside a branch (DetCo, DINO) the first entry whose further substrings all occur wins; a branch with no
 * matching entry is main.py's "NOT IMPLEMENTED". Conversion with this table is `convertReleaseCheckpoint`
 * (src/backbones/convert.ts): it loads every tensor the release loads and reports every key the release's
 * `strict=False` silently ignored or left at random init.
 */
import { UsageError } from '../util/errors.js';

/** Where a release checkpoint can be had. */
export type ReleaseSource =
  | {
      kind: 'public';
      /** Download URL of exactly the file main.py loads (or of the file torch.hub / torchvision load for it). */
      url: string;
      /** Entry of converted-models/registry.json for the same file, when there is one. */
      registryName?: string;
      /** Published checksums (prefixes), where there are any. */
      md5Prefix?: string;
      sha256Prefix?: string;
      note?: string;
    }
  | {
      kind: 'authors';
      /** Why only the authors' download folder has it. */
      note: string;
    };

/** One `--loc_network` of the release. */
export interface ReleaseNetwork {
  /** Canonical name (what `uol convert --release NAME` takes; main.py accepts any name that resolves to it). */
  name: string;
  /** Substring of main.py's `elif '…' in args.loc_network` that opens this entry's branch. */
  branch: string;
  /** Further substrings tested inside the branch (all must occur); `[]` = the branch's `else`. */
  requires: string[];
  /** File name main.py loads (for superr50 / vgg / dinovit: the file torchvision / torch.hub load). */
  file: string;
  /** Path of dict keys from the saved object to the state dict (`[]` = the saved object itself). */
  container: string[];
  /**
   * Prefix the nesting adds to every module key: `chpt_loader.module.encoder_q = model` → `module.encoder_q.`;
   * `model.load_state_dict(…)` directly → `''`.
   */
  prefix: string;
  /** main.py's load, in words (for listings). */
  nesting: string;
  /** Architecture preset (ARCH_PRESETS) and the options main.py builds it with. */
  arch: 'resnet50' | 'vit_small' | 'vgg16_bn';
  /** Config of the release's module beyond the preset (`ccam`, ViT patch and its 224-pixel position grid). */
  archConfig: Record<string, unknown>;
  /** The part main.py appends to `model_name` (so `exp_info` holds `_N_<fragment>_<downscale>`). */
  modelName: string;
  /** Converted-model id `uol convert --release` writes by default. */
  uolId: string;
  source: ReleaseSource;
  /** What to know about this entry. */
  note: string;
}

const AUTHORS = (note: string): ReleaseSource => ({ kind: 'authors', note });

/** Every `--loc_network` main.py implements, in the order of its `elif` chain (main.py lines 113–209). */
export const RELEASE_NETWORKS: readonly ReleaseNetwork[] = [
  {
    name: 'mocov1',
    branch: 'mocov1',
    requires: [],
    file: 'moco_v1_200ep_pretrain.pth.tar',
    container: ['state_dict'],
    prefix: 'module.encoder_q.',
    nesting: "chpt_loader.module.encoder_q = model; chpt_loader.load_state_dict(ckpt['state_dict'], strict=False)",
    arch: 'resnet50',
    archConfig: {},
    modelName: 'MOCOv1',
    uolId: 'release_mocov1',
    source: { kind: 'public', url: 'https://dl.fbaipublicfiles.com/moco/moco_checkpoints/moco_v1_200ep/moco_v1_200ep_pretrain.pth.tar', registryName: 'moco_v1_200ep', md5Prefix: 'b251726a' },
    note: 'query encoder; encoder_k.*, queue and fc.* ignored by the release',
  },
  {
    name: 'mocov2',
    branch: 'mocov2',
    requires: [],
    file: 'moco_r50_v2-e3b0c442.pth',
    container: ['state_dict'],
    prefix: '',
    nesting: "model.load_state_dict(ckpt['state_dict'], strict=False)",
    arch: 'resnet50',
    archConfig: {},
    modelName: 'MOCOv2',
    uolId: 'release_mocov2',
    source: AUTHORS("OpenSelfSup's MoCo v2 (200 epochs, batch 256), hosted on Google Drive; not the MoCo repo's moco_v2_200ep/800ep files. 'e3b0c442' is the sha256 of empty input: it checks nothing"),
    note: 'extracted backbone, plain torchvision keys',
  },
  {
    name: 'mocov3',
    branch: 'mocov3',
    requires: [],
    file: 'linear-1000ep.pth.tar',
    container: ['state_dict'],
    prefix: 'module.',
    nesting: "chpt_loader.module = model; chpt_loader.load_state_dict(ckpt['state_dict'], strict=False)",
    arch: 'resnet50',
    archConfig: {},
    modelName: 'MOCOv3',
    uolId: 'release_mocov3',
    source: { kind: 'public', url: 'https://dl.fbaipublicfiles.com/moco-v3/r-50-1000ep/linear-1000ep.pth.tar', registryName: 'mocov3_r50_1000ep_linear', note: 'moco-v3 CONFIG.md, linear files of the 1000-epoch ResNet-50' },
    note: 'linear-probe checkpoint (frozen backbone = the pretrained base encoder); fc.* ignored',
  },
  {
    name: 'detcoAA',
    branch: 'detco',
    requires: ['AA'],
    file: 'detco_200ep_AA.pth',
    container: ['state_dict'],
    prefix: '',
    nesting: "model.load_state_dict(ckpt['state_dict'], strict=False)",
    arch: 'resnet50',
    archConfig: {},
    modelName: 'DETCO',
    uolId: 'release_detcoAA',
    source: AUTHORS('DetCo (Xie et al. 2021) ResNet-50, 200 epochs, the file named AA in the authors\' folder'),
    note: "label inverted in the release: a name with 'AA' loads detco_200ep_AA.pth but prints DETCO (no AA)",
  },
  {
    name: 'detco',
    branch: 'detco',
    requires: [],
    file: 'detco_200ep.pth',
    container: ['state_dict'],
    prefix: '',
    nesting: "model.load_state_dict(ckpt['state_dict'], strict=False)",
    arch: 'resnet50',
    archConfig: {},
    modelName: 'DETCOAA',
    uolId: 'release_detco',
    source: AUTHORS('DetCo (Xie et al. 2021) ResNet-50, 200 epochs, the file without AA in the authors\' folder'),
    note: "label inverted in the release: a name without 'AA' loads detco_200ep.pth but prints DETCOAA",
  },
  {
    name: 'dinor50',
    branch: 'dino',
    requires: ['r'],
    file: 'dino_resnet50_pretrain.pth',
    container: [],
    prefix: '',
    nesting: 'model.load_state_dict(ckpt, strict=False)',
    arch: 'resnet50',
    archConfig: {},
    modelName: 'DiNORES',
    uolId: 'release_dinor50',
    source: { kind: 'public', url: 'https://dl.fbaipublicfiles.com/dino/dino_resnet50_pretrain/dino_resnet50_pretrain.pth', registryName: 'dino_resnet50', note: 'DINO hubconf' },
    note: "any name with 'dino' and an 'r' (checked before 'v': 'dinovitr' is the ResNet)",
  },
  {
    name: 'dinovit',
    branch: 'dino',
    requires: ['v'],
    file: 'dino_deitsmall8_pretrain.pth',
    container: [],
    prefix: '',
    nesting: "model.load_state_dict(torch.hub.load('facebookresearch/dino:main', 'dino_vits8').state_dict(), strict=False)",
    arch: 'vit_small',
    archConfig: { patch: 8, posGrid: 28 },
    modelName: 'DiNOVIT',
    uolId: 'release_dinovit',
    source: { kind: 'public', url: 'https://dl.fbaipublicfiles.com/dino/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth', registryName: 'dino_vits8', note: "the file DINO's hubconf dino_vits8 loads" },
    note: "ViT-S/8; any name with 'dino', a 'v' and no 'r' (so 'dinov2' is DINO v1 ViT-S/8)",
  },
  {
    name: 'densecl',
    branch: 'densecl',
    requires: [],
    file: 'densecl_r50_imagenet_200ep.pth',
    container: ['state_dict'],
    prefix: '',
    nesting: "model.load_state_dict(ckpt['state_dict'], strict=False)",
    arch: 'resnet50',
    archConfig: {},
    modelName: 'DenseCL50',
    uolId: 'release_densecl',
    source: AUTHORS("the official DenseCL release file ({state_dict, author}, plain keys); the registry's densecl_r50_200ep is an mmselfsup retraining, not this file"),
    note: 'extracted backbone, plain torchvision keys',
  },
  {
    name: 'byol',
    branch: 'byol',
    requires: [],
    file: 'byol.pth.tar',
    container: [],
    prefix: '',
    nesting: 'model.load_state_dict(ckpt, strict=False)',
    arch: 'resnet50',
    archConfig: {},
    modelName: 'BYOL',
    uolId: 'release_byol',
    source: AUTHORS('a flat state dict of unknown origin'),
    note: 'raw state dict at the root',
  },
  {
    name: 'superr50',
    branch: 'superr50',
    requires: [],
    file: 'resnet50-19c8e357.pth',
    container: [],
    prefix: '',
    nesting: "resnet50(True): model.load_state_dict(load_state_dict_from_url(model_urls['resnet50']), False)",
    arch: 'resnet50',
    archConfig: {},
    modelName: 'R50',
    uolId: 'release_superr50',
    source: { kind: 'public', url: 'https://download.pytorch.org/models/resnet50-19c8e357.pth', registryName: 'torchvision_resnet50', sha256Prefix: '19c8e357' },
    note: 'supervised torchvision ResNet-50 (the release model_urls); fc.* ignored',
  },
  {
    name: 'vgg',
    branch: 'vgg',
    requires: [],
    file: 'vgg16_bn-6c64b313.pth',
    container: [],
    prefix: '',
    nesting: "vggcamtf(): model.features = make_layers(cfg['vggcam16'], batch_norm=True); model.load_state_dict(vgg16_bn(pretrained=True).state_dict(), False)",
    arch: 'vgg16_bn',
    archConfig: {},
    modelName: 'VGG',
    uolId: 'release_vgg',
    source: { kind: 'public', url: 'https://download.pytorch.org/models/vgg16_bn-6c64b313.pth', registryName: 'torchvision_vgg16_bn', sha256Prefix: '6c64b313' },
    note: 'supervised torchvision VGG16-BN, localization variant (last two pools 3×3/1); classifier.* ignored',
  },
  {
    name: 'simsiam',
    branch: 'simsiam',
    requires: [],
    file: 'simsiam256.pth.tar',
    container: ['state_dict'],
    prefix: 'module.encoder.',
    nesting: "chpt_loader.module.encoder = model; chpt_loader.load_state_dict(ckpt['state_dict'], strict=False)",
    arch: 'resnet50',
    archConfig: {},
    modelName: 'SimSiam',
    uolId: 'release_simsiam',
    source: { kind: 'public', url: 'https://dl.fbaipublicfiles.com/simsiam/models/100ep-256bs/pretrain/checkpoint_0099.pth.tar', registryName: 'simsiam_r50_100ep_bs256', note: 'probably this file: only the name simsiam256 points to the batch-256 run' },
    note: 'encoder; projector fc.* and predictor ignored',
  },
  {
    name: 'supcon',
    branch: 'supcon',
    requires: [],
    file: 'supcon.pth',
    container: ['model'],
    prefix: 'module.encoder.',
    nesting: "chpt_loader.module.encoder = model; chpt_loader.load_state_dict(ckpt['model'], strict=False)",
    arch: 'resnet50',
    archConfig: {},
    modelName: 'SupCon',
    uolId: 'release_supcon',
    source: AUTHORS('a file of unknown origin'),
    note: 'container key "model"; head.* ignored',
  },
  {
    name: 'ccam',
    branch: 'ccam',
    requires: [],
    file: 'current_epoch_5.pth',
    container: ['state_dict'],
    prefix: 'backbone.',
    nesting: "model = resnet50(ccam=True); chpt_loader.backbone = model; chpt_loader.load_state_dict(ckpt['state_dict'], strict=False)",
    arch: 'resnet50',
    archConfig: { ccam: true },
    modelName: 'CCAM',
    uolId: 'release_ccam',
    source: AUTHORS('a CCAM (Xie et al. 2022) training checkpoint (epoch 5, by its name)'),
    note: 'feature = layer3 ‖ layer4 (3072 channels): downscale 16 or 8 only',
  },
  {
    name: 'daol',
    branch: 'daol',
    requires: [],
    file: 'dawsol_ilsvrc_res.tar',
    container: ['state_dict_extractor'],
    prefix: '',
    nesting: "model.load_state_dict(ckpt['state_dict_extractor'], strict=False)",
    arch: 'resnet50',
    archConfig: {},
    modelName: 'DAOL',
    uolId: 'release_daol',
    source: AUTHORS('a DA-WSOL (Zhu et al. 2022) ILSVRC ResNet-50 checkpoint'),
    note: 'container key "state_dict_extractor"',
  },
];

/** Every release network, in main.py's order. */
export function listReleaseNetworks(): readonly ReleaseNetwork[] {
  return RELEASE_NETWORKS;
}

/**
 * The table entry with canonical name `name` (exact; see {@link resolveReleaseNetwork} for main.py's matching).
 * @throws UsageError naming the known names.
 */
export function releaseNetwork(name: string): ReleaseNetwork {
  const n = RELEASE_NETWORKS.find((r) => r.name === name);
  if (!n) throw new UsageError(`unknown release network "${name}"; known: ${RELEASE_NETWORKS.map((r) => r.name).join(', ')}`);
  return n;
}

/**
 * What main.py does with `--loc_network locNetwork`: the first branch (in the elif order) whose substring occurs in
 * the name, then the first entry of that branch whose further substrings all occur. Case-sensitive like Python's `in`
 * ('detcoaa' is DetCo without AA; 'MOCOv1' matches nothing).
 * @returns the entry, or undefined where main.py prints "NOT IMPLEMENTED" (no branch, or e.g. 'dino' with neither
 *   'r' nor 'v').
 */
export function resolveReleaseNetwork(locNetwork: string): ReleaseNetwork | undefined {
  const branch = RELEASE_NETWORKS.find((r) => locNetwork.includes(r.branch))?.branch;
  if (branch === undefined) return undefined;
  return RELEASE_NETWORKS.find((r) => r.branch === branch && r.requires.every((s) => locNetwork.includes(s)));
}

/**
 * A canonical name (`detcoAA`), else whatever main.py makes of `name` as `--loc_network` (`detco_AA_run`).
 * @throws UsageError when neither names a network (main.py would print NOT IMPLEMENTED).
 */
export function releaseByName(name: string): ReleaseNetwork {
  const n = RELEASE_NETWORKS.find((r) => r.name === name) ?? resolveReleaseNetwork(name);
  if (!n) throw new UsageError(`release network "${name}": not one of ${RELEASE_NETWORKS.map((r) => r.name).join(', ')}, and main.py resolves no network for it (it prints NOT IMPLEMENTED)`);
  return n;
}

/** The parts of main.py's `exp_info` (its result directory name, before the timestamp). */
export interface ReleaseExpInfoOptions {
  /** `--dataset`, e.g. `CUB`, `IMAGENET`. */
  dataset: string;
  /** `--base_dataset` (default: the dataset). */
  baseDataset?: string;
  /** `--cls_network` (default `N`). */
  clsNetwork?: string;
  /** `--resnet_downscale` (default 16). */
  downscale?: number;
  /** `--sampling_ratio` in (0, 1] (default 1). */
  samplingRatio?: number;
  /** `--classwise`. */
  classwise?: boolean;
}

/** main.py's classifier part of `model_name`, in its elif order: substring of `--cls_network` (lower-cased) → part. */
const CLS_PARTS: readonly [string, string][] = [
  ['res', 'R50'],
  ['efficient', 'E7'],
  ['vit', ''],
];

/**
 * main.py's `exp_info` without its `_%m-%d_%H-%M-%S` timestamp, e.g. `CUB_N_MOCOv1_32`: dataset, `_base` when it
 * differs, `_<cls>` (`N`, `R50`, `E7`; the ViT classifier adds nothing), `_<modelName>`, `_<downscale>`,
 * `_<ratio>` below 1, `_class`.
 * @throws UsageError for a name main.py does not implement.
 */
export function releaseExpInfo(locNetwork: string, o: ReleaseExpInfoOptions): string {
  const net = resolveReleaseNetwork(locNetwork);
  if (!net) throw new UsageError(`--loc_network "${locNetwork}": the release's main.py implements no network for this name (it prints NOT IMPLEMENTED)`);
  const cls = o.clsNetwork ?? 'N';
  // 'N' is itself; a classifier main.py knows gives its part (the ViT none); any other name is appended as given.
  const clsPart = cls === 'N' ? 'N' : (CLS_PARTS.find(([k]) => cls.toLowerCase().includes(k))?.[1] ?? cls);
  const base = o.baseDataset ?? o.dataset;
  let s = `${o.dataset}${base !== o.dataset ? `_${base}` : ''}_${clsPart}_${net.modelName}_${o.downscale ?? 16}`;
  const ratio = o.samplingRatio ?? 1;
  if (ratio < 1) s += `_${String(ratio)}`; // Python's str(float) and JS agree: shortest round-trip digits
  if (o.classwise) s += '_class';
  return s;
}
