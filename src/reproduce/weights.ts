/**
 * The release's `--loc_network` names → the checkpoint files main.py loads (in a weights folder W) → a converted uol
 * backbone (cached under a models folder). One function, {@link resolveReleaseBackbone}, so the table can be swapped
 * for `uol convert --release NAME`'s layouts when those land.
 */
import * as path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { UsageError } from '../util/errors.js';
import { sha256File } from '../util/fs.js';
import type { ProgressCallback } from '../util/progress.js';
import { convertCheckpoint } from '../backbones/convert.js';

/** How a release network's checkpoint converts. */
export interface ReleaseCheckpoint {
  /** File names main.py loads, first found in W wins (alternatives: the same weights under another name). */
  files: string[];
  /** uol architecture preset. */
  arch: 'resnet50' | 'vit_small' | 'vgg16_bn';
  /** Key map (src/weights/keymaps.ts) or explicit prefix. */
  keyMap?: string;
  prefix?: string;
  patch?: number;
  /** Where to download it (docs/reproduce.md). */
  from: string;
}

/** The table: release network → checkpoint (main.py:112-209). */
export const RELEASE_CHECKPOINTS: Readonly<Record<string, ReleaseCheckpoint>> = Object.freeze({
  mocov1: { files: ['moco_v1_200ep_pretrain.pth.tar'], arch: 'resnet50', keyMap: 'moco', from: 'https://dl.fbaipublicfiles.com/moco/moco_checkpoints/moco_v1_200ep/moco_v1_200ep_pretrain.pth.tar' },
  mocov2: { files: ['moco_r50_v2-e3b0c442.pth'], arch: 'resnet50', keyMap: 'densecl', from: "OpenSelfSup's model zoo (Google Drive; see WXinlong/DenseCL docs/MODEL_ZOO.md)" },
  detco: { files: ['detco_200ep.pth'], arch: 'resnet50', keyMap: 'densecl', from: 'DetCo model zoo (xieenze/DetCo)' },
  detcoAA: { files: ['detco_200ep_AA.pth'], arch: 'resnet50', keyMap: 'densecl', from: 'DetCo model zoo (xieenze/DetCo)' },
  dinor50: { files: ['dino_resnet50_pretrain.pth'], arch: 'resnet50', keyMap: 'dino', from: 'https://dl.fbaipublicfiles.com/dino/dino_resnet50_pretrain/dino_resnet50_pretrain.pth' },
  dinovit: { files: ['dino_deitsmall8_pretrain.pth'], arch: 'vit_small', keyMap: 'dino', patch: 8, from: 'https://dl.fbaipublicfiles.com/dino/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth (what torch.hub dino_vits8 loads)' },
  densecl: { files: ['densecl_r50_imagenet_200ep.pth'], arch: 'resnet50', keyMap: 'densecl', from: 'DenseCL README (WXinlong/DenseCL; now on huggingface)' },
  byol: { files: ['byol.pth.tar'], arch: 'resnet50', keyMap: 'byol', from: "the authors' Google Drive folder (README)" },
  superr50: { files: ['resnet50-19c8e357.pth', 'resnet50-0676ba61.pth'], arch: 'resnet50', keyMap: 'torchvision', from: 'https://download.pytorch.org/models/resnet50-19c8e357.pth' },
  vgg: { files: ['vgg16_bn-6c64b313.pth', 'vgg16_bn_features.pth'], arch: 'vgg16_bn', keyMap: 'torchvision', from: 'https://download.pytorch.org/models/vgg16_bn-6c64b313.pth' },
  simsiam: { files: ['simsiam256.pth.tar', 'checkpoint_0099.pth.tar'], arch: 'resnet50', keyMap: 'simsiam', from: 'SimSiam README (batch 256 model; facebookresearch/simsiam)' },
  supcon: { files: ['supcon.pth'], arch: 'resnet50', prefix: 'module.encoder.', from: "the authors' Google Drive folder (README)" },
});

/** Options of {@link resolveReleaseBackbone}. */
export interface ResolveReleaseBackboneOptions {
  /** The release's `--loc_network`. */
  network: string;
  /** Folder holding the checkpoint files main.py loads. */
  weightsDir: string;
  /** Folder for converted models (one sub-folder per network and checkpoint content). */
  modelsDir: string;
  onProgress?: ProgressCallback;
}

/**
 * Converts W/<file> of a release network (once; reused while the file's sha256 is unchanged) and returns the converted
 * model directory (load it with `loadBackbone(dir, { downscale })`).
 * @throws UsageError for a network without a known layout or a missing file (naming the files looked for).
 */
export async function resolveReleaseBackbone(o: ResolveReleaseBackboneOptions): Promise<string> {
  const c = RELEASE_CHECKPOINTS[o.network];
  if (!c) throw new UsageError(`--loc_network ${o.network}: no checkpoint layout known to uol reproduce yet (known: ${Object.keys(RELEASE_CHECKPOINTS).join(', ')}); convert it with \`uol convert\` and run \`uol evaluate\`/\`uol fit\` directly`);
  const file = c.files.map((f) => path.join(o.weightsDir, f)).find((f) => existsSync(f));
  if (!file) throw new UsageError(`${o.weightsDir}: none of ${c.files.join(', ')} found (the checkpoint main.py loads for --loc_network ${o.network}; from ${c.from})`);
  const sha = await sha256File(file);
  const dir = path.join(o.modelsDir, `release-${o.network}-${sha.slice(0, 12)}`);
  const mj = path.join(dir, 'model.json');
  if (existsSync(mj)) {
    try {
      const j = JSON.parse(readFileSync(mj, 'utf8')) as { provenance?: { sourceSha256?: string } };
      if (j.provenance?.sourceSha256 === sha) return dir;
    } catch {
      /* reconvert below */
    }
  }
  const co: Parameters<typeof convertCheckpoint>[0] = { checkpoint: file, arch: c.arch, out: dir, name: `release-${o.network}`, force: true, source: { registryName: `release:${o.network}` } };
  if (c.keyMap) co.keyMap = c.keyMap;
  if (c.prefix) co.prefix = c.prefix;
  if (c.patch) co.patch = c.patch;
  if (o.onProgress) co.onProgress = o.onProgress;
  await convertCheckpoint(co);
  return dir;
}
