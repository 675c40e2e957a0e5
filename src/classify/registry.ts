/**
 * The classifier registry: the networks the authors' release uses for Top-1 / Top-5 Loc (`main.py --cls_network`),
 * where their weights sit inside each checkpoint, and how they are built and converted.
 *
 * | name | release | trunk | head | checkpoint layout |
 * |---|---|---|---|---|
 * | `torchvision_resnet50` | `ResNet50` on ImageNet: `torchvision.models.resnet50(pretrained=True)` | ResNet-50 | avgpool → fc 2048→1000 | flat torchvision state dict (`conv1.weight`, …, `fc.weight`) |
 * | `cub_resnet50` | `ResNet50` on CUB: `models/cubresnet.py` + `model_best.pth.tar` | ResNet-50 | avgpool → fc 2048→200 | `module.base_model.*` (DataParallel-wrapped `base_model`) |
 * | `dino_vits8_linear` | `ViT`: `models/vit_classifier.py` `vit_small(8)` + DINO weights + `dino_deitsmall8_linearweights.pth` | DINO ViT-S/8 | CLS of the last 4 blocks → linear 1536→1000 | two files: the DINO backbone (flat ViT keys), and the linear head (`state_dict` → `module.linear.*`) |
 *
 * EfficientNet-B7 (`EfficientNetB7`) has no port here: give its class scores with `--predictions`.
 *
 * Checkpoints are parsed, never executed (src/weights), and checked strictly: a missing, unexpected or mis-shaped
 * tensor is an error naming the file and key.
 */
import * as path from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { inFile, UsageError } from '../util/errors.js';
import { sha256File } from '../util/fs.js';
import { TOOL } from '../version.js';
import { openCheckpoint, type Checkpoint } from '../weights/checkpoint.js';
import { applyKeyMap, describeRoot } from '../weights/keymaps.js';
import { readFloat32, type TensorRef } from '../weights/tensor-ref.js';
import { readConvertedModel, writeConvertedModel, type NamedArray, type ConvertedModelJson } from '../weights/tfjs-format.js';
import { prepareWeights, torchToTfLayout, type SourceTensor } from '../backbones/node/convert.js';
import { FAMILIES, IMAGENET_MEAN, IMAGENET_STD } from '../backbones/archs.js';
import type { WeightArray, WeightMap } from '../backbones/ops.js';
import type { AttentionMode, VitConfig } from '../backbones/vit.js';
import { VisionTransformer } from '../backbones/vit.js';
import { engineInfo } from '../engine/backend.js';
import type { Classifier, ClassifierDataset, ClassifierIdentity } from './types.js';
import { DinoLinearClassifier, ResNetClassifier, type LinearHead } from './models.js';
import { CLASSIFIER_NAMES } from './names.js';

/** One checkpoint file of a classifier: where its tensors sit and what they hold. */
export interface ClassifierFileSpec {
  /** What the file is (for messages), e.g. `checkpoint`, `backbone`, `linear head`. */
  role: string;
  /** Where the tensors may sit, tried in order: container path from the root and key prefix (stripped). */
  sources: { container: string[]; prefix: string }[];
  /** The file holds the trunk (every key outside `headPrefix` must be a trunk tensor). */
  trunk: boolean;
  /** Prefix (after stripping) of the head's `weight` and `bias`; absent when the file has no head. */
  headPrefix?: string;
  /** Keys dropped before the strict check (BN step counters). */
  ignore?: RegExp[];
}

/** A registered classifier. */
export interface ClassifierSpec {
  name: string;
  description: string;
  /** Trunk architecture preset (src/backbones/archs.ts). */
  arch: 'resnet50' | 'vit_small';
  /** ViT patch size (checked against the checkpoint). */
  patch?: number;
  numClasses: number;
  classSpace: ClassifierDataset;
  head: { kind: 'avgpool-fc' } | { kind: 'dino-linear'; nLastBlocks: number };
  /** Checkpoint files, in the order `--cls-weights` lists them. */
  files: ClassifierFileSpec[];
  /** The release's `--cls_network` value and dataset(s) this entry stands for. */
  release: string;
}

const BN_STEPS = [/\.num_batches_tracked$/];

