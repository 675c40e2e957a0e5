/**
 * `uol convert CHECKPOINT --arch ARCH [--patch P] [--key-map M | --prefix STR] [--out DIR]`: a PyTorch `.pth`
 * (zip or legacy) or `.safetensors` checkpoint → a TF.js backbone directory (model.json + ≤ 4 MB shards + provenance).
 */
import type { Argv, CommandModule } from 'yargs';
import * as path from 'node:path';
import { UsageError } from '../../util/errors.js';
import { ARCH_NAMES } from '../../backbones/arch-names.js';
import { modelsDir } from '../../backbones/paths.js';
import { KEY_MAPS } from '../../weights/keymaps.js';
import { emit, progressFor, type GlobalArgs } from '../context.js';

interface ConvertArgs extends GlobalArgs {
  checkpoint: string;
  arch: string;
  patch?: number;
  'key-map': string;
  prefix?: string;
  'arch-config'?: string;
  name?: string;
  out?: string;
  'models-dir'?: string;
  force: boolean;
}

/** Model name from a checkpoint file name: the base name without .pth/.pth.tar/.pt/.tar/.safetensors/.bin. */
export function checkpointStem(file: string): string {
  return path.basename(file).replace(/(\.pth\.tar|\.pth|\.pt|\.tar|\.safetensors|\.bin|\.ckpt)$/i, '');
}

export const convertCommand: CommandModule<GlobalArgs, ConvertArgs> = {
  command: 'convert <checkpoint>',
  describe: 'convert a PyTorch .pth (zip or legacy) or .safetensors checkpoint into a TF.js backbone',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint file' })
      .option('arch', { type: 'string', demandOption: true, choices: ARCH_NAMES as string[], describe: 'architecture' })
      .option('patch', { type: 'number', describe: 'ViT patch size (checked against the checkpoint)' })
      .option('key-map', { type: 'string', default: 'auto', choices: ['auto', ...KEY_MAPS.map((k) => k.name)], describe: 'where the backbone sits in the checkpoint' })
      .option('prefix', { type: 'string', describe: 'explicit key prefix of the backbone (overrides --key-map)' })
      .option('arch-config', { type: 'string', describe: 'JSON overrides of the architecture config (non-standard widths/depths)' })
      .option('name', { type: 'string', describe: 'model name (default: checkpoint file stem)' })
      .option('out', { type: 'string', describe: 'output directory (default: <models-dir>/<name>)' })
      .option('models-dir', { type: 'string', describe: 'converted models directory (default $UOL_MODELS_DIR or converted-models/)' })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite an existing converted model' }) as Argv<ConvertArgs>,
  handler: async (a) => {
    const { convertCheckpoint } = await import('../../backbones/convert.js');
    let archConfig: Record<string, unknown> | undefined;
    if (a['arch-config'] !== undefined) {
      try {
        archConfig = JSON.parse(a['arch-config']) as Record<string, unknown>;
      } catch (e) {
        throw new UsageError(`--arch-config: invalid JSON: ${(e as Error).message}`);
      }
      if (typeof archConfig !== 'object' || archConfig === null || Array.isArray(archConfig)) throw new UsageError('--arch-config: expected a JSON object');
    }
    const name = a.name ?? checkpointStem(a.checkpoint);
    const out = a.out ?? path.join(modelsDir(a['models-dir']), name);
    const prog = progressFor(a);
    try {
      const o: Parameters<typeof convertCheckpoint>[0] = { checkpoint: a.checkpoint, arch: a.arch, keyMap: a['key-map'], out, name, force: a.force, onProgress: prog.callback };
      if (a.patch !== undefined) o.patch = a.patch;
      if (a.prefix !== undefined) o.prefix = a.prefix;
      if (archConfig) o.archConfig = archConfig;
      const r = await convertCheckpoint(o);
      const p = r.json.provenance;
      emit(
        a,
        { out, name, arch: a.arch, tensors: r.tensors, bytes: r.bytes, shards: r.json.weightsManifest[0]!.paths.length, weightsSha256: r.json.weightsSha256, provenance: p },
        [
          `converted ${a.checkpoint} → ${out}`,
          `  ${a.arch}: ${r.tensors} tensors, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.json.weightsManifest[0]!.paths.length} shard(s)`,
          `  key map ${p.keyMap} (v${p.keyMapVersion})${p.prefix ? `, prefix "${p.prefix}"` : ''}${p.container.length ? `, from ${p.container.join('.')}` : ''}${p.droppedHeads.length ? `, dropped ${p.droppedHeads.length} head tensor(s)` : ''}`,
          `  source sha256 ${p.sourceSha256}`,
          `use it with: --backbone ${out}`,
        ],
      );
    } finally {
      prog.stop();
    }
  },
};