/** The registry. */
export const CLASSIFIERS: Readonly<Record<string, ClassifierSpec>> = {
  torchvision_resnet50: {
    name: 'torchvision_resnet50',
    description: 'torchvision ResNet-50 (ImageNet-1k, IMAGENET1K_V1 "pretrained=True"): avgpool → fc 2048→1000',
    arch: 'resnet50',
    numClasses: 1000,
    classSpace: 'imagenet',
    head: { kind: 'avgpool-fc' },
    files: [
      {
        role: 'checkpoint',
        sources: [
          { container: [], prefix: '' },
          { container: ['state_dict'], prefix: 'module.' },
          { container: ['state_dict'], prefix: '' },
        ],
        trunk: true,
        headPrefix: 'fc.',
        ignore: BN_STEPS,
      },
    ],
    release: '--cls_network ResNet50 on IMAGENET (and every dataset but CUB)',
  },
  cub_resnet50: {
    name: 'cub_resnet50',
    description: "the release's models/cubresnet.py: torchvision ResNet-50 with a 200-class fc, CUB-200 classes (model_best.pth.tar)",
    arch: 'resnet50',
    numClasses: 200,
    classSpace: 'cub',
    head: { kind: 'avgpool-fc' },
    files: [
      {
        role: 'checkpoint',
        sources: [
          { container: [], prefix: 'module.base_model.' },
          { container: ['state_dict'], prefix: 'module.base_model.' },
          { container: [], prefix: 'base_model.' },
        ],
        trunk: true,
        headPrefix: 'fc.',
        ignore: BN_STEPS,
      },
    ],
    release: '--cls_network ResNet50 on CUB',
  },
  dino_vits8_linear: {
    name: 'dino_vits8_linear',
    description: "DINO ViT-S/8 + DINO's linear head (dino_deitsmall8_linearweights.pth): CLS of the last 4 blocks → linear 1536→1000",
    arch: 'vit_small',
    patch: 8,
    numClasses: 1000,
    classSpace: 'imagenet',
    head: { kind: 'dino-linear', nLastBlocks: 4 },
    files: [
      {
        role: 'backbone (dino_deitsmall8_pretrain.pth)',
        sources: [
          { container: [], prefix: '' },
          { container: ['teacher'], prefix: 'backbone.' },
        ],
        trunk: true,
      },
      {
        role: 'linear head (dino_deitsmall8_linearweights.pth)',
        sources: [
          { container: ['state_dict'], prefix: 'module.linear.' },
          { container: [], prefix: 'module.linear.' },
          { container: ['state_dict'], prefix: 'linear.' },
          { container: [], prefix: 'linear.' },
        ],
        trunk: false,
        headPrefix: '',
      },
    ],
    release: '--cls_network ViT (every dataset)',
  },
};

/** Names accepted by `--cls-network` (declared in classify/names.ts, which must list exactly these entries). */
export { CLASSIFIER_NAMES };
if (Object.keys(CLASSIFIERS).join() !== CLASSIFIER_NAMES.join()) {
  throw new Error(`classify/names.ts lists ${CLASSIFIER_NAMES.join(', ')} but the registry has ${Object.keys(CLASSIFIERS).join(', ')}`);
}

/**
 * The release's `--cls_network` value → registry name for a dataset (`ResNet50` is the CUB network on CUB, torchvision's
 * ResNet-50 elsewhere); registry names pass through.
 * @throws UsageError for EfficientNetB7 (use --predictions) or an unknown name.
 */
export function resolveClassifierName(name: string, dataset: ClassifierDataset): string {
  if (CLASSIFIERS[name]) return name;
  const n = name.toLowerCase();
  if (n === 'resnet50') return dataset === 'cub' ? 'cub_resnet50' : 'torchvision_resnet50';
  if (n === 'vit') return 'dino_vits8_linear';
  if (n.startsWith('efficientnet')) throw new UsageError(`--cls-network ${name}: EfficientNet is not ported; run it in PyTorch and give its class scores with --predictions CSV (image_id,score_0,…)`);
  throw new UsageError(`--cls-network ${name}: unknown classifier; known: ${CLASSIFIER_NAMES.join(', ')} (or the release's ResNet50, ViT)`);
}

/** The spec of a registered classifier. @throws UsageError listing the known names. */
export function classifierSpec(name: string): ClassifierSpec {
  const s = CLASSIFIERS[name];
  if (!s) throw new UsageError(`unknown classifier "${name}"; known: ${CLASSIFIER_NAMES.join(', ')}`);
  return s;
}

/** Options of {@link loadClassifier} and {@link convertClassifier}. */
export interface LoadClassifierOptions {
  /** Trunk config overrides (smaller test models; see `--arch-config` of `uol convert`). */
  archConfig?: Record<string, unknown>;
  /** Expected number of classes (default the registry's). */
  numClasses?: number;
  /** ViT attention implementation (default: by backend). */
  attention?: AttentionMode;
}

/** Weights read from checkpoints or a converted folder, in TF layout. */
interface ClassifierWeights {
  spec: ClassifierSpec;
  family: string;
  config: Record<string, unknown>;
  trunk: NamedArray[];
  head: LinearHead;
  sha256: string;
}

function headDim(spec: ClassifierSpec, family: string, config: Record<string, unknown>): number {
  if (spec.head.kind === 'dino-linear') return (config as unknown as VitConfig).embedDim * spec.head.nLastBlocks;
  if (family !== 'resnet') throw new Error(`${spec.name}: avgpool-fc head needs a ResNet trunk`);
  return (config.width as number) * 8 * 4;
}

function src(t: TensorRef): SourceTensor {
  return { shape: t.shape, dtype: t.dtype, read: () => readFloat32(t) };
}

/** Reads and strictly checks a classifier's checkpoint files. */
async function readCheckpoints(spec: ClassifierSpec, files: string[], opts: LoadClassifierOptions): Promise<ClassifierWeights> {
  if (files.length !== spec.files.length) {
    throw new UsageError(`${spec.name} needs ${spec.files.length} weight file${spec.files.length > 1 ? 's' : ''} (${spec.files.map((f) => f.role).join(', ')}), got ${files.length}: ${files.join(', ')}`);
  }
  const K = opts.numClasses ?? spec.numClasses;
  const opened: Checkpoint[] = [];
  try {
    const trunkTensors = new Map<string, SourceTensor>();
    let trunkWhere = '';
    let trunkSel = { keyMap: '', prefix: '' };
    const head: Partial<Record<'weight' | 'bias', { t: TensorRef; where: string; key: string }>> = {};
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!;
      const fs = spec.files[i]!;
      if (!existsSync(file)) throw new UsageError(`${file}: ${spec.name} ${fs.role} not found`);
      const ck = await openCheckpoint(file);
      opened.push(ck);
      const sel = applyKeyMap(ck.root, { name: `${spec.name}:${fs.role}`, description: fs.role, sources: fs.sources, drop: fs.ignore ?? [] });
      if (!sel) {
        const where = fs.sources.map((s) => `${s.container.length ? s.container.join('.') + ' → ' : ''}${s.prefix || '(any key)'}*`).join(' or ');
        throw new UsageError(`${file}: no ${spec.name} ${fs.role} tensors under ${where}; the checkpoint holds ${describeRoot(ck.root)}`);
      }
      const full = (k: string): string => `${sel.container.length ? sel.container.join('.') + '/' : ''}${sel.prefix}${k}`;
      for (const [k, t] of sel.tensors) {
        if (fs.headPrefix !== undefined && k.startsWith(fs.headPrefix)) {
          const part = k.slice(fs.headPrefix.length);
          if (part !== 'weight' && part !== 'bias') throw new UsageError(`${file}: unexpected head tensor "${full(k)}" (expected ${full(fs.headPrefix + 'weight')} and ${full(fs.headPrefix + 'bias')})`);
          head[part] = { t, where: file, key: full(k) };
        } else if (fs.trunk) {
          trunkTensors.set(k, src(t));
        } else {
          throw new UsageError(`${file}: unexpected tensor "${full(k)}" in the ${fs.role}`);
        }
      }
      if (fs.trunk) {
        trunkWhere = file;
        trunkSel = { keyMap: `${spec.name}:${fs.role}`, prefix: sel.prefix };
      }
      if (fs.headPrefix !== undefined) {
        for (const part of ['weight', 'bias'] as const) if (!head[part]) throw new UsageError(`${file}: missing head tensor "${full(fs.headPrefix + part)}" for ${spec.name}`);
      }
    }
    const prepOpts: Parameters<typeof prepareWeights>[2] = { where: trunkWhere, keyMap: trunkSel.keyMap, prefix: trunkSel.prefix };
    if (spec.patch !== undefined) prepOpts.patch = spec.patch;
    if (opts.archConfig) prepOpts.archConfig = opts.archConfig;
    const prepared = await prepareWeights(spec.arch, trunkTensors, prepOpts);
    const D = headDim(spec, prepared.family, prepared.config);
    const hw = head.weight!;
    const hb = head.bias!;
    const want = (h: { t: TensorRef; where: string; key: string }, shape: number[]): void => {
      if (h.t.shape.length !== shape.length || h.t.shape.some((d, j) => d !== shape[j])) {
        throw new UsageError(`${h.where}: tensor "${h.key}" has shape [${h.t.shape.join(',')}], expected [${shape.join(',')}] (${K} classes × ${D} features for ${spec.name})`);
      }
    };
    want(hw, [K, D]);
    want(hb, [K]);
    const readHead = async (h: { t: TensorRef; where: string; key: string }): Promise<Float32Array> => {
      try {
        return await readFloat32(h.t);
      } catch (e) {
        throw new UsageError(`${h.where}: cannot read tensor "${h.key}": ${(e as Error).message}`);
      }
    };
    const w = torchToTfLayout('head.weight', [K, D], await readHead(hw));
    const b = await readHead(hb);
    const shas: string[] = [];
    for (const f of files) shas.push(await sha256File(f));
    return {
      spec,
      family: prepared.family,
      config: prepared.config,
      trunk: prepared.weights,
      head: { weight: { shape: w.shape, data: w.data }, bias: { shape: [K], data: b } },
      sha256: shas.join('+'),
    };
  } finally {
    for (const c of opened) await c.close();
  }
}

const HEAD_W = 'classifier.head.weight';
const HEAD_B = 'classifier.head.bias';

/** What a converted classifier folder records besides a backbone's model.json fields. */
interface ClassifierJson {
  name: string;
  numClasses: number;
  sources: { file: string; sha256: string }[];
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Reads a converted classifier folder (from {@link convertClassifier}); K and the trunk config are the folder's. */
async function readConverted(dir: string, name: string | undefined, opts: LoadClassifierOptions): Promise<ClassifierWeights> {
  const { json, weights } = await readConvertedModel(dir);
  const cj = (json as ConvertedModelJson & { classifier?: ClassifierJson }).classifier;
  const file = path.join(dir, 'model.json');
  if (!cj || typeof cj.name !== 'string') throw new UsageError(`${file}: a converted backbone, not a classifier (no "classifier" section; convert with \`uol convert-classifier\`)`);
  if (name && cj.name !== name) throw new UsageError(`${file}: holds classifier "${cj.name}", not "${name}"`);
  const spec = classifierSpec(cj.name);
  const K = opts.numClasses ?? cj.numClasses;
  const hw = weights.get(HEAD_W);
  const hb = weights.get(HEAD_B);
  if (!hw || !hb) throw new UsageError(`${file}: missing ${!hw ? HEAD_W : HEAD_B}`);
  const D = headDim(spec, json.backbone.family, json.backbone.config);
  if (hw.shape.join() !== [D, K].join() || hb.shape.join() !== String(K)) throw new UsageError(`${file}: head is [${hw.shape.join(',')}] + [${hb.shape.join(',')}], expected [${D},${K}] + [${K}]`);
  const trunk = [...weights.values()].filter((w) => w !== hw && w !== hb);
  return { spec, family: json.backbone.family, config: json.backbone.config, trunk, head: { weight: hw, bias: hb }, sha256: json.weightsSha256 };
}

function build(w: ClassifierWeights, opts: LoadClassifierOptions): Classifier {
  const fam = FAMILIES[w.family];
  if (!fam) throw new UsageError(`${w.spec.name}: unknown architecture family "${w.family}"`);
  const map: WeightMap = new Map<string, WeightArray>(w.trunk.map((a) => [a.name, { shape: a.shape, data: a.data }]));
  const nativeBatchMatMul = !!engineInfo()?.native.kernels.includes('BatchMatMul');
  const contract = { ...fam.contract(w.config), mean: IMAGENET_MEAN, std: IMAGENET_STD, interpolation: 'bilinear' as const };
  const identity: ClassifierIdentity = { id: w.spec.name, arch: w.spec.arch, numClasses: w.head.bias.shape[0]!, classSpace: w.spec.classSpace, weightsSha256: w.sha256, input: contract };
  const buildOpts: Parameters<typeof fam.build>[4] = { downscale: 32, nativeBatchMatMul };
  if (opts.attention) buildOpts.attention = opts.attention;
  const trunk = fam.build(w.config, map, { id: `${w.spec.name}:trunk`, weightsSha256: w.sha256 }, w.spec.arch, buildOpts);
  if (w.spec.head.kind === 'dino-linear') {
    if (!(trunk instanceof VisionTransformer)) {
      trunk.dispose();
      throw new UsageError(`${w.spec.name}: the DINO linear head needs a ViT trunk`);
    }
    return new DinoLinearClassifier(identity, trunk, w.head, { nLastBlocks: w.spec.head.nLastBlocks });
  }
  return new ResNetClassifier(identity, trunk, w.head);
}

/**
 * Loads a classifier from its checkpoint file(s) (as the release loads them; `files` in the order of
 * {@link ClassifierSpec.files}) or from one converted folder.
 * @param name registry name (see {@link CLASSIFIERS}); checked against a converted folder's.
 * @throws UsageError naming the file and key for missing, unexpected or mis-shaped tensors.
 */
export async function loadClassifier(name: string, files: string | readonly string[], opts: LoadClassifierOptions = {}): Promise<Classifier> {
  const list = typeof files === 'string' ? [files] : [...files];
  if (!list.length) throw new UsageError(`${name}: no weight files given (--cls-weights)`);
  const spec = classifierSpec(name);
  const w = list.length === 1 && (isDir(list[0]!) || list[0]!.endsWith('model.json')) ? await readConverted(list[0]!.endsWith('model.json') ? path.dirname(list[0]!) : list[0]!, name, opts) : await readCheckpoints(spec, list, opts);
  return build(w, opts);
}

/** Result of {@link convertClassifier}. */
export interface ConvertClassifierResult {
  dir: string;
  tensors: number;
  bytes: number;
  weightsSha256: string;
}

/**
 * Converts a classifier's checkpoint file(s) into one folder (model.json + shards, the converted-backbone container with
 * a `classifier` section; the head stored as `classifier.head.weight` [D,K] and `.bias`), loadable by
 * {@link loadClassifier} without the checkpoints.
 * @throws UsageError naming the file and key at fault, or when `out` holds a model already (without `force`).
 */
export async function convertClassifier(name: string, files: readonly string[], out: string, opts: LoadClassifierOptions & { force?: boolean } = {}): Promise<ConvertClassifierResult> {
  const spec = classifierSpec(name);
  const outJson = path.join(out, 'model.json');
  if (existsSync(outJson) && !opts.force) throw new UsageError(`${outJson}: a converted model exists already (use --force to overwrite)`);
  const w = await readCheckpoints(spec, [...files], opts);
  const shas = w.sha256.split('+');
  const weights: NamedArray[] = [...w.trunk, { name: HEAD_W, ...w.head.weight }, { name: HEAD_B, ...w.head.bias }];
  const classifier: ClassifierJson = { name, numClasses: w.head.bias.shape[0]!, sources: files.map((f, i) => ({ file: path.basename(f), sha256: shas[i]! })) };
  const meta = {
    generatedBy: TOOL,
    backbone: { name, arch: spec.arch, family: w.family, config: w.config },
    provenance: {
      source: files.map((f) => path.basename(f)).join('+'),
      sourceSha256: w.sha256,
      sourceFormat: 'pth',
      arch: spec.arch,
      keyMap: `classifier:${name}`,
      keyMapVersion: 1,
      container: [],
      prefix: '',
      droppedHeads: [],
      sourceDtypes: {},
      convertedAt: new Date().toISOString(),
      convertedBy: TOOL,
    },
    classifier,
  };
  let json: ConvertedModelJson;
  try {
    json = await writeConvertedModel(out, meta, weights);
  } catch (e) {
    throw inFile(out, e);
  }
  return { dir: out, tensors: weights.length, bytes: weights.reduce((s, a) => s + a.data.byteLength, 0), weightsSha256: json.weightsSha256 };
}
